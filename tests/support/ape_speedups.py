"""pytest plugin (tests/conftest.py's ``pytest_plugins``): per-transaction costs of the test
process that repeat unchanged thousands of times a run, removed for the suite only. Each is
found by profiling the whole suite (py-spy over both xdist workers) and each keeps what a test
can observe.

- ``FoundryProvider.settings`` re-validates the provider's whole pydantic-settings model on
  every access (``ProviderAPI.settings``: ``model_validate`` of the config merged with
  ``provider_settings``, which reads the environment again); ape-foundry reads it about six
  times per transaction (request timeout, gas price, optimism check, ...). Here the validated
  model is kept per provider and reused while ``provider_settings`` and the config object are
  the same ones (a changed ``provider_settings`` builds it anew).
- ``requests`` looks for proxy variables in the whole environment on every JSON-RPC request
  (``Session.merge_environment_settings`` -> ``getproxies_environment``): the suite only talks
  to nodes on loopback, so the test process's web3 sessions do not read the environment.
- web3 polls for a receipt every 100 ms when anvil answers a send before mining it: 5 ms here.
- After every transaction to a contract, ape fetches the transaction's trace from anvil
  (``trace_transaction``, decoded in the test process) to print what the contracts wrote with
  ``console.log`` (``_post_send_transaction`` -> ``show_debug_logs``), and first asks the node
  for the receiver's code. No contract of this repository uses ``console.log`` (checked here
  at start-up: where one does, this skip is not applied), so both requests are skipped; the
  "Confirmed <hash>" log line stays.
- ape-foundry asks anvil ``anvil_getAutomine`` on every transaction (and more): the answer is
  kept per provider and dropped whenever the mining mode is set, through ape or a raw request.
- After the receipt, ape asks the node for the sender's nonce until it has moved past the
  transaction's (``ReceiptAPI._await_sender_nonce_increment``, for nodes whose pending nonce
  lags a receipt). A receipt with a block number was mined, so its nonce is spent: the wait is
  skipped for mined receipts only.
- web3's validation middleware asks the node ``eth_chainId`` twice per request (before and
  after): ape's web3 provider keeps that one answer (a provider never changes chains).
- Every contract call and transaction first asks the node for the contract's code
  (``ContractMethodHandler._validate_is_contract``, to refuse an address without code). An
  address found to hold code is remembered until the chain's state is rolled back or code is
  set (``evm_revert``, which ape's isolation sends after every test, ``anvil_reset``,
  ``anvil_setCode``): within a test, code does not disappear (SELFDESTRUCT removes it only in
  the transaction that created it). An address without code is asked again every time.

- When a transaction reverts with a custom error the receiving contract's ABI lacks (one a
  contract it called raised: a token's, an adapter's), ape looks for the last contract the
  transaction called: it builds a pydantic ``TraceFrame`` of every step of the struct-log
  trace, memory included, then takes the last one with an address
  (``Trace.get_addresses_used(reverse=True)``). A 7,349-step revert in
  ``tests/contracts/fund/test_controller.py`` spent 13.8 s of its test's 15.6 s there. Here the
  raw steps are read from the end and a ``TraceFrame`` is built only for CALL-family steps
  (the only steps with an address when the trace has no CREATE; a trace with a CREATE or
  CREATE2 step, whose address comes from a look-ahead, takes ape's own path): the same
  addresses, in the same order.
- ``Ethereum.default_transaction_type``, read about twice per transaction, asks the ethereum
  config for a key it does not hold at the top level, and ape answers that miss by building a
  ``NetworkConfig`` (pydantic-settings: the whole environment read again), about 4.7 ms each:
  8.2 s of ``tests/contracts/fund/test_redeem_in_kind.py``'s CPU. The answer is kept per
  ecosystem while the connected network's name, the default network's name and the config
  object are the same ones (a changed config object or network computes it anew).

- Every transaction and every contract call is built with ``gas_limit: max`` on the local
  network (ape's default there), and ``TransactionAPI.validate_gas_limit`` answers "max" by
  asking the node for its latest block (``Web3Provider.max_gas``: ``eth_getBlockByNumber``,
  decoded, for its ``gasLimit``): 43 CPU-s of a whole run's profile. anvil's block gas limit is
  a setting of the node (``--gas-limit``, 30M from ape-config.yaml), the same in every block
  while nobody sets it: the answer is kept per provider, and a provider that has been sent a
  request that can change it (``evm_setBlockGasLimit``, ``anvil_setBlockGasLimit``, a reset,
  a loaded state) asks the node every time, as ape does, until it connects again.

- ``NetworkAPI.config`` validates the network's section of the config anew on every read
  (``PluginConfig.model_validate``: pydantic-settings, the environment read again), and ape
  reads it for ``required_confirmations``, ``transaction_acceptance_timeout`` and
  ``base_fee_multiplier`` on every transaction (7.4 CPU-s of a whole run). The validated
  section is kept per network while the ecosystem's config object and the section's content
  are the same ones.

- ape-foundry starts anvil with ``--steps-tracing``: anvil then records every EVM step of every
  transaction it mines (stack and memory), which cost about a quarter of the CPU of a
  contract test file (tests/contracts/fund/test_controller.py and test_pricing.py: 16.2 s of
  user CPU, 11.8-13.1 s without) and kept every step in memory (the traces were most of a
  worker's anvil memory). Nothing in the suite reads a step but ape's lookup of the last
  contract a reverted transaction called (to decode a custom error the receiving contract's
  ABI lacks, above); without steps, that lookup reads the transaction's call tree
  (``debug_traceTransaction`` with ``callTracer``, which anvil records without steps): the
  calls in the order they began, last first, the same addresses the steps' CALL-family and
  CREATE-family frames give (tests/contracts/fund/test_revert_error_lookup.py compares both
  on a real revert of over 1,000 steps replayed on an anvil with steps). ``BALLAST_STEPS_TRACING=1``
  keeps the steps (to read a struct-log trace while debugging a test).

- Python's full garbage collections scan the whole heap of the test process (ape, web3,
  pydantic models, the collected suite: several hundred thousand objects alive for the whole
  run): 15 of them took 3.0 s of CPU over four test files (test_pricing, test_fees,
  test_fundbot_failures, test_pipeline_rows). The heap is frozen (``gc.freeze()``, as the
  keepers' long-lived processes do: keepers/core/gc_tuning.py) once the suite is collected
  and again when each test file starts, the previous one torn down, each time after a
  collection, so a file's cyclic garbage is still freed: 1.1 s. An object that outlives its
  file (ape's caches, a session fixture) is no longer scanned for cycles.

- Every JSON-RPC request of ape's own node connection went through ``requests`` (a session's
  settings merged, a ``PreparedRequest`` built, urllib3's pool and retry objects): about
  0.8 ms of the test process's CPU a request on top of http.client's 0.15 ms (2,000
  ``eth_blockNumber`` both ways on one anvil), and a contract test makes about eight requests
  a transaction (tests/contracts/fund/test_fees.py: 6,268 for 780). On a node on loopback
  (ape's anvil), ape's web3 provider posts over a kept-alive connection per thread instead,
  written and read on the socket as ``http.client`` writes and reads it but without its header
  parsing through the ``email`` package (``RawHttpConnection``: 0.11 -> 0.045 ms of CPU a
  request, and test_fees.py with test_controller.py 9.9 -> 9.4 s of CPU, both sides alternated
  twice): the same request bytes and headers, the same response bytes; an HTTP
  error status raises ``requests``' ``HTTPError`` and a refused, dropped or timed-out
  connection ``requests``' ``ConnectionError`` / ``ReadTimeout``, as before; a connection the
  node closed is opened again before it is used (urllib3's check). Only ape's connection: the
  keepers' own web3 clients under test keep their transport
  (tests/offchain/test_ape_speedups_loopback.py compares both paths).

- ape sends a transaction with ``eth_sendRawTransaction`` and then polls
  ``eth_getTransactionReceipt`` until it is mined: anvil answers the send before its automine
  task has mined the block about one time in seven (117 of test_fees.py's 852), and each waited a poll
  interval (5 ms here, above) and asked again. Where ape waits for the receipt next (its
  provider in automine mode, the test ``send_transaction`` itself makes) the send goes as
  ``eth_sendRawTransactionSync`` (EIP-7966, which anvil answers once the block is mined, with
  the receipt), and ape's receipt request for that hash is answered with that receipt, the
  node's own for the hash, without asking again. A send the node refuses gets the same error
  as before (anvil checks both alike); a kept receipt is dropped when the chain may be rolled
  back (``evm_revert``, a reset or a loaded state); a send not mined within anvil's wait (30 s:
  another connection stopped automine) is answered with its hash, as a plain send is, and ape
  asks for the receipt as before. A token mint on the suite's anvil: 18.5 -> 14.3 ms of wall
  time, 11.4 -> 9.4 ms of the test process's CPU (medians of eight alternated rounds).

- ape's local signer (``ape_accounts``' ``sign_transaction_dict``) computes the signed
  transaction's bytes and ape drops them; ``serialize_transaction`` then encodes the same
  fields again and recovers the signer from them to compare with the sender (about 1 ms of
  CPU a transaction). The signer's bytes are kept (the last 64) and returned where the sender
  is the signing key's address and no field changed since the signing (a transaction to the
  zero address, which ape sends as a creation, or with an access list or authorizations,
  takes ape's path).

- eth_utils' ``to_checksum_address`` is kept per exact ``str`` or ``bytes`` value (a pure
  function of it): ``is_checksum_address`` computes it for every address ape converts, about
  14 a transaction (a token mint 8.6 -> 8.0 ms of CPU, a call 1.16 -> 0.95 ms).

- ape's proxy check on every ``account.deploy`` (``Ethereum.get_proxy_info``) strips the push
  data off the new contract's code in a Python loop indexing a ``HexBytes`` (``strip_push_data``):
  5.5% of tests/contracts/fund's samples were that check, 64% of it this loop. Its answer is
  kept per code (a fixture deploys the same contracts at the same addresses after every
  revert) and computed over plain ``bytes``: a pure function of the bytes
  (tests/offchain/test_ape_speedups_kept.py compares it with ape's for any bytes).

- ape's isolation reverts the chain after every test (and module) and then trims its receipt
  history to ``chain.blocks.height``, which fetches the latest block and decodes it into ape's
  ``Block`` model for its number: about 60% of a trivial test's framework CPU (1.85 ms a test,
  py-spy over 3,000 empty tests). The height is the node's ``eth_blockNumber`` here (the
  latest block's number by the JSON-RPC spec), asked of the connected web3 provider; with no
  such provider ape's own reading runs (tests/offchain/test_ape_speedups_kept.py compares
  both through mining and a revert).

- ape's test accounts are derived from the test mnemonic again each time one is asked for
  (``TestAccountContainer.generate_account``: ``generate_dev_accounts``, PBKDF2 over the
  mnemonic, 2,048 rounds), and ``accounts[address]`` for an address that is not one of them
  (an impersonated contract: the fund's timelock as a sender) derives all 14 first: 26 ms of
  CPU a lookup. The derived pairs are kept per (mnemonic, count, path, first index): a pure
  function of them (an immutable ``(address, private_key)`` pair each; a new list is returned
  each time).

- ape decodes every struct a call returns (the lens's fund state, a redemption, a tier's
  config) into a dataclass it builds anew each time (``create_struct``: ``make_dataclass``,
  which writes and compiles the class's methods): 8% of tests/contracts/fund/
  test_exit_horizon.py's samples. The class is kept per (struct name, field names), which is
  all it depends on but for ``__reduce__``: that answers the instance's own decoding (the name,
  the types and the values it was made from, kept by the instance's id until it is freed), as
  ape's closure does. Two structs of one type now share their class; nothing else a caller can
  read changes (tests/offchain/test_ape_speedups_kept.py compares every view, comparison,
  copy and pickle of both, fields named like ape's methods included).

``BALLAST_APE_SPEEDUPS=0`` turns all of them off.
"""

