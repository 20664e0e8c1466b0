"""Reads the fund's state in ONE eth_call (``FundLens.fundState(controller)``) and maps it to
the planner's :class:`keepers.fund.planning.state.FundState`.

Field semantics (IAssetController.FundState -> planner):

- ``cash`` = the vault's ``freeCash`` and ``pending_redemptions`` = ``pendingRedemptions``, so
  the planner's L1 position ``cash - pending_redemptions`` is the contract's ``tierValues[0]``
  (cash not earmarked for redemptions; the contract clamps it at 0, the planner keeps the
  sign) and the planner's ``total_assets`` is the lens's ``totalAssets`` (free cash + live
  invested value - the queue's estimate; the vault's own ``totalAssets`` prices exits at the
  lower of mark and live and keeps queued shares in the supply until fulfilment). The contract's
  ``grossAssets`` counts only the unearmarked cash; the planner's gross counts all free cash.
- ``value`` includes assets locked in pending async requests (``pendingValue``).
- ``redeemable_now_value``: the whole value for instant assets (ERC-4626 funds, DEX tokens),
  the lens's ``redeemableNowValue`` (0 outside a window) for asynchronous RWAs.
- ``tiers[1..2].value`` are the contract's ``tierValues``; asset values are summed again by
  FundState, which checks the identity.
- an asset whose feed is down (stale, zero, out of bounds, reverting) is read as *unpriced*
  (``AssetState.priced`` False): the lens reports its price and value as 0, which is the
  contract's conservative value for exits, never a price the planner may trade on.
- an asset whose valuation the controller holds (``priceHold``: its feed stepped past the
  asset's step bound) is read with ``price_held`` True: the lens values it at the stepped
  answer, which the controller refuses to trade at. The holds and the vault's fee views come in
  one JSON-RPC batch at the same block (keepers.fund.holds).
- a read beside the lens's that fails at this block (a revert, a node that does not answer) is
  *not read* for this read only, never a default remembered for the next one: a venue whose
  room (its adapter's ``investableNow``, found through ``assetParams``) is not read has room 0
  (``AssetState.room_read`` False: no new money to it this read; its sales do not depend on it),
  the holds and the fees are None (not known, never "none held"), an unpriced asset whose
  decimals are not read stays unpriced (never dust). ``FundReading.not_read`` says each in
  words, for the status and the console.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from keepers.core.logging import get_logger
from keepers.fund.holds import FundFees, PriceHold, fee_reads, hold_reads, read_holds_and_fees
from keepers.fund.planning.state import AssetState, FundState
from keepers.tx.contracts import FundContracts
from keepers.tx.reads import Fn, Read, ReadFailed, call_all, call_many, checksum, fn
from keepers.tx.release import LEGACY_RELEASE, read_release
from keepers.tx.retry import RETRY_DELAY_S, NetworkUnavailable, with_retries

log = get_logger("keepers.fund.reader")

NO_CAP = 2**128 - 1  # the controller's cap when none is set (AssetParams.cap is a uint128)
NO_LIMIT = 2**255  # a venue's room this large or larger is no limit (type(uint256).max)
FUND_STATE = fn("FundLens", "fundState")
_ASSET_PARAMS = fn("AssetController", "assetParams")
_DECIMALS = fn("IERC20Min", "decimals")
_BALANCE_OF = fn("TieredVault", "balanceOf")
EXIT_HORIZON = fn("FundLens", "exitHorizon")
MOVE_LIMITS = fn("AssetController", "moveLimits")


class Rider(Protocol):
    """Reads another part of the keeper asks at every fund read, sent in the fund's one batch
    (keepers.fund.depth_reader: the pools' first step). ``reads()`` is asked before the batch;
    ``answered(block, reads, values)`` gets those reads back with each one's value or its
    ``ReadFailed`` (a failed one is the rider's to ask again or to call not read: never the
    fund read's failure). The reads travel with their answers, so two reads at once (a
    keeper's tick and its console's page) never pair one's answers with the other's reads."""

    def reads(self) -> list[Read]: ...

    def answered(self, block: int, reads: list[Read], values: list[Any]) -> None: ...


@dataclass(frozen=True)
class _FirstWord(Fn):
    """IAssetAdapter.investableNow (every adapter has it; the UniswapV3Adapter's ABI carries
    it), its answer taken as its first 32-byte word (``_word``: an answer shorter than a word,
    e.g. a fallback that answers nothing, is no limit known, as before the batched reads)."""

    def result(self, data: bytes) -> Any:
        return _word(data)


def _investable_now() -> Fn:
    f = fn("UniswapV3Adapter", "investableNow")
    return _FirstWord(f.name, f.selector, f.inputs, ())


_INVESTABLE_NOW = _investable_now()


@dataclass(frozen=True)
class FundReading:
    """One read: the planner's state, the block it was read at, and raw lens fields."""

    state: FundState
    block: int
    prices: dict[str, int]  # token -> raw feed answer
    feed_decimals: dict[str, int]
    tier_ratio_bps: tuple[int, int, int]  # the contract's (over its gross)
    top3_bps: int
    marked_at: int
    # token -> priceHold (listed); None: not read at this block (a failed read: not known,
    # never "nothing held"); empty on contracts of a release before the step bound
    holds: dict[str, PriceHold] | None = field(default_factory=dict)
    fees: FundFees | None = None
    # what this read could not read at its block, in words (a revert, the node): each is "not
    # read" for this read only (the status and the console show them)
    not_read: tuple[str, ...] = ()
    # the fee recipient's share balance at this block (asked in the read's batch for the
    # recipient the last read named: keepers.fund.fees_paid checks it is this read's)
    recipient_shares: tuple[str, int] | None = None
    # FundLens.exitHorizon at this block, asked in the read's batch (keepers.fund.horizon):
    # its decoded answer or its ReadFailed (not read); None: not asked
    horizon: Any = None
    # AssetController.moveLimits at this block, asked in the read's batch (the exit horizon
    # floor's window budget: keepers.fund.sizing): its decoded answer or its ReadFailed (not
    # read); None: not asked (a reading made elsewhere: the sizing stage asks it itself)
    move_limits: Any = None

    @property
    def held(self) -> list[PriceHold]:
        """The assets whose valuation step the controller holds now, in list order (none
        known when the holds were not read)."""
        return [h for h in (self.holds or {}).values() if h.held]


def _field(obj: Any, name: str, index: int) -> Any:
    return obj[name] if isinstance(obj, dict) else obj[index]


def to_fund_state(raw: Any, timestamp: int, symbols: dict[str, str]) -> FundState:
    """Map a decoded ``FundState`` tuple (web3 returns tuples) to the planner's state."""
    (
        _total,
        _gross,
        free_cash,
        pending,
        tier_values,
        _ratios,
        tiers,
        assets_raw,
        _top3,
        paused,
        _marked,
        base_decimals,
    ) = raw
    assets = []
    for a in assets_raw:
        (token, tier, instant, balance, price, _fdec, value, pending_value, redeemable,
         _conc, max_conc, cap, window_opens_at) = a  # fmt: skip
        token = checksum(token)
        assets.append(
            AssetState(
                token=token,
                symbol=symbols.get(token.lower(), token[:10]),
                tier=int(tier),
                balance=int(balance),
                value=int(value),
                instant=bool(instant),
                redeemable_now_value=int(value) if instant else min(int(redeemable), int(value)),
                pending_value=int(pending_value),
                max_concentration_bps=int(max_conc),
                window_opens_at=int(window_opens_at),
                # the lens answers 0 for a feed that is stale, zero, out of bounds or
                # reverting (never a price of 0): the asset is unpriced
                priced=int(price) > 0,
                cap=None if int(cap) >= NO_CAP else int(cap),
            )
        )
    state = FundState.build(
        timestamp=timestamp,
        base_decimals=int(base_decimals),
        cash=int(free_cash),
        pending_redemptions=int(pending),
        bands=[(int(t[0]), int(t[1]), int(t[2])) for t in tiers],
        assets=assets,
        paused=bool(paused),
    )
    # The lens sums the same values: a mismatch means the mapping above is wrong.
    for t in (1, 2):
        if state.tiers[t].value != int(tier_values[t]):
            raise ValueError(f"tier {t}: lens {tier_values[t]} != assets {state.tiers[t].value}")
    return state


class FundReader:
    """``read()`` -> FundReading, pinned to one block (one eth_call plus the block header)."""

    # the first wait of a read's retries on a network error (keepers.tx.retry.with_retries,
    # doubled at each of its 3 retries): its default, 3.5 s of waits in all before the read
    # is given up as NetworkUnavailable
    retry_delay_s = RETRY_DELAY_S

    def __init__(self, contracts: FundContracts, riders: list[Rider] | None = None) -> None:
        self.contracts = contracts
        self.riders: list[Rider] = list(riders or [])  # their reads go in the fund's batch
        self.w3 = contracts.w3
        self.addresses = contracts.addresses
        self.symbols = contracts.addresses.symbols
        self._adapters: dict[str, Any] = {}  # token -> its adapter's investableNow eth_call
        self._token_decimals: dict[str, int] = {}  # an ERC-20's decimals never change
        self._listed: list[str] = []  # the tokens the last read listed, in list order
        self._room_tokens: list[str] = []  # whose rooms the last batch asked
        self._recipient: str | None = None  # the fee recipient the last read named
        self._before_holds = False  # contracts without priceHold and the fee views (0.1.0)

    def read(self, block: Any = "latest") -> FundReading:
        header = with_retries(
            lambda: self.w3.eth.get_block(block), "eth_getBlockByNumber", delay_s=self.retry_delay_s
        )
        number = int(header["number"])
        got = self._batch(number)
        (raw,) = got["lens"]
        if isinstance(raw, ReadFailed):
            raise raw.error()
        state = to_fund_state(raw, int(header["timestamp"]), self.symbols)
        not_read: list[str] = []
        state = self._dust_is_not_held(state, number, not_read)
        listed = [a.token for a in state.assets]
        same = listed == self._listed  # what the batch asked for is this read's listing
        self._listed = listed
        state = self._venue_rooms(state, number, not_read, got["rooms"] if same else None)
        assets_raw = raw[7]
        feed_decimals: dict[str, int] = {checksum(a[0]): int(a[5]) for a in assets_raw}
        answered = got["holds"] + got["fees"] if same and "fees" in got else None
        holds, fees = self._holds_and_fees(state, feed_decimals, number, not_read, answered)
        if fees is not None and fees.phase:
            # the wind-down's phase comes with the fee views (not read: open, and the chain
            # refuses every purchase while closing anyway: availableCash() answers 0)
            state = replace(state, phase=fees.phase)
        if holds and any(h.held for h in holds.values()):
            state = replace(
                state,
                assets=tuple(
                    replace(a, price_held=holds[a.token].held) if a.token in holds else a
                    for a in state.assets
                ),
            )
        limits = (got.get("limits") or (None,))[0]
        if isinstance(limits, ReadFailed):  # the floor's sales wait (keepers.fund.sizing)
            not_read.append(
                "window budget (AssetController.moveLimits: "
                f"{why_not_read(_error(limits))}): no exit horizon floor sale on this read"
            )
        shares = None
        asked, (balance,) = self._recipient, got.get("recipient") or (None,)
        if asked is not None and not isinstance(balance, ReadFailed) and balance is not None:
            shares = (asked, int(balance))
        self._recipient = fees.recipient if fees is not None else None
        return FundReading(
            state=state,
            block=number,
            prices={checksum(a[0]): int(a[4]) for a in assets_raw},
            feed_decimals=feed_decimals,
            tier_ratio_bps=(int(raw[5][0]), int(raw[5][1]), int(raw[5][2])),
            top3_bps=int(raw[8]),
            marked_at=int(raw[10]),
            holds=holds,
            fees=fees,
            not_read=tuple(not_read),
            recipient_shares=shares,
            horizon=(got.get("horizon") or (None,))[0],
            move_limits=limits,
        )

    def _batch(self, block: int) -> dict[str, list[Any]]:
        """Everything the read asks at ``block``, in ONE JSON-RPC batch (keepers.tx.reads), by
        group: the lens's ``fundState`` (and its ``exitHorizon``: keepers.fund.horizon); the
        controller's ``moveLimits`` (the floor's window budget: keepers.fund.sizing); for
        the assets the last read listed (the listing
        changes only when the admin adds or removes one), each one's ``priceHold`` and its
        venue's room (``investableNow``, adapters known); the vault's fee views. Each read
        answers for itself (a failed one is "not read" for this read only); when the listing
        changed, the holds and rooms are asked again for the new one (``read``); each rider's
        reads (``Rider``: the pools' first step), answered to it. A group added here is one
        more entry of ``groups``."""
        a = self.addresses
        groups: dict[str, list[Read]] = {"lens": [Read(a.lens, FUND_STATE, (a.controller,))]}
        self._room_tokens = [t for t in self._listed if self._adapters.get(t) is not None]
        groups["rooms"] = [self._adapters[t]["read"] for t in self._room_tokens]
        if not self._before_holds:
            groups["holds"] = hold_reads(a.controller, self._listed)
            groups["fees"] = fee_reads(a.vault)
            groups["horizon"] = [Read(a.lens, EXIT_HORIZON, (a.controller,))]
            groups["limits"] = [Read(a.controller, MOVE_LIMITS)]
        if self._recipient is not None:  # its fee shares (keepers.fund.fees_paid)
            groups["recipient"] = [Read(a.vault, _BALANCE_OF, (self._recipient,))]
        riders = list(self.riders)
        for n, rider in enumerate(riders):
            groups[f"rider{n}"] = rider.reads()
        flat = [r for reads in groups.values() for r in reads]
        values = with_retries(
            lambda: call_many(self.w3, flat, block),
            "FundLens.fundState (batch)",
            delay_s=self.retry_delay_s,
        )
        out, i = {}, 0
        for name, reads in groups.items():
            out[name], i = values[i : i + len(reads)], i + len(reads)
        for n, rider in enumerate(riders):
            rider.answered(block, groups[f"rider{n}"], out[f"rider{n}"])
        return out

    def _holds_and_fees(
        self,
        state: FundState,
        feed_decimals: dict[str, int],
        block: int,
        not_read: list[str],
        answered: list[Any] | None = None,
    ) -> tuple[dict[str, PriceHold] | None, FundFees | None]:
        """The holds and the fee views; either is None when it could not be read at this block
        (a revert, the node gone: keepers.fund.holds reads each group alone when the batch
        fails, so a reverting fee view leaves the holds read): the fund's read goes on, the
        holds "not read", never "none held" (no nav_jump_ended on a failed read; a plan trading
        a held asset is refused by its simulation). Only contracts that answer no RELEASE()
        (0.1.0: no priceHold, no fees) are remembered as having none, and not asked again."""
        if self._before_holds:
            return {}, None
        try:
            holds, fees = with_retries(
                lambda: read_holds_and_fees(
                    self.w3, self.addresses.controller, self.addresses.vault, state,
                    feed_decimals, block, answered,
                ),
                "priceHold + fees (batch)", delay_s=self.retry_delay_s,
            )  # fmt: skip
        except (ContractLogicError, NetworkUnavailable, ValueError) as err:
            holds, fees = None, None
            if not isinstance(err, ContractLogicError):
                log.warning("fund.holds_not_read", block=block, error=str(err)[:200])
                not_read.append(f"valuation holds and fees: {why_not_read(err)}")
                return None, None
        if holds is None and fees is None and self._legacy():
            self._before_holds = True
            return {}, None
        if holds is None:
            log.warning("fund.holds_not_read", block=block)
            not_read.append("valuation holds (AssetController.priceHold): reverted")
        if fees is None:
            not_read.append(
                "fees (TieredVault fees, highWaterMark, pendingFeeShares, totalAssets, "
                "totalSupply): reverted"
            )
        return holds, fees

    def _legacy(self) -> bool:
        """Whether the controller answers no RELEASE() (0.1.0: no priceHold, no fee views, no
        investableNow on its adapters); False when the node's answer is not known."""
        try:
            return read_release(self.w3, self.contracts.addresses.controller) == LEGACY_RELEASE
        except Exception:  # noqa: BLE001 - the node's failure: not known, this read
            return False

    def _venue_rooms(
        self, state: FundState, block: int, not_read: list[str], answered: list[Any] | None = None
    ) -> FundState:
        """Each venue's room now, as the controller asks it before a leg: the asset's adapter's
        ``investableNow(token, controller)`` (an ERC-4626 fund's maxDeposit, which anyone can
        fill; an asynchronous issuer's room for another request), in one JSON-RPC batch. An
        asset's adapter is set when it is added and never changed (AssetControllerAdmin), so
        it is read once per asset (AssetParams) and kept while the asset is listed.

        A read that fails (the params, the room: a revert, the node) is not read for this read
        only: the asset's ``room_read`` is False (room 0: no new money to it now) and the next
        read asks again. Only an adapter of 0.1.0 (a controller without RELEASE(): adapters
        before investableNow) is remembered as having no room to read (no limit known: the
        simulation judges its purchases)."""
        if not state.assets:
            return state
        for gone in set(self._adapters) - {a.token for a in state.assets}:
            del self._adapters[gone]  # removed: added again, it may come with another adapter
        unread: dict[str, str] = {}  # token -> why its room is not read
        new = [a.token for a in state.assets if a.token not in self._adapters]
        for token, adapter in zip(new, self._adapter_of(new, block), strict=True):
            if isinstance(adapter, Exception):
                unread[token] = f"AssetController.assetParams: {why_not_read(adapter)}"
                continue
            ask = Read(adapter, _INVESTABLE_NOW, (token, self.addresses.controller))
            self._adapters[token] = {"to": adapter, "read": ask}
        asked = [a.token for a in state.assets if self._adapters.get(a.token) is not None]
        if answered is not None and asked == self._room_tokens:  # read in the fund's batch
            answers = [_error(g) if isinstance(g, ReadFailed) else g for g in answered]
        else:
            answers = self._rooms(asked, block)
        rooms: dict[str, int | None] = {}
        for token, answer in zip(asked, answers, strict=True):
            if not isinstance(answer, Exception):
                rooms[token] = answer  # its first word (_FirstWord)
            elif isinstance(answer, ContractLogicError) and self._legacy():
                self._adapters[token] = None  # 0.1.0: no investableNow, never asked again
            else:
                unread[token] = f"IAssetAdapter.investableNow: {why_not_read(answer)}"
        assets = []
        for a in state.assets:
            if a.token in unread:
                log.warning("fund.room_not_read", asset=a.symbol, block=block, why=unread[a.token])
                not_read.append(f"{a.symbol} venue room ({unread[a.token]})")
                assets.append(replace(a, investable_now=None, room_read=False))
                continue
            room = rooms.get(a.token)
            assets.append(
                replace(a, investable_now=None if room is None or room >= NO_LIMIT else room)
            )
        return replace(state, assets=tuple(assets))

    def _adapter_of(self, tokens: list[str], block: int) -> list[Any]:
        """Each token's adapter (``assetParams(token).adapter``) in one batch: an Exception in
        place of one that could not be read."""
        controller = self.addresses.controller
        got = self._each([Read(controller, _ASSET_PARAMS, (t,)) for t in tokens], block)
        return [g if isinstance(g, Exception) else checksum(g[2]) for g in got]

    def _rooms(self, tokens: list[str], block: int) -> list[Any]:
        """Each token's adapter's investableNow answer (its first word) in one batch: an
        Exception in place of one that could not be read."""
        return self._each([self._adapters[t]["read"] for t in tokens], block)

    def _each(self, reads: list[Read], block: int) -> list[Any]:
        """Each read's value in one batch (keepers.tx.reads: each answers for itself), an
        Exception (as web3 raises it) in place of each that failed; the node gone (after its
        retries) or the batch refused: each the node's failure."""
        if not reads:
            return []
        try:
            got = with_retries(
                lambda: self._raw_batch(reads, block),
                "venue rooms (batch)",
                delay_s=self.retry_delay_s,
            )
        except (NetworkUnavailable, Web3RPCError) as err:  # none read, at once
            return [err for _ in reads]
        return [_error(g) if isinstance(g, ReadFailed) else g for g in got]

    def _raw_batch(self, reads: list[Read], block: int) -> list[Any]:
        return call_many(self.w3, reads, block)

    def _decimals(self, token: str, block: int) -> int:
        if token not in self._token_decimals:
            (dec,) = call_all(self.w3, [Read(token, _DECIMALS)], block)
            self._token_decimals[token] = int(dec)
        return self._token_decimals[token]

    def _dust_is_not_held(self, state: FundState, block: int, not_read: list[str]) -> FundState:
        """An unpriced asset whose position is token dust (at most a millionth of a token, the
        controller's rule: ValuationLib.isTokenDust) closes nothing on chain; the keeper counts
        it as priced at its (zero) value rather than holding the fund back for a donated wei.
        Only unpriced, held assets cost a call (the token's decimals); one whose decimals are
        not read stays unpriced (not known to be dust)."""
        changed = []
        for a in state.assets:
            if a.held_unpriced:
                try:
                    dec = int(
                        with_retries(
                            partial(self._decimals, a.token, block),
                            "ERC20.decimals",
                            delay_s=self.retry_delay_s,
                        )
                    )
                except (
                    ContractLogicError,
                    BadFunctionCallOutput,
                    NetworkUnavailable,
                    Web3RPCError,
                ) as err:
                    not_read.append(f"{a.symbol} token decimals (dust check): {why_not_read(err)}")
                    continue
                if is_token_dust(a.balance, dec):
                    changed.append(a.token)
        if not changed:
            return state
        assets = [replace(a, priced=True) if a.token in changed else a for a in state.assets]
        return replace(state, assets=tuple(assets))


def _error(failed: ReadFailed) -> Exception:
    """A failed read as web3 raises it; the node's refusal of this one call (no revert, no
    answer to decode) as the node not answering it."""
    if failed.reverted or failed.bad_output:
        return failed.error()
    return NetworkUnavailable(f"{failed.what}: {failed.message}")


def why_not_read(err: BaseException) -> str:
    """A failed read's reason in a few words (a revert, the node)."""
    if isinstance(err, ContractLogicError):
        return "reverted"
    if isinstance(err, NetworkUnavailable):
        return "the node did not answer"
    return f"{type(err).__name__}: {str(err)[:120]}"


def view_not_read(view: dict[str, Any] | None, what: str) -> list[str]:
    """``what`` not read, with the reason a display view carries in its ``error`` (the status's
    and the console's "not read" lists); [] when the view was read, or is None."""
    return [f"{what} ({view['error']})"] if view is not None and "error" in view else []


def unread_lines(
    view: dict[str, Any] | None, what: str, absent: str = "not read"
) -> list[str] | None:
    """A display view's text when there is nothing to show: ``what: absent`` for no view
    (None), ``what: not read (error)`` for a read that failed; None when the view was read
    (its own lines follow)."""
    if view is None:
        return [f"{what}: {absent}"]
    if "error" in view:
        return [f"{what}: not read ({view['error']})"]
    return None


def _word(answer: Any) -> int | None:
    """The first 32-byte word of an eth_call's answer, as an unsigned integer (None: no word,
    e.g. a fallback that answered nothing: no limit known)."""
    data = bytes(answer)
    return int.from_bytes(data[:32], "big") if len(data) >= 32 else None


def is_token_dust(units: int, token_decimals: int) -> bool:
    """At most a millionth of one token (1 unit for a token of 6 decimals or fewer): the
    controller's dust rule (ValuationLib.isTokenDust)."""
    return units <= 1 if token_decimals <= 6 else units <= 10 ** (token_decimals - 6)
