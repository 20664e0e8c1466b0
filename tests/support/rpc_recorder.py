"""Records the JSON-RPC methods a keeper sends through a web3 provider: each single request as
a one-item list, each batch as the list of its methods, in order."""

from __future__ import annotations

from typing import Any


class RpcRecorder:
    def __init__(self, provider: Any) -> None:
        self.sent: list[list[str]] = []
        self._provider = provider
        self._single = provider.make_request
        self._batch = provider.make_batch_request

        def single(method: Any, params: Any) -> Any:
            self.sent.append([str(method)])
            return self._single(method, params)

        def batch(requests: Any) -> Any:
            self.sent.append([str(m) for m, _ in requests])
            return self._batch(requests)

        provider.make_request = single
        provider.make_batch_request = batch

    def batches_with(self, method: str) -> list[list[str]]:
        return [b for b in self.sent if method in b]

    def count(self, method: str) -> int:
        return sum(b.count(method) for b in self.sent)

    def close(self) -> None:
        self._provider.make_request = self._single
        self._provider.make_batch_request = self._batch