from __future__ import annotations

import functools
import gc
import http.client
import json
import os
import select
import socket
import threading
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ape.utils.abi as ape_abi
import ape_accounts.accounts as ape_accounts_module
import ape_ethereum.ecosystem as ape_eth_ecosystem
import ape_ethereum.provider as ape_eth_provider
import ape_test.accounts as ape_test_accounts
import eth_utils.address as eth_utils_address
import pytest
import requests
from ape.api.networks import NetworkAPI
from ape.api.transactions import ReceiptAPI
from ape.contracts.base import ContractMethodHandler
from ape.logging import logger
from ape.managers.chain import BlockContainer
from ape.utils.misc import ZERO_ADDRESS
from ape_ethereum.ecosystem import Ethereum
from ape_ethereum.provider import Web3Provider
from ape_ethereum.trace import Trace, TransactionTrace
from ape_ethereum.transactions import BaseTransaction
from ape_foundry.provider import FoundryProvider
from eth_utils import keccak, to_hex
from evm_trace.enums import CALL_OPCODES, CallType
from evm_trace.geth import TraceFrame
from web3._utils.http_session_manager import HTTPSessionManager
from web3.eth import Eth

# anvil answers eth_sendRawTransaction before its automine task has mined the block now and
# then (about one transaction in seven on a loaded machine), and web3 then polls for the
# receipt every 100 ms: most of that wait is the poll interval, not the node
RECEIPT_POLL_S = 0.005

