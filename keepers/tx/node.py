"""Thin JSON-RPC client over web3.py's HTTP provider (no ape at runtime)."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import threading
import time
from typing import Any

import requests
import urllib3
from hexbytes import HexBytes
from requests.structures import CaseInsensitiveDict
from urllib3.util import wait_for_read
from web3 import HTTPProvider, Web3
from web3._utils.caching import generate_cache_key
from web3._utils.http_session_manager import HTTPSessionManager
from web3.types import RPCEndpoint

from keepers.tx.errors import ExecutionReverted, NodeError, classify


def shown_url(url: str) -> str:
    """``url`` as an error message may show it: scheme, host and port only (no credentials,
    path or query, where providers put API keys)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def unreachable(url: str, err: BaseException) -> str:
    """One line for a node that does not answer, naming the variable and the shown URL."""
    return f"KEEPER_RPC_URL={shown_url(url)}: node unreachable ({type(err).__name__})"


class BatchHTTPProvider(HTTPProvider):
    """web3's HTTP provider with a batch encoded in one ``json.dumps``: web3 encodes each
    request of a batch with its own encoder call (3.8 ms against 1.0 ms for the 600 calls of
    a 300-intent Build). The requests are the same JSON-RPC objects, ids from the provider's
    counter; a parameter plain JSON cannot encode (bytes, HexBytes) goes through web3's
    encoder as before."""

    def encode_batch_rpc_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> bytes:
        body = [
            {"jsonrpc": "2.0", "method": m, "params": p or [], "id": next(self.request_counter)}
            for m, p in requests
        ]
        try:
            return json.dumps(body).encode()
        except TypeError:
            return super().encode_batch_rpc_request(requests)


def environment_applies(url: str) -> bool:
    """Whether the environment configures how requests reaches ``url`` beyond the CA bundle:
    a proxy for it (HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, minus NO_PROXY) or credentials for
    its host in ~/.netrc. Asked once, when the client is made."""
    if requests.utils.get_environ_proxies(url):
        return True
    try:
        return requests.utils.get_netrc_auth(url) is not None
    except Exception:  # noqa: BLE001 - an unreadable .netrc: leave it to requests
        return True


class _Kept:
    """One thread's kept-alive ``http.client`` connection to a node, closed when the thread's
    locals go (the thread ended) or the node closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port)

    def open(self, timeout: float) -> http.client.HTTPConnection:
        """The connection, ready for a request with ``timeout``: a kept socket the node closed
        (or wrote to unasked) reads as ready and is dropped, as urllib3 drops a pooled one;
        a new one is connected here, so that its failure is told from a request's."""
        conn, sock = self.conn, self.conn.sock
        if sock is not None:
            if wait_for_read(sock, timeout=0.0):  # urllib3's own check of a pooled connection
                conn.close()
            else:
                sock.settimeout(timeout)
        if conn.sock is None:
            conn.timeout = timeout
            try:
                conn.connect()
            except TimeoutError as err:
                raise requests.exceptions.ConnectTimeout(err) from err
            except OSError as err:
                raise requests.exceptions.ConnectionError(err) from err
        return conn

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit: the socket goes anyway
            self.conn.close()


