"""LOCAL CHAINS ONLY: a Binance-like exchange simulator for the CEX fallback route.

Speaks the part of Binance's REST API that ccxt's `binance` class calls for deposits and
withdrawals (loopback only, HMAC-SHA256 signatures checked like Binance does):

- GET  /api/v3/exchangeInfo                (load_markets, spot only)
- GET  /sapi/v1/capital/config/getall       (load_markets -> fetch_currencies: coins, networks)
- GET  /sapi/v1/capital/deposit/address     (fetch_deposit_address)
- GET  /sapi/v1/capital/deposit/hisrec      (fetch_deposits)
- POST /sapi/v1/capital/withdraw/apply      (withdraw)
- GET  /sapi/v1/capital/withdraw/history    (fetch_withdrawals)

It watches ERC-20 Transfer logs into its deposit address on each local anvil chain, credits
them after `confirmations` blocks, and pays withdrawals from a hot wallet (an unlocked anvil
account) on the destination chain, charging the configured withdrawal fee. Amounts are
Decimal strings, as on Binance. Point ccxt at it with `make_sim_exchange`. Never used against
a live network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from keepers import abis

TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")


@dataclass
class SimCoin:
    token: str  # ERC-20 address on this network
    decimals: int
    withdraw_fee: Decimal  # human units, deducted from the withdrawn amount
    withdraw_enable: bool = True
    deposit_enable: bool = True


@dataclass
class SimNetwork:
    """One local chain as the exchange sees it (`network` is Binance's id: ETH, BSC...)."""

    network: str
    w3: Web3
    deposit_address: str
    hot_wallet: str  # unlocked anvil account holding the payout tokens
    coins: dict[str, SimCoin]
    confirmations: int = 1
    scanned_to: int = -1


@dataclass
class SimDeposit:
    id: str
    coin: str
    network: str
    amount: Decimal
    tx_id: str
    block: int
    address: str
    insert_time: int
    status: int = 0  # 0 pending, 1 success (Binance deposit statuses)


@dataclass
class SimWithdrawal:
    id: str
    coin: str
    network: str
    amount: Decimal  # debited from the balance; the address receives amount - fee
    fee: Decimal
    address: str
    withdraw_order_id: str
    apply_time: int
    status: int = 4  # 4 processing, 6 completed, 3 rejected, 5 failure
    tx_id: str = ""
    info: str = ""


@dataclass
class SimState:
    balances: dict[str, Decimal] = field(default_factory=dict)
    deposits: list[SimDeposit] = field(default_factory=list)
    withdrawals: list[SimWithdrawal] = field(default_factory=list)
    fees_collected: dict[str, Decimal] = field(default_factory=dict)


class BinanceSim:
    """LOCAL ONLY exchange simulator. `start()` serves on 127.0.0.1 and runs the chain
    watcher in a thread; `step()` does one watcher round synchronously.

    Every signed (account) request runs a watcher round before it is answered, as an exchange
    whose books are current when asked: deposits mined by then are credited and withdrawals
    applied before are paid. The watcher thread (every ``interval`` seconds) covers the time
    nobody asks; polling each chain 20 times a second cost about a tenth of the test suite's
    CPU, for no state a client could see earlier."""

    def __init__(
        self,
        networks: list[SimNetwork],
        api_key: str = "local-key",
        secret: str = "local-secret",
        interval: float = 0.5,
    ) -> None:
        self.networks = {n.network: n for n in networks}
        self.api_key, self.secret = api_key, secret
        self.interval = interval
        self.state = SimState()
        self.lock = threading.RLock()
        self.down = False  # True: every request answers 503 (an exchange outage)
        self.requests: list[tuple[str, str]] = []
        self.errors: list[str] = []  # watcher errors (kept for inspection)
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BinanceSim:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                sim._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                sim._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # its shutdown flag polled every 50 ms: `stop` waited the default 0.5 s
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        watch = threading.Thread(target=self._watch, daemon=True)
        self._threads = [serve, watch]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._catch_up()

    def _catch_up(self) -> None:
        try:
            self.step()
        except Exception as err:  # noqa: BLE001 - keep watching; a chain may be busy
            self.errors.append(repr(err))

    # ------------------------------------------------------------------ chain side

    def step(self) -> None:
        with self.lock:
            for net in self.networks.values():
                self._scan_deposits(net)
            self._pay_withdrawals()

    def _scan_deposits(self, net: SimNetwork) -> None:
        head = net.w3.eth.block_number
        if head > net.scanned_to:
            by_token = {c.token.lower(): (code, c) for code, c in net.coins.items()}
            logs = net.w3.eth.get_logs(
                {
                    "fromBlock": net.scanned_to + 1,
                    "toBlock": head,
                    "address": [to_checksum_address(c.token) for c in net.coins.values()],
                    "topics": [
                        HexBytes(TRANSFER_TOPIC),
                        None,
                        HexBytes(b"\x00" * 12 + bytes.fromhex(net.deposit_address[2:])),
                    ],
                }
            )
            for log in logs:
                code, coin = by_token[log["address"].lower()]
                raw = int.from_bytes(bytes(log["data"]), "big")
                tx_id = "0x" + bytes(log["transactionHash"]).hex()
                self.state.deposits.append(
                    SimDeposit(
                        id=str(len(self.state.deposits) + 1),
                        coin=code,
                        network=net.network,
                        amount=Decimal(raw).scaleb(-coin.decimals),
                        tx_id=tx_id,
                        block=int(log["blockNumber"]),
                        address=net.deposit_address,
                        insert_time=_now_ms(),
                    )
                )
            net.scanned_to = head
        for dep in self.state.deposits:
            confirmed = head - dep.block + 1 >= net.confirmations
            if dep.network == net.network and dep.status == 0 and confirmed:
                dep.status = 1
                self.state.balances[dep.coin] = (
                    self.state.balances.get(dep.coin, Decimal(0)) + dep.amount
                )

    def _pay_withdrawals(self) -> None:
        for wd in self.state.withdrawals:
            if wd.status != 4:
                continue
            net = self.networks[wd.network]
            coin = net.coins[wd.coin]
            units = (wd.amount - wd.fee).scaleb(coin.decimals)
            token = net.w3.eth.contract(
                address=to_checksum_address(coin.token), abi=abis.load("IERC20Min")
            )
            try:
                tx_hash = token.functions.transfer(
                    to_checksum_address(wd.address), int(units)
                ).transact({"from": to_checksum_address(net.hot_wallet)})
                receipt = net.w3.eth.wait_for_transaction_receipt(tx_hash)
            except Exception as err:  # noqa: BLE001 - a failed payout is reported, not raised
                receipt, wd.info = None, f"payout failed: {err}"
            if receipt is not None and receipt["status"] == 1:
                wd.status, wd.tx_id = 6, "0x" + bytes(receipt["transactionHash"]).hex()
            else:
                wd.status = 5
                wd.info = wd.info or "payout reverted"
                self.state.balances[wd.coin] += wd.amount  # refunded to the account
                self.state.fees_collected[wd.coin] -= wd.fee

    # ------------------------------------------------------------------ HTTP side

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length).decode() if length else ""
        self.requests.append((method, parsed.path))
        if self.down:
            return _reply(req, 503, {"code": -1001, "msg": "Service unavailable (simulated)"})
        raw_query = body if method == "POST" else parsed.query
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        route = (method, parsed.path)
        public = {("GET", "/api/v3/exchangeInfo"): self._exchange_info}
        private = {
            ("GET", "/sapi/v1/capital/config/getall"): self._config_getall,
            ("GET", "/sapi/v1/capital/deposit/address"): self._deposit_address,
            ("GET", "/sapi/v1/capital/deposit/hisrec"): self._deposit_history,
            ("POST", "/sapi/v1/capital/withdraw/apply"): self._withdraw_apply,
            ("GET", "/sapi/v1/capital/withdraw/history"): self._withdraw_history,
        }
        try:
            if route in public:
                return _reply(req, 200, public[route](params))
            if route in private:
                err = self._check_signature(req, raw_query)
                if err is not None:
                    return _reply(req, 401, err)
                with self.lock:
                    self._catch_up()
                    return _reply(req, 200, private[route](params))
            return _reply(req, 404, {"code": -1, "msg": f"not simulated: {method} {parsed.path}"})
        except SimError as err:
            return _reply(req, 400, {"code": err.code, "msg": str(err)})

    def _check_signature(self, req: BaseHTTPRequestHandler, raw: str) -> dict | None:
        if req.headers.get("X-MBX-APIKEY") != self.api_key:
            return {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        payload, sep, signature = raw.rpartition("&signature=")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(signature, expected):
            return {"code": -1022, "msg": "Signature for this request is not valid."}
        return None

    def _exchange_info(self, _params: dict[str, str]) -> dict:
        return {
            "timezone": "UTC",
            "serverTime": _now_ms(),
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [],
        }

    def _config_getall(self, _params: dict[str, str]) -> list[dict]:
        coins: dict[str, list[dict]] = {}
        for net in self.networks.values():
            for code, c in net.coins.items():
                step = _fmt(Decimal(1).scaleb(-min(c.decimals, 8)))
                coins.setdefault(code, []).append(
                    {
                        "network": net.network,
                        "coin": code,
                        "name": net.network,
                        "isDefault": False,
                        "depositEnable": c.deposit_enable,
                        "withdrawEnable": c.withdraw_enable,
                        "withdrawFee": _fmt(c.withdraw_fee),
                        "withdrawMin": _fmt(c.withdraw_fee * 2),
                        "withdrawMax": "9999999999",
                        "withdrawIntegerMultiple": step,
                        "minConfirm": net.confirmations,
                        "depositDust": step,
                        "contractAddress": c.token,
                    }
                )
        return [
            {
                "coin": code,
                "name": code,
                "free": _fmt(self.state.balances.get(code, Decimal(0))),
                "locked": "0",
                "trading": True,
                "isLegalMoney": False,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "networkList": nets,
            }
            for code, nets in coins.items()
        ]

    def _network(self, params: dict[str, str]) -> tuple[SimNetwork, str, SimCoin]:
        code, network = params.get("coin", ""), params.get("network", "")
        net = self.networks.get(network)
        if net is None or code not in net.coins:
            raise SimError(-4003, f"network {network!r} not supported for coin {code!r}")
        return net, code, net.coins[code]

    def _deposit_address(self, params: dict[str, str]) -> dict:
        net, code, coin = self._network(params)
        if not coin.deposit_enable:
            raise SimError(-4018, f"deposits of {code} on {net.network} are suspended")
        return {"coin": code, "address": net.deposit_address, "tag": "", "url": ""}

    def _deposit_history(self, params: dict[str, str]) -> list[dict]:
        code = params.get("coin")
        return [
            {
                "id": d.id,
                "amount": _fmt(d.amount),
                "coin": d.coin,
                "network": d.network,
                "status": d.status,
                "address": d.address,
                "addressTag": "",
                "txId": d.tx_id,
                "insertTime": d.insert_time,
                "transferType": 0,
                "confirmTimes": f"{min(self._confirms(d), self.networks[d.network].confirmations)}"
                f"/{self.networks[d.network].confirmations}",
                "unlockConfirm": 0,
                "walletType": 0,
            }
            for d in reversed(self.state.deposits)
            if code is None or d.coin == code
        ]

    def _confirms(self, d: SimDeposit) -> int:
        return self.networks[d.network].scanned_to - d.block + 1

    def _withdraw_apply(self, params: dict[str, str]) -> dict:
        net, code, coin = self._network(params)
        if not coin.withdraw_enable:
            raise SimError(-4019, f"withdrawals of {code} on {net.network} are suspended")
        order_id = params.get("withdrawOrderId", "")
        if order_id and any(w.withdraw_order_id == order_id for w in self.state.withdrawals):
            raise SimError(-4026, f"duplicate withdrawOrderId {order_id}")
        try:
            amount = Decimal(params["amount"])
        except (KeyError, ArithmeticError) as err:
            raise SimError(-1102, f"bad amount {params.get('amount')!r}") from err
        step = Decimal(1).scaleb(-min(coin.decimals, 8))
        if amount <= coin.withdraw_fee or amount % step != 0:
            raise SimError(-4022, f"amount {amount} below the minimum or finer than {step}")
        if not Web3.is_address(params.get("address", "")):
            raise SimError(-4007, f"bad address {params.get('address')!r}")
        balance = self.state.balances.get(code, Decimal(0))
        if amount > balance:
            raise SimError(-4026, f"insufficient balance {balance} for withdrawal {amount}")
        self.state.balances[code] = balance - amount
        self.state.fees_collected[code] = (
            self.state.fees_collected.get(code, Decimal(0)) + coin.withdraw_fee
        )
        wd = SimWithdrawal(
            id=uuid.uuid4().hex,
            coin=code,
            network=net.network,
            amount=amount,
            fee=coin.withdraw_fee,
            address=params["address"],
            withdraw_order_id=order_id,
            apply_time=_now_ms(),
        )
        self.state.withdrawals.append(wd)
        return {"id": wd.id}

    def _withdraw_history(self, params: dict[str, str]) -> list[dict]:
        code, order_id = params.get("coin"), params.get("withdrawOrderId")
        return [
            {
                "id": w.id,
                "amount": _fmt(w.amount - w.fee),
                "transactionFee": _fmt(w.fee),
                "coin": w.coin,
                "status": w.status,
                "address": w.address,
                "txId": w.tx_id,
                "applyTime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(w.apply_time / 1000)),
                "network": w.network,
                "transferType": 0,
                "withdrawOrderId": w.withdraw_order_id,
                "info": w.info,
                "confirmNo": 1 if w.status == 6 else 0,
                "walletType": 0,
                "txKey": "",
            }
            for w in reversed(self.state.withdrawals)
            if (code is None or w.coin == code)
            and (order_id is None or w.withdraw_order_id == order_id)
        ]


class SimError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code


def make_sim_exchange(sim: BinanceSim) -> Any:
    """A ccxt `binance` instance whose API URLs point at the simulator (spot markets only)."""
    import ccxt

    ex = ccxt.binance(
        {
            "apiKey": sim.api_key,
            "secret": sim.secret,
            "enableRateLimit": False,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchMargins": False,
                "fetchCurrencies": True,
            },
        }
    )
    ex.urls["api"] = {
        "public": f"{sim.url}/api/v3",
        "private": f"{sim.url}/api/v3",
        "sapi": f"{sim.url}/sapi/v1",
    }
    return ex


def _reply(req: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


def _fmt(d: Decimal) -> str:
    """Plain decimal string (no exponent), as Binance prints amounts."""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def _now_ms() -> int:
    return int(time.time() * 1000)