_settings_cache: dict[int, tuple[Any, str, Any]] = {}


def _cached_settings(original: Any) -> Any:
    def settings(self: Any) -> Any:
        key = json.dumps(self.provider_settings, sort_keys=True, default=repr)
        hit = _settings_cache.get(id(self))
        if hit is not None and hit[0] is self.config and hit[1] == key:
            return hit[2]
        value = original.fget(self)
        _settings_cache[id(self)] = (self.config, key, value)
        return value

    settings.__wrapped__ = original  # type: ignore[attr-defined]
    return property(settings)


def _session_without_env(original: Any) -> Any:
    def cache_and_return_session(self: Any, *args: Any, **kwargs: Any) -> Any:
        session = original(self, *args, **kwargs)
        session.trust_env = False
        return session

    cache_and_return_session.__wrapped__ = original  # type: ignore[attr-defined]
    return cache_and_return_session


def _faster_receipt_poll(original: Any) -> Any:
    def wait_for_transaction_receipt(
        self: Any, transaction_hash: Any, timeout: float = 120, poll_latency: float = 0.1
    ) -> Any:
        return original(self, transaction_hash, timeout, min(poll_latency, RECEIPT_POLL_S))

    wait_for_transaction_receipt.__wrapped__ = original  # type: ignore[attr-defined]
    return wait_for_transaction_receipt


def _confirmed_log_only(tx: Any, receipt: Any) -> None:
    """``_post_send_transaction`` without the ``console.log`` output (none exists here)."""
    logger.info(f"Confirmed {receipt.txn_hash} (total fees paid = {receipt.total_fees_paid})")


_confirmed_log_only.__wrapped__ = ape_eth_provider._post_send_transaction  # type: ignore[attr-defined]

_AUTOMINE_SETTERS = {
    "anvil_setAutomine",
    "evm_setAutomine",
    "evm_setIntervalMining",
    "anvil_setIntervalMining",
}
# requests after which an address's code may differ from what was seen
_CODE_CHANGERS = {"evm_revert", "anvil_reset", "anvil_setCode", "hardhat_reset", "hardhat_setCode"}
_has_code: set[tuple[int, str]] = set()  # (provider, address) seen holding code


# requests after which the node's block gas limit may differ from block to block: a provider
# that has been sent one asks the node every time (ape's own path) until it connects again
_GAS_LIMIT_SETTERS = {
    "evm_setBlockGasLimit",
    "anvil_setBlockGasLimit",
    "anvil_reset",
    "hardhat_reset",
    "anvil_loadState",
}
_max_gas_cache: dict[int, int] = {}
_max_gas_asked: set[int] = set()  # providers whose gas limit was set: never kept


def _kept_max_gas(original: Any) -> Any:
    def max_gas(self: Any) -> int:
        if id(self) in _max_gas_asked:
            return original.fget(self)
        kept = _max_gas_cache.get(id(self))
        if kept is None:
            kept = original.fget(self)
            _max_gas_cache[id(self)] = kept
        return kept

    max_gas.__wrapped__ = original.fget  # type: ignore[attr-defined]
    return property(max_gas)


_auto_mine_cache: dict[int, Any] = {}


def _cached_auto_mine(original: Any) -> Any:
    def get(self: Any) -> Any:
        cached = _auto_mine_cache.get(id(self))
        if cached is None:
            cached = original.fget(self)
            _auto_mine_cache[id(self)] = cached
        return cached

    def set_(self: Any, value: Any) -> None:
        _auto_mine_cache.pop(id(self), None)
        original.fset(self, value)

    get.__wrapped__ = original  # type: ignore[attr-defined]
    return property(get, set_)


def _forget_auto_mine_on_set(original: Any) -> Any:
    def make_request(self: Any, rpc: str, parameters: Any = None) -> Any:
        if rpc in _AUTOMINE_SETTERS:
            _auto_mine_cache.pop(id(self), None)
        if rpc in _CODE_CHANGERS:
            _has_code.clear()
        if rpc in _GAS_LIMIT_SETTERS:
            _max_gas_asked.add(id(self))
            _max_gas_cache.pop(id(self), None)
        return original(self, rpc, parameters)

    make_request.__wrapped__ = original  # type: ignore[attr-defined]
    return make_request


def _skip_nonce_wait_when_mined(original: Any) -> Any:
    def await_sender_nonce_increment(self: Any) -> None:
        block = getattr(self, "block_number", None)
        if isinstance(block, int) and block >= 0:
            return  # mined: the sender's nonce is spent
        original(self)

    await_sender_nonce_increment.__wrapped__ = original  # type: ignore[attr-defined]
    return await_sender_nonce_increment


