"""CEX fallback route over ccxt: deposit on the source chain, withdraw to the destination.

- `quote`: the exchange's withdrawal fee for the destination network (from
  fetch_currencies / Binance capital/config/getall, read as the exchange's decimal string);
  RouteError when deposits or withdrawals are disabled or the exchange is unreachable.
- `initiate`: fetch_deposit_address(code, {network}) and an ERC-20 transfer to it.
- `status`: the deposit, matched by txid in fetch_deposits, then the withdrawal, matched by
  our client id (`withdrawOrderId`) in fetch_withdrawals.
- `finalize`: withdraw(code, amount, address, params={network, withdrawOrderId}); idempotent:
  a withdrawal already applied under the same client id is reported as `already_received`.

Money: ccxt parses amounts to floats; this adapter never uses them. It reads the exchange's
own decimal strings from `info` and converts with Decimal to base units. The exchange is
chosen by name (`make_exchange("binance", ...)`). The withdrawn amount is the credited
deposit floored to the destination token's precision and the exchange's step; what is left
(sub-step dust) stays on the exchange account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from keepers import abis
from keepers.crosschain.routes import (
    FinalizeResult,
    Quote,
    RouteError,
    RouteHandle,
    RouteStatus,
    TxSender,
    send_call,
)

_WITHDRAWAL_DONE = {"ok"}
_WITHDRAWAL_FAILED = {"failed", "canceled"}
_UNIFIED = {"ok", "pending", "failed", "canceled"}
# ccxt 4.5.90's binance leaves the raw code in `status` when the response row has no
# transactionType (crypto withdrawal history): map Binance's documented withdrawal codes.
_BINANCE_WITHDRAWAL = {
    "0": "pending",
    "1": "canceled",
    "2": "pending",
    "3": "failed",
    "4": "pending",
    "5": "failed",
    "6": "ok",
}


def withdrawal_state(exchange_id: str, parsed: dict[str, Any]) -> str:
    """Unified status ('ok', 'pending', 'failed', 'canceled') of a ccxt withdrawal row."""
    status = str(parsed.get("status"))
    if status in _UNIFIED:
        return status
    if exchange_id == "binance":
        return _BINANCE_WITHDRAWAL.get(str(parsed["info"].get("status")), "pending")
    return "pending"


def deposit_credited(exchange_id: str, parsed: dict[str, Any]) -> bool:
    """Whether a ccxt deposit row is credited *and withdrawable* (Binance: raw status 1; its
    status 6, which ccxt also calls 'ok', is credited but locked)."""
    if exchange_id == "binance":
        return str(parsed["info"].get("status")) == "1"
    return parsed.get("status") == "ok"


def make_exchange(name: str, api_key: str, secret: str, **options: Any) -> Any:
    """A ccxt exchange by name (e.g. "binance"); unknown names are refused with the list."""
    import ccxt

    if name not in ccxt.exchanges:
        raise ValueError(f"unknown exchange {name!r}; ccxt knows {len(ccxt.exchanges)} names")
    return getattr(ccxt, name)(
        {"apiKey": api_key, "secret": secret, "enableRateLimit": True, "options": options}
    )


@dataclass(frozen=True)
class CexSide:
    chain: str
    w3: Web3
    network: str  # ccxt unified network code: ERC20, BEP20, ...
    token: str
    decimals: int


def to_units(amount: Decimal, decimals: int) -> int:
    """Exchange decimal -> token base units, floored (never credit more than was sent)."""
    return int(amount.scaleb(decimals).to_integral_value(rounding=ROUND_DOWN))


def to_decimal(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


class CexRoute:
    """`asset` from `source` to `dest` through the exchange account behind `exchange`."""

    name = "CEX"

    def __init__(
        self,
        exchange: Any,
        asset: str,
        source: CexSide,
        dest: CexSide,
        sender: TxSender,
        owner: str,
    ) -> None:
        self.exchange = exchange
        self.asset = asset
        self.source, self.dest = source, dest
        self.sender = sender
        self.owner = to_checksum_address(owner)

    # ------------------------------------------------------------------ exchange reads

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import ccxt

        try:
            return fn(*args, **kwargs)
        except ccxt.BaseError as err:  # NetworkError, ExchangeError, AuthenticationError...
            raise RouteError(
                f"{self.exchange.id} {what} failed: {type(err).__name__}: {err}"
            ) from err

    def _withdraw_terms(self) -> tuple[Decimal, Decimal]:
        """(fee, step) for withdrawals to the destination network, as exchange decimals.
        Read fresh on every call (one capital/config request on Binance): networks get
        suspended and fees change, and a cached view would hide an exchange outage."""
        currencies = self._call("fetch_currencies", self.exchange.fetch_currencies) or {}
        currency = currencies.get(self.asset)
        if currency is None:
            raise RouteError(f"{self.exchange.id} lists no {self.asset}")
        networks = currency.get("networks") or {}
        infos = []
        for network in (self.source.network, self.dest.network):
            if network not in networks:
                raise RouteError(f"{self.exchange.id} has no {self.asset} network {network}")
            infos.append(dict(networks[network]["info"]))
        src, dst = infos
        if not src.get("depositEnable", False):
            raise RouteError(f"{self.exchange.id} {self.asset} deposits on {src['network']} off")
        if not dst.get("withdrawEnable", False):
            raise RouteError(f"{self.exchange.id} {self.asset} withdrawals on {dst['network']} off")
        fee = Decimal(str(dst["withdrawFee"]))
        tick = Decimal(1).scaleb(-self.dest.decimals)
        step = max(Decimal(str(dst.get("withdrawIntegerMultiple") or 0)), tick)
        return fee, step

    def _withdrawable(self, credited: Decimal, step: Decimal) -> Decimal:
        return (credited / step).to_integral_value(rounding=ROUND_DOWN) * step

    # ------------------------------------------------------------------ adapter

    def quote(self, amount: int) -> Quote:
        fee, step = self._withdraw_terms()
        credited = to_decimal(amount, self.source.decimals)
        out = self._withdrawable(credited, step) - fee
        if out <= 0:
            raise RouteError(f"amount {credited} {self.asset} does not cover the fee {fee}")
        received = to_units(out, self.dest.decimals)
        # max_fee in destination units: what the route keeps (fee + rounding to the step)
        return Quote(self.name, amount, to_units(credited, self.dest.decimals) - received, received)

    def initiate(self, amount: int, recipient: str) -> RouteHandle:
        self.quote(amount)
        addr = self._call(
            "fetch_deposit_address",
            self.exchange.fetch_deposit_address,
            self.asset,
            {"network": self.source.network},
        )
        deposit_to = to_checksum_address(addr["address"])
        w3 = self.source.w3
        token = w3.eth.contract(
            address=to_checksum_address(self.source.token), abi=abis.load("IERC20Min")
        )
        call = token.functions.transfer(deposit_to, amount)
        receipt = send_call(self.sender, w3, token.address, call, "deposit transfer")
        tx_hash = bytes(receipt["transactionHash"])
        meta = {"recipient": to_checksum_address(recipient), "deposit_address": deposit_to}
        return RouteHandle(
            self.name,
            self.source.chain,
            self.dest.chain,
            tx_hash,
            0,
            json.dumps(meta, sort_keys=True).encode(),
            amount=amount,
            ref="bal" + tx_hash.hex()[:29],  # client id: Binance allows up to 32 chars
        )

    def _deposit(self, handle: RouteHandle) -> dict[str, Any] | None:
        txid = "0x" + handle.tx_hash.hex()
        deposits = self._call("fetch_deposits", self.exchange.fetch_deposits, self.asset)
        for d in deposits:
            if str(d.get("txid") or "").lower() in (txid, txid[2:]):
                return {"credited": deposit_credited(self.exchange.id, d), **dict(d["info"])}
        return None

    def _withdrawal(self, handle: RouteHandle) -> dict[str, Any] | None:
        rows = self._call(
            "fetch_withdrawals",
            self.exchange.fetch_withdrawals,
            self.asset,
            None,
            None,
            {"withdrawOrderId": handle.ref},
        )
        for w in rows:
            if w["info"].get("withdrawOrderId") == handle.ref:
                return {**dict(w["info"]), "state": withdrawal_state(self.exchange.id, w)}
        return None

    def status(self, handle: RouteHandle) -> RouteStatus:
        wd = self._withdrawal(handle)
        if wd is not None:
            if wd["state"] in _WITHDRAWAL_DONE:
                return RouteStatus.COMPLETED
            if wd["state"] in _WITHDRAWAL_FAILED:
                return RouteStatus.FAILED
            return RouteStatus.IN_FLIGHT
        dep = self._deposit(handle)
        if dep is not None and dep["credited"]:
            return RouteStatus.ATTESTED
        return RouteStatus.PENDING_ATTESTATION

    def finalize(self, handle: RouteHandle) -> FinalizeResult:
        if self._withdrawal(handle) is not None:
            return FinalizeResult(None, already_received=True)
        dep = self._deposit(handle)
        if dep is None or not dep["credited"]:
            raise RouteError(f"deposit 0x{handle.tx_hash.hex()} not credited yet")
        fee, step = self._withdraw_terms()
        credited = Decimal(str(dep["amount"]))
        amount = self._withdrawable(credited, step)
        if amount <= fee:
            raise RouteError(f"credited {credited} does not cover the withdrawal fee {fee}")
        recipient = json.loads(handle.message)["recipient"]
        try:
            self._call(
                "withdraw",
                self.exchange.withdraw,
                self.asset,
                format(amount, "f"),  # a string: ccxt formats it without going through float
                recipient,
                params={"network": self.dest.network, "withdrawOrderId": handle.ref},
            )
        except RouteError:
            # Another keeper instance may have applied it between our check and our call: the
            # exchange refuses a second withdrawal under the same client id.
            if self._withdrawal(handle) is not None:
                return FinalizeResult(None, already_received=True)
            raise
        return FinalizeResult(None, already_received=False)

    def payout(self, handle: RouteHandle) -> tuple[int, int] | None:
        """(received, fee) in destination base units once the withdrawal completed."""
        wd = self._withdrawal(handle)
        if wd is None or wd["state"] not in _WITHDRAWAL_DONE:
            return None
        return (
            to_units(Decimal(str(wd["amount"])), self.dest.decimals),
            to_units(Decimal(str(wd.get("transactionFee") or 0)), self.dest.decimals),
        )