def plain_http(url: str) -> tuple[str, int, str] | None:
    """(host, port, request target) of a plain ``http://`` URL without credentials in it: the
    URLs ``_Sessions`` posts to over ``http.client``; None for any other."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
        return None
    try:
        port = parts.port or 80
    except ValueError:  # not a port: requests says so at the first request, as before
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, target


class _Sessions(HTTPSessionManager):
    """web3's sessions (one per thread, each keeping its connections alive), made with
    requests' environment lookup (``trust_env``) off when the environment configures nothing
    for the node's URL: requests otherwise reads the proxy variables and ~/.netrc again on
    every request (``merge_environment_settings``, about 0.6 ms of CPU a call). With a proxy
    or .netrc credentials for the URL, sessions are web3's own (they follow the
    environment, as before). Without them the CA bundle the environment names
    (REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE) is set on the session once, as requests would
    take it on each request.

    And with nothing in the environment for a plain ``http://`` node (no credentials in its
    URL: a node on the keeper's host or network), a post is one ``http.client`` request on a
    connection kept per thread, answered as the ``requests.Response`` requests would give (its
    body read through urllib3's response, as requests reads one): ``Node.request`` 0.46 ->
    0.22 ms of CPU on anvil (3,000 ``eth_blockNumber``). Failures are requests' exceptions,
    told apart as requests tells them (tests/offchain/pipeline/test_node_plain_http.py puts
    both paths through the same answers and failures): a refused or failed connect ``ConnectionError`` (a timed out one
    ``ConnectTimeout``), a connection lost or timed out before the answer's head
    ``ConnectionError`` / ``ReadTimeout``, one lost in its body ``ChunkedEncodingError`` (timed
    out: ``ConnectionError``), an error status ``HTTPError`` from the same
    ``raise_for_status``. A redirect, a streamed or a non-bytes post, a (connect, read) pair of
    timeouts, an ``https://`` node and every node the environment configures go through
    requests."""

    def __init__(self, trust_env: bool, endpoint: str = "") -> None:
        super().__init__()
        self.trust_env = trust_env
        self.endpoint = endpoint
        self._plain = None if trust_env else plain_http(endpoint)
        self._shown = ""  # the URL as requests names it in an error ("http://host:port/")
        if self._plain is not None:
            try:
                self._shown = str(requests.Request("POST", endpoint).prepare().url)
            except requests.exceptions.RequestException:  # requests refuses it at each request
                self._plain = None
        self._kept = threading.local()

    def cache_and_return_session(
        self, endpoint_uri: Any, session: Any = None, request_timeout: float | None = None
    ) -> requests.Session:
        if session is None and not self.trust_env:
            key = generate_cache_key(f"{threading.get_ident()}:{endpoint_uri}")
            if self.session_cache.get_cache_entry(key) is None:  # this thread's first call
                session = requests.Session()
                session.trust_env = False
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if bundle:
                    session.verify = bundle
        return super().cache_and_return_session(endpoint_uri, session, request_timeout)

    def get_response_from_post_request(
        self, endpoint_uri: Any, *args: Any, **kwargs: Any
    ) -> requests.Response:
        data, timeout = kwargs.get("data"), kwargs.get("timeout")
        if (
            self._plain is None
            or args
            or str(endpoint_uri) != self.endpoint
            or not isinstance(data, (bytes, bytearray))
            or not isinstance(timeout, (int, float))  # a (connect, read) pair or none: requests
            or kwargs.get("stream")
            or set(kwargs) - {"data", "headers", "timeout", "stream"}
        ):
            return super().get_response_from_post_request(endpoint_uri, *args, **kwargs)
        answer = self._post(bytes(data), kwargs.get("headers") or {}, float(timeout))
        if answer.is_redirect:  # requests follows it (and says where to)
            return super().get_response_from_post_request(endpoint_uri, **kwargs)
        return answer

    def _post(self, body: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
        host, port, target = self._plain  # type: ignore[misc]
        kept = getattr(self._kept, "conn", None)
        if kept is None:
            kept = self._kept.conn = _Kept(host, port)
        conn = kept.open(timeout)
        try:
            conn.request("POST", target, body=body, headers=headers)
            head = conn.getresponse()
        except TimeoutError as err:
            conn.close()
            raise requests.exceptions.ReadTimeout(err) from err
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise requests.exceptions.ConnectionError(err) from err
        try:
            content = head.read()
        except TimeoutError as err:
            conn.close()
            raise requests.exceptions.ConnectionError(err) from err
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise requests.exceptions.ChunkedEncodingError(err) from err
        answer = requests.Response()
        answer.status_code, answer.reason, answer.url = head.status, head.reason, self._shown
        # the body and headers as requests reads them: through urllib3's response, which
        # undoes the content encodings it knows (its errors become requests' ContentDecodingError)
        # and joins a field sent twice ("a, b"), as requests' build_response takes them
        answer.raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers=urllib3.HTTPHeaderDict(head.getheaders()),
            status=head.status,
            preload_content=False,
        )
        answer.headers = CaseInsensitiveDict(answer.raw.headers)
        answer.content  # noqa: B018 - read now, as requests reads a body not streamed
        return answer


def connect_web3(url: str, timeout_s: float) -> Web3:
    """The runtime's one way to a node's web3 client. web3's validation middleware asks the
    node ``eth_chainId`` before and after every ``eth_call``, ``eth_estimateGas`` and
    ``eth_sendTransaction``: three round trips (and three requests of a paid plan's quota) for
    one call. A node's chain id does not change, so its one answer is kept (web3's request
    cache, for ``eth_chainId`` only; no other answer is cached). The keepers check the chain id
    against their configuration when they start. Its sessions skip requests' per-request
    environment lookup unless the environment configures a proxy (or .netrc credentials) for
    ``url``, and then a plain ``http://`` node's posts go over ``http.client`` (``_Sessions``)."""
    provider = BatchHTTPProvider(
        url,
        request_kwargs={"timeout": timeout_s},
        cache_allowed_requests=True,
        cacheable_requests={RPCEndpoint("eth_chainId")},
        request_cache_validation_threshold=None,
    )
    provider._request_session_manager = _Sessions(environment_applies(url), url)
    return Web3(provider)


def _hex(x: int) -> str:
    return hex(int(x))


class Node:
    """The calls the pipeline needs, with node errors mapped to typed exceptions."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.w3 = connect_web3(url, timeout_s)
        self._fee_history: tuple[float, dict[str, Any]] | None = None
        self._chain_id: int | None = None

    # --- plumbing -------------------------------------------------------------------------

    def request(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp and resp["error"] is not None:
            raise classify(dict(resp["error"]))  # type: ignore[arg-type]
        return resp.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """One HTTP round trip for many calls; each item is its result or its typed error."""
        if not calls:
            return []
        resp = self.w3.provider.make_batch_request(calls)  # type: ignore[attr-defined]
        if not isinstance(resp, list):  # the whole batch was refused
            raise classify(dict(resp.get("error") or {"message": str(resp)}))
        out: list[Any] = []
        for item in resp:
            err = item.get("error")
            out.append(classify(dict(err)) if err else item.get("result"))
        return out

    # --- reads ----------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId", []), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def tx_count(self, account: str, block: str = "latest") -> int:
        return int(self.request("eth_getTransactionCount", [account, block]), 16)

    def fee_history(self, blocks: int, max_age_s: float = 1.0) -> dict[str, Any]:
        """eth_feeHistory(blocks, latest, [50]), cached for ``max_age_s`` (one per batch)."""
        now = time.monotonic()
        if self._fee_history is None or now - self._fee_history[0] > max_age_s:
            result = self.request("eth_feeHistory", [_hex(blocks), "latest", [50]])
            self._fee_history = (now, result)
        return self._fee_history[1]

    def call(self, tx: dict[str, Any], block: str = "pending") -> bytes:
        """eth_call; raises ExecutionReverted with the revert data on a revert."""
        result = self.request("eth_call", [rpc_tx(tx), block])
        return bytes(HexBytes(result or "0x"))

    def estimate_gas(self, tx: dict[str, Any], block: str = "pending") -> int:
        return int(self.request("eth_estimateGas", [rpc_tx(tx), block]), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.request("eth_getTransactionReceipt", [tx_hash])  # type: ignore[no-any-return]

    def block_hash(self, number: int) -> str | None:
        block = self.request("eth_getBlockByNumber", [_hex(number), False])
        return None if block is None else str(block["hash"])

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return self.request("eth_getTransactionByHash", [tx_hash])  # type: ignore[no-any-return]

    # --- writes ---------------------------------------------------------------------------

    def send_raw(self, raw: bytes | str) -> str:
        return str(self.request("eth_sendRawTransaction", [HexBytes(raw).to_0x_hex()]))


def rpc_tx(tx: dict[str, Any]) -> dict[str, Any]:
    """A transaction dict as the node's JSON-RPC takes it (eth_call, eth_estimateGas): from,
    to, and data, value and gas when given, in hex."""
    out: dict[str, Any] = {"from": tx["from"], "to": tx["to"]}
    data = tx.get("data")
    if data:
        out["data"] = data if isinstance(data, str) else HexBytes(data).to_0x_hex()
    if tx.get("value"):
        out["value"] = _hex(tx["value"])
    if tx.get("gas"):
        out["gas"] = _hex(tx["gas"])
    return out


def revert_data(err: NodeError) -> str | None:
    """The revert data carried by an eth_call error, whatever shape the node gives it."""
    data = err.data
    if isinstance(data, dict):
        data = data.get("data") or data.get("result")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    return None


__all__ = ["ExecutionReverted", "Node", "NodeError", "revert_data", "rpc_tx"]