def _chain_id_kept(original: Any) -> Any:
    def post_connect(self: Any) -> None:
        original(self)
        _auto_mine_cache.pop(id(self), None)  # a new node: ask it again
        _max_gas_cache.pop(id(self), None)
        _max_gas_asked.discard(id(self))
        _tune_node(self)

    post_connect.__wrapped__ = original  # type: ignore[attr-defined]
    return post_connect


def _tune_node(provider: Any) -> None:
    """The provider's web3 connection: ``eth_chainId`` answered once, loopback posts over
    http.client. Applied on connecting and again whenever ape-foundry makes a new ``Web3`` for
    the same provider (its ``is_connected`` does, every time it is asked: the one the tests then
    use is made after the connect)."""
    node = getattr(getattr(provider, "_web3", None), "provider", None)
    if node is None:
        return
    if hasattr(node, "cacheable_requests") and node.cacheable_requests != {"eth_chainId"}:
        node.cache_allowed_requests = True
        node.cacheable_requests = {"eth_chainId"}
    LoopbackPost.install(node)


def _tuned_web3(original: Any) -> Any:
    def set_web3(self: Any) -> None:
        original(self)
        _tune_node(self)

    set_web3.__wrapped__ = original  # type: ignore[attr-defined]
    return set_web3


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_SEND_RAW = b'"eth_sendRawTransaction"'
_RECEIPT = b'"eth_getTransactionReceipt"'
# requests after which a transaction mined a moment ago may no longer be in the chain
_STATE_ROLLERS = (b'"evm_revert"', b'"anvil_reset"', b'"anvil_loadState"', b'"hardhat_reset"')


def _not_mined_in_time(answer: Any) -> bool:
    """anvil's ``eth_sendRawTransactionSync`` error for a transaction it took into its pool
    but did not mine within its wait (30 s)."""
    error = answer.get("error") if isinstance(answer, dict) else None
    return (
        isinstance(error, dict) and "confirmation timeout" in str(error.get("message", "")).lower()
    )


class RawHttpConnection:
    """One kept-alive HTTP/1.1 connection that posts a body and reads the whole response, over a
    plain socket: the request bytes ``http.client.HTTPConnection.request`` sends (request line,
    ``Host``, ``Accept-Encoding: identity``, ``Content-Length``, then the given headers, in that
    order), and the response read as ``http.client`` reads it (1xx answers skipped; a body of
    ``Content-Length`` bytes, chunked, or up to the close), without ``http.client``'s header
    parsing through the ``email`` package: 0.11 -> 0.045 ms of CPU a request on anvil (3,000
    ``eth_blockNumber`` each way, three rounds; h11, the maintained HTTP/1.1 state machine
    uvicorn uses, took 0.107 ms, as http.client does, so neither is called here). Malformed
    or cut answers raise ``http.client``'s own exceptions (tests/offchain/
    test_ape_speedups_loopback.py compares both byte for byte, and their failures)."""

    MAX_LINE = 65536  # http.client's _MAXLINE
    MAX_HEADERS = 100  # http.client's _MAXHEADERS

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self._rfile: Any = None
        self.timeout: Any = None

    def close(self) -> None:
        sock, rfile = self.sock, self._rfile
        self.sock = self._rfile = None
        if rfile is not None:
            rfile.close()
        if sock is not None:
            sock.close()

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self._rfile = sock, sock.makefile("rb")

    def request_bytes(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        names = {k.lower() for k in headers}
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal, bracketed
        host = host if self.port == 80 else f"{host}:{self.port}"
        lines = [f"POST {path} HTTP/1.1"]
        if "host" not in names:
            lines.append(f"Host: {host}")
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: identity")
        if "content-length" not in names and "transfer-encoding" not in names:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _line(self) -> bytes:
        line = self._rfile.readline(self.MAX_LINE + 1)
        if len(line) > self.MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line  # type: ignore[no-any-return]

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """(status, reason, body) of one POST; the connection is closed after an answer that
        asks for it, and on any failure (the exception raised as ``http.client`` raises it)."""
        if self.sock is None:
            self._connect()
        else:
            self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(self.request_bytes(path, body, headers))  # type: ignore[union-attr]
            while True:
                version, status, reason, fields = self._head()
                if not 100 <= status < 200:
                    break
            content = b"" if status in (204, 304) else self._body(fields)
        except BaseException:
            self.close()
            raise
        if self._will_close(version, fields):
            self.close()
        return status, reason, content

    @staticmethod
    def _will_close(version: str, fields: dict[str, str]) -> bool:
        """As ``http.client.HTTPResponse._check_close``: ``Connection: close``, or an HTTP/1.0
        answer without ``Connection: keep-alive``."""
        connection = fields.get("connection", "").lower()
        if "close" in connection:
            return True
        return version == "HTTP/1.0" and "keep-alive" not in connection

    def _head(self) -> tuple[str, int, str, dict[str, str]]:
        line = self._line()
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(line.decode("iso-8859-1"))
        fields: dict[str, str] = {}
        for _ in range(self.MAX_HEADERS + 1):
            raw = self._line()
            if raw in (b"\r\n", b"\n", b""):
                return version, int(code), reason.strip(), fields
            name, _, value = raw.decode("iso-8859-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        raise http.client.HTTPException(f"got more than {self.MAX_HEADERS} headers")

    def _exactly(self, n: int) -> bytes:
        data = self._rfile.read(n)
        if len(data) < n:
            raise http.client.IncompleteRead(data, n - len(data))
        return data  # type: ignore[no-any-return]

    def _body(self, fields: dict[str, str]) -> bytes:
        if "chunked" in fields.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self._line().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise http.client.IncompleteRead(b"".join(parts)) from None
                if size == 0:
                    while self._line() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self._exactly(size))
                self._exactly(2)  # the chunk's CRLF
        length = fields.get("content-length", "")
        if length.isdigit():  # (http.client reads an unreadable or negative one as none)
            return self._exactly(int(length))
        content = self._rfile.read()  # no length: the body is what comes before the close
        fields["connection"] = "close"
        return content  # type: ignore[no-any-return]


class LoopbackPost:
    """``make_post_request`` of one web3 HTTP provider whose node is on loopback, over a
    ``RawHttpConnection`` per thread (see the module's docstring); anything else (another URI, a dict body, a
    streamed response) goes through the provider's own ``requests`` path."""

    def __init__(self, original: Any, endpoint: str) -> None:
        self.original = original
        self.endpoint = endpoint
        url = urlsplit(endpoint)
        self.host, self.port = url.hostname or "", url.port or 80
        self.path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._local = threading.local()

    @classmethod
    def install(cls, node: Any) -> None:
        """On ``node`` (a web3 ``HTTPProvider``) when its endpoint is plain HTTP on loopback."""
        manager = getattr(node, "_request_session_manager", None)
        endpoint = str(getattr(node, "endpoint_uri", "") or "")
        url = urlsplit(endpoint)
        if manager is None or url.scheme != "http" or url.hostname not in _LOOPBACK:
            return
        current = manager.make_post_request
        if isinstance(current, cls):
            if current.endpoint == endpoint:
                return
            current = current.original
        manager.make_post_request = cls(current, endpoint)

    def _connection(self, timeout: Any) -> RawHttpConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            # a kept connection the node closed (or wrote to unasked) reads as ready: open anew
            ready = select.poll()  # poll, not select: a descriptor past 1023 is fine
            ready.register(conn.sock, select.POLLIN)
            if ready.poll(0):
                conn.close()
        if conn is None:
            conn = RawHttpConnection(self.host, self.port)
            self._local.conn = conn
        conn.timeout = timeout
        return conn

    def __call__(self, endpoint_uri: Any, data: Any, **kwargs: Any) -> bytes:
        if (
            str(endpoint_uri) != self.endpoint
            or not isinstance(data, (bytes, bytearray))
            or kwargs.get("stream")
            or set(kwargs) - {"headers", "timeout", "stream"}
        ):
            return self.original(endpoint_uri, data, **kwargs)
        local = self._local.__dict__
        if local.get("receipt") is not None:
            if _RECEIPT in data and (kept := self._kept_receipt(data)) is not None:
                return kept
            if any(m in data for m in _STATE_ROLLERS):
                local["receipt"] = None  # a mined transaction may be undone: ask the node
        if local.get("mined_send") and _SEND_RAW in data:
            local["mined_send"] = False
            return self._send_mined(data, kwargs)
        return self._post(data, kwargs)

    def send_mined(self) -> None:
        """The next ``eth_sendRawTransaction`` this thread posts (ape's send in automine mode)
        goes as ``eth_sendRawTransactionSync``: answered once mined, with the receipt, which
        the thread's next ``eth_getTransactionReceipt`` of that hash is then answered with."""
        self._local.mined_send = True

    def send_done(self) -> None:
        self._local.mined_send = False

    def _send_mined(self, data: bytes | bytearray, kwargs: dict[str, Any]) -> bytes:
        ask = json.loads(data)
        if not isinstance(ask, dict) or ask.get("method") != "eth_sendRawTransaction":
            return self._post(data, kwargs)
        ask["method"] = "eth_sendRawTransactionSync"
        body = self._post(json.dumps(ask).encode(), kwargs)
        answer = json.loads(body)
        receipt = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(receipt, dict) and isinstance(receipt.get("transactionHash"), str):
            tx_hash = receipt["transactionHash"]
            self._local.receipt = (tx_hash.lower(), receipt)
        elif _not_mined_in_time(answer):
            # in the pool but not mined in anvil's 30 s (another connection stopped automine
            # since ape asked): sent, as eth_sendRawTransaction says; ape then asks for the
            # receipt as it always did
            tx_hash = to_hex(keccak(hexstr=ask["params"][0]))
        else:
            return body  # refused before the pool: the same error eth_sendRawTransaction gives
        return json.dumps({"jsonrpc": "2.0", "id": ask.get("id"), "result": tx_hash}).encode()

    def _kept_receipt(self, data: bytes | bytearray) -> bytes | None:
        ask = json.loads(data)
        tx_hash, receipt = self._local.receipt
        if (
            not isinstance(ask, dict)
            or ask.get("method") != "eth_getTransactionReceipt"
            or str((ask.get("params") or [""])[0]).lower() != tx_hash
        ):
            return None
        self._local.receipt = None
        return json.dumps({"jsonrpc": "2.0", "id": ask.get("id"), "result": receipt}).encode()

    def _post(self, data: Any, kwargs: dict[str, Any]) -> bytes:
        timeout = kwargs.get("timeout")
        timeout = 10 if timeout is None else timeout  # web3's DEFAULT_HTTP_TIMEOUT
        if isinstance(timeout, tuple):
            timeout = max(t for t in timeout if t is not None)
        conn = self._connection(timeout)
        try:
            status, reason, body = conn.post(self.path, bytes(data), kwargs.get("headers") or {})
        except TimeoutError as err:
            raise requests.exceptions.ReadTimeout(err) from err
        except (OSError, http.client.HTTPException) as err:
            raise requests.exceptions.ConnectionError(err) from err
        if status >= 400:
            failed = requests.Response()
            failed.status_code, failed.reason = status, reason
            failed._content, failed.url = body, self.endpoint
            failed.raise_for_status()
        return body


def _mined_on_send(original: Any) -> Any:
    """``Web3Provider._send_transaction`` that, where ape will wait for the receipt next (its
    provider in automine mode: ``send_transaction``'s own test, the same cached answer) and its
    connection is a loopback post, sends the raw transaction as ``eth_sendRawTransactionSync``
    (``LoopbackPost.send_mined``)."""

    def _send_transaction(self: Any, txn: Any) -> str:
        post = None
        if getattr(self, "auto_mine", True) is True:
            node = getattr(getattr(self, "_web3", None), "provider", None)
            manager = getattr(node, "_request_session_manager", None)
            post = getattr(manager, "make_post_request", None)
        if not isinstance(post, LoopbackPost):
            return original(self, txn)  # type: ignore[no-any-return]
        post.send_mined()
        try:
            return original(self, txn)  # type: ignore[no-any-return]
        finally:
            post.send_done()

    _send_transaction.__wrapped__ = original  # type: ignore[attr-defined]
    return _send_transaction


# (v, r, s) of the transactions ape's local signer signed last -> (the signed transaction's
# bytes, the signing key's address, the signed fields as JSON): at most _SIGNED_KEPT
_signed: dict[tuple[int, int, int], tuple[bytes, str, str]] = {}
_SIGNED_KEPT = 64


def _signed_fields(txn_dict: Any) -> str:
    return json.dumps(txn_dict, sort_keys=True, default=repr)


def _signed_kept(original: Any) -> Any:
    """ape_accounts' ``sign_transaction_dict`` (its local signer: the test accounts and
    keyfile accounts) keeping the signed transaction's bytes it computes and ape drops."""

    def sign_transaction_dict(eth_key: Any, transaction_dict: Any, *args: Any, **kw: Any) -> Any:
        v, r, s, encoded = original(eth_key, transaction_dict, *args, **kw)
        if not args and not kw:  # no blobs
            signer = eth_key.public_key.to_checksum_address()
            _signed[(v, r, s)] = (bytes(encoded), signer, _signed_fields(transaction_dict))
            while len(_signed) > _SIGNED_KEPT:
                del _signed[next(iter(_signed))]
        return v, r, s, encoded

    sign_transaction_dict.__wrapped__ = original  # type: ignore[attr-defined]
    return sign_transaction_dict


def _serialized_as_signed(original: Any) -> Any:
    """``BaseTransaction.serialize_transaction`` that, for a transaction ape's local signer
    signed with the sender's own key and nothing changed since, returns the bytes the signer
    made instead of encoding them again and recovering the signer from them."""

    def serialize_transaction(self: Any) -> bytes:
        sig = self.signature
        if sig is not None and _signed:
            kept = _signed.get((sig.v, int.from_bytes(sig.r, "big"), int.from_bytes(sig.s, "big")))
            if kept is not None and self.sender == kept[1]:
                fields = self.model_dump(mode="json", by_alias=True, exclude={"sender"})
                if (
                    fields.get("to") != ZERO_ADDRESS  # ape drops it: another transaction
                    and not fields.get("accessList")  # ape rewrites their keys
                    and not fields.get("authorizationList")
                    and _signed_fields(fields) == kept[2]
                ):
                    return kept[0]
        return original(self)  # type: ignore[no-any-return]

    serialize_transaction.__wrapped__ = original  # type: ignore[attr-defined]
    return serialize_transaction


_CHECKSUMS_KEPT = 65_536


def _checksums_kept(original: Any) -> Any:
    """eth_utils' ``to_checksum_address`` (a keccak of the address and a pass over its 40
    digits) answered from the answers already given, for an exact ``str`` or ``bytes`` value:
    ``is_checksum_address`` computes it for every address ape converts, about 14 a transaction.
    A pure function of the value; an error is never kept (the next call raises it again)."""
    kept: dict[tuple[type, Any], Any] = {}

    def to_checksum_address(value: Any) -> Any:
        kind = type(value)
        if kind is not str and kind is not bytes:
            return original(value)
        key = (kind, value)
        answer = kept.get(key)
        if answer is None:
            answer = original(value)
            if len(kept) >= _CHECKSUMS_KEPT:
                kept.clear()
            kept[key] = answer
        return answer

    to_checksum_address.__wrapped__ = original  # type: ignore[attr-defined]
    return to_checksum_address


def _opcodes_kept(original: Any) -> Any:
    """ape_ethereum's ``strip_push_data`` (a Python loop over every byte of a contract's code,
    indexing a ``HexBytes``: most of ape's proxy check, which ``account.deploy`` runs on every
    deployment) answered from the answers already given for the same bytes (``lru_cache``, a
    fixture's few dozen codes), and computed over plain ``bytes`` (the same integers, indexed
    natively). A pure function of the bytes: the same ``bytes`` back for any value, asked once
    or again."""
    kept = functools.lru_cache(maxsize=256)(original)

    def strip_push_data(bytecode: Any) -> bytes:
        return kept(bytes(bytecode))  # type: ignore[no-any-return]

    strip_push_data.__wrapped__ = original  # type: ignore[attr-defined]
    return strip_push_data


def _code_seen_once(original: Any) -> Any:
    def validate_is_contract(self: Any) -> None:
        key = (id(self.provider), str(self.contract.address))
        if key in _has_code:
            return
        original(self)  # raises ContractNotFoundError where there is no code
        _has_code.add(key)

    validate_is_contract.__wrapped__ = original  # type: ignore[attr-defined]
    return validate_is_contract


def _height_by_number(original: Any) -> Any:
    def height(self: Any) -> int:
        provider = self.network_manager.active_provider
        web3 = getattr(provider, "_web3", None) if isinstance(provider, Web3Provider) else None
        if web3 is None:
            return original(self)  # type: ignore[no-any-return]
        return int(web3.eth.block_number)

    height.__wrapped__ = original  # type: ignore[attr-defined]
    return property(height)


def _structs_kept(original: Any) -> Any:
    """ape's ``create_struct`` with the dataclass it builds kept per (name, field names): the
    class is a function of them alone (its methods read only the instance's fields), but for
    ``__reduce__``, which answers ape's ``(create_struct, (name, types, output_values))`` of
    the instance's own decoding here too (kept beside the instance, by its id, until it is
    freed: nothing is added to the instance)."""
    classes: dict[tuple[str, tuple[str, ...]], type] = {}
    made: dict[int, tuple[str, Any, Any]] = {}

    def reduce(struct: Any) -> tuple[Any, tuple[str, Any, Any]]:
        return (ape_abi.create_struct, made[id(struct)])

    @functools.wraps(original)
    def create_struct(name: str, types: Any, output_values: Any) -> Any:
        key = (name, tuple(t.name or f"_{i}" for i, t in enumerate(types)))
        cls = classes.get(key)
        if cls is None:
            cls = type(original(name, types, output_values))
            if "__reduce__" in cls.__dict__:  # (a field of that name: ape left the method out)
                cls.__reduce__ = reduce  # type: ignore[method-assign,assignment]
            classes[key] = cls
        struct = cls(*output_values)
        made[id(struct)] = (name, types, output_values)
        weakref.finalize(struct, made.pop, id(struct), None)
        return struct

    return create_struct


def _dev_accounts_kept(original: Any) -> Any:
    derive = functools.cache(lambda *args, **kwargs: tuple(original(*args, **kwargs)))

    @functools.wraps(original)
    def generate_dev_accounts(*args: Any, **kwargs: Any) -> list[Any]:
        return list(derive(*args, **kwargs))  # a new list each time, of the same immutable pairs

    return generate_dev_accounts


def _last_addresses_first(original: Any) -> Any:
    def get_addresses_used(self: Any, reverse: bool = False) -> Any:
        if not reverse:
            yield from original(self, reverse)
            return
        raw = list(self.raw_trace_frames)
        if any(CallType.CREATE.value in str(f.get("op", "")) for f in raw):
            yield from original(self, reverse)  # a CREATE's address is found by looking ahead
            return
        for f in reversed(raw):
            if f.get("op") not in CALL_OPCODES:
                continue  # no address (TraceFrame.address is None for every other step)
            if addr := TraceFrame(**f).address:
                yield self._ecosystem.decode_address(addr)

    get_addresses_used.__wrapped__ = original  # type: ignore[attr-defined]
    return get_addresses_used


STEPS_FLAG = "--steps-tracing"
# the call tree's frame types, as struct-log ops (the addresses ape's walk takes from steps)
_CALL_TREE_TYPES = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE", "CREATE", "CREATE2"}


def _without_steps_tracing(original: Any) -> Any:
    def build_command(self: Any) -> list[str]:
        return [arg for arg in original(self) if arg != STEPS_FLAG]

    build_command._ballast_original = original  # type: ignore[attr-defined]
    return build_command


def called_last_first(call_tree: dict[str, Any]) -> list[str]:
    """The addresses a transaction's call tree (``callTracer``) called, the call begun last
    first: a pre-order walk of its frames under the top one, reversed."""
    begun: list[str] = []

    def walk(frame: dict[str, Any]) -> None:
        for sub in frame.get("calls") or ():
            if str(sub.get("type", "")).upper() in _CALL_TREE_TYPES and sub.get("to"):
                begun.append(sub["to"])
            walk(sub)

    walk(call_tree)
    return begun[::-1]


def _from_call_tree_without_steps(fallback: Any) -> Any:
    """``get_addresses_used`` that, on a trace without steps (an anvil started without
    ``--steps-tracing``), reads the transaction's call tree instead of its empty struct log."""

    def get_addresses_used(self: Any, reverse: bool = False) -> Any:
        txn_hash = getattr(self, "transaction_hash", None)
        if not reverse or not txn_hash or list(self.raw_trace_frames):
            yield from fallback(self, reverse)
            return
        tree = self.provider.make_request(
            "debug_traceTransaction", [str(txn_hash), {"tracer": "callTracer"}]
        )
        for addr in called_last_first(dict(tree)):
            yield self._ecosystem.decode_address(addr)

    get_addresses_used.__wrapped__ = fallback  # type: ignore[attr-defined]
    return get_addresses_used


# ecosystem id -> (the ecosystem, (connected network, default network), config object, answer)
def _kept_while(original: Any, cache: dict[int, Any], key_of: Any) -> Any:
    """``original`` (a property) kept per object in ``cache``: ``key_of(self)`` gives the
    config object the answer was read from (compared by identity) and what else it depends on
    (compared by value), or None where nothing is to be kept (ape's own answer then)."""

    def get(self: Any) -> Any:
        key = key_of(self)
        if key is None:
            return original.fget(self)
        cfg, rest = key
        kept = cache.get(id(self))
        if kept is not None and kept[0] is self and kept[1] is cfg and kept[2] == rest:
            return kept[3]
        value = original.fget(self)
        cache[id(self)] = (self, cfg, rest, value)
        return value

    get.__wrapped__ = original.fget  # type: ignore[attr-defined]
    return property(get)


_TX_TYPES: dict[int, tuple[Any, Any, Any, Any]] = {}


def _tx_type_key(eco: Any) -> tuple[Any, Any]:
    provider = eco.network_manager.active_provider
    return eco.config, (provider.network.name if provider else None, eco.default_network_name)


def _kept_transaction_type(original: Any) -> Any:
    return _kept_while(original, _TX_TYPES, _tx_type_key)


_NETWORK_CONFIGS: dict[int, tuple[Any, Any, Any, Any]] = {}


def _network_config_key(net: Any) -> tuple[Any, str] | None:
    eco_cfg = net.ecosystem_config
    names = sorted({net.name, net.name.replace("-", "_"), net.name.replace("_", "-")})
    sections = [eco_cfg.get(n) for n in names]
    if not any(isinstance(x, dict) for x in sections):
        return None  # nothing validated: nothing to keep
    return eco_cfg, json.dumps(sections, sort_keys=True, default=repr)


def _kept_network_config(original: Any) -> Any:
    return _kept_while(original, _NETWORK_CONFIGS, _network_config_key)


def _uses_console_log() -> bool:
    root = Path(__file__).resolve().parents[2] / "contracts"
    return any(
        "console.log" in p.read_text(errors="replace")
        for p in root.rglob("*.sol")
        if ".cache" not in p.parts
    )


def pytest_configure(config: Any) -> None:
    if os.environ.get("BALLAST_APE_SPEEDUPS") == "0":
        return
    current = FoundryProvider.__dict__["settings"]
    if not hasattr(current.fget, "__wrapped__"):
        FoundryProvider.settings = _cached_settings(current)  # type: ignore[method-assign]
    if not hasattr(HTTPSessionManager.cache_and_return_session, "__wrapped__"):
        HTTPSessionManager.cache_and_return_session = _session_without_env(  # type: ignore[method-assign]
            HTTPSessionManager.cache_and_return_session
        )
    if not hasattr(Eth.wait_for_transaction_receipt, "__wrapped__"):
        Eth.wait_for_transaction_receipt = _faster_receipt_poll(  # type: ignore[method-assign]
            Eth.wait_for_transaction_receipt
        )
    if not hasattr(ape_eth_provider._post_send_transaction, "__wrapped__") and not (
        _uses_console_log()
    ):
        ape_eth_provider._post_send_transaction = _confirmed_log_only
    current = FoundryProvider.__dict__["auto_mine"]
    if not hasattr(current.fget, "__wrapped__"):
        FoundryProvider.auto_mine = _cached_auto_mine(current)  # type: ignore[method-assign]
        FoundryProvider.make_request = _forget_auto_mine_on_set(  # type: ignore[method-assign]
            FoundryProvider.make_request
        )
    if not hasattr(ReceiptAPI._await_sender_nonce_increment, "__wrapped__"):
        ReceiptAPI._await_sender_nonce_increment = _skip_nonce_wait_when_mined(  # type: ignore[method-assign]
            ReceiptAPI._await_sender_nonce_increment
        )
    if not hasattr(FoundryProvider._set_web3, "__wrapped__"):
        FoundryProvider._set_web3 = _tuned_web3(FoundryProvider._set_web3)  # type: ignore[method-assign]
    if not hasattr(Web3Provider._post_connect, "__wrapped__"):
        Web3Provider._post_connect = _chain_id_kept(Web3Provider._post_connect)  # type: ignore[method-assign]
    current = Web3Provider.__dict__["max_gas"]
    if not hasattr(current.fget, "__wrapped__"):
        Web3Provider.max_gas = _kept_max_gas(current)  # type: ignore[method-assign]
    current = NetworkAPI.__dict__["config"]
    if not hasattr(current.fget, "__wrapped__"):
        NetworkAPI.config = _kept_network_config(current)  # type: ignore[method-assign]
    current = Ethereum.__dict__["default_transaction_type"]
    if not hasattr(current.fget, "__wrapped__"):
        Ethereum.default_transaction_type = _kept_transaction_type(current)  # type: ignore[method-assign]
    if not hasattr(ape_abi.create_struct, "__wrapped__"):
        # the module's own name: ape's output parser looks it up there
        ape_abi.create_struct = _structs_kept(ape_abi.create_struct)
    if not hasattr(ape_test_accounts.generate_dev_accounts, "__wrapped__"):
        # the module's own name: TestAccountContainer.generate_account looks it up there
        ape_test_accounts.generate_dev_accounts = _dev_accounts_kept(
            ape_test_accounts.generate_dev_accounts
        )
    current = BlockContainer.__dict__["height"]
    if not hasattr(current.fget, "__wrapped__"):
        BlockContainer.height = _height_by_number(current.fget)  # type: ignore[method-assign]
    if not hasattr(Trace.get_addresses_used, "__wrapped__"):
        Trace.get_addresses_used = _last_addresses_first(Trace.get_addresses_used)  # type: ignore[method-assign]
    if os.environ.get("BALLAST_STEPS_TRACING") != "1":
        if not hasattr(FoundryProvider.build_command, "_ballast_original"):
            FoundryProvider.build_command = _without_steps_tracing(  # type: ignore[method-assign]
                FoundryProvider.build_command
            )
        if not hasattr(TransactionTrace.get_addresses_used, "_ballast_call_tree"):
            lookup = _from_call_tree_without_steps(TransactionTrace.get_addresses_used)
            lookup._ballast_call_tree = True  # type: ignore[attr-defined]
            TransactionTrace.get_addresses_used = lookup  # type: ignore[method-assign]
    if not hasattr(eth_utils_address.to_checksum_address, "__wrapped__"):
        # the module's own name: is_checksum_address (and every caller of it) looks it up there
        eth_utils_address.to_checksum_address = _checksums_kept(
            eth_utils_address.to_checksum_address
        )
    if not hasattr(ape_eth_ecosystem.strip_push_data, "__wrapped__"):
        # the ecosystem module's own name: its proxy check looks it up there
        ape_eth_ecosystem.strip_push_data = _opcodes_kept(ape_eth_ecosystem.strip_push_data)
    if not hasattr(ape_accounts_module.sign_transaction_dict, "__wrapped__"):
        ape_accounts_module.sign_transaction_dict = _signed_kept(
            ape_accounts_module.sign_transaction_dict
        )
        BaseTransaction.serialize_transaction = _serialized_as_signed(  # type: ignore[method-assign]
            BaseTransaction.serialize_transaction
        )
    if not hasattr(Web3Provider._send_transaction, "__wrapped__"):
        Web3Provider._send_transaction = _mined_on_send(Web3Provider._send_transaction)  # type: ignore[method-assign]
    if not hasattr(ContractMethodHandler._validate_is_contract, "__wrapped__"):
        ContractMethodHandler._validate_is_contract = _code_seen_once(  # type: ignore[method-assign]
            ContractMethodHandler._validate_is_contract
        )


def pytest_collection_finish(session: Any) -> None:
    if os.environ.get("BALLAST_APE_SPEEDUPS") == "0":
        return
    gc.collect()
    gc.freeze()  # the collected suite, ape, web3 and the rest: out of every later full scan


_last_module: list[Any] = [None]


@pytest.hookimpl(tryfirst=True)  # before the new file's fixtures are set up
def pytest_runtest_setup(item: Any) -> None:
    """At a test file's first test: the previous file's fixtures and its last test's arguments
    are gone by now, so its garbage, cycles included, is collected; what outlives it (ape's
    caches, session fixtures) is frozen out of later full scans."""
    if os.environ.get("BALLAST_APE_SPEEDUPS") == "0":
        return
    module = getattr(item, "module", None)
    if module is _last_module[0]:
        return
    if _last_module[0] is not None:
        gc.collect()
        gc.freeze()
    _last_module[0] = module
