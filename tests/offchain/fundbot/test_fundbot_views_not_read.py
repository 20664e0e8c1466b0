"""`keeper status` and the console's fund page survive any single reverting view (issue 65).

Each view the two read is made to revert in turn on the deployed local fund, for the keeper's
own call only: the contract's code is copied to a spare address and the contract's address is
given a small proxy (anvil_setCode) that reverts that one selector when it is called from
outside (CALLER == ORIGIN, an eth_call's top frame) and delegates everything else to the copy,
so the contract keeps its storage and answers every other caller, the lens's own calls among
them. The status then exits 0 saying "not read" for that item and showing the rest; the page
answers 200 naming what was not read.

``VIEWS`` lists every view the two read, by contract and function; the first test records the
eth_calls both make and fails on a view missing from it, so a new read is covered once it is
named here."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import web3._utils.http_session_manager as hsm
from click.testing import CliRunner
from eth_utils import function_abi_to_4byte_selector

from keepers import abis
from keepers.cli import main
from keepers.fund.holds import FEE_VIEWS
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import keeper_cli as keeper
from tests.support.reverting_view import view_reverts

NOW = 1_800_000_000

# (contract, function) -> what the status and the page say was not read. Contracts: vault,
# controller, lens, the adapters by their record key, "asset" (a token the fund holds:
# TBILL-A, an 18-decimal token; MMF-A for the ERC-4626 adapter's room), "cash".
VIEWS: dict[tuple[str, str], str] = {
    ("lens", "fundState"): "fund state: not read (FundLens.fundState: reverted",
    ("controller", "assetParams"): "venue room (AssetController.assetParams: reverted)",
    **{
        (adapter, "investableNow"): "venue room (IAssetAdapter.investableNow: reverted)"
        for adapter in ("uniswap", "erc4626", "async")
    },
    ("controller", "priceHold"): "valuation holds: not read",
    # the fee views, read together (the wind-down phase and the price fixed at close with them)
    **{("vault", view): "fees: not read" for view in FEE_VIEWS},
    ("vault", "previewRedeemInKind"): "in-kind exit: not read (TieredVault.previewRedeemInKind",
    ("asset", "decimals"): "token decimals (in-kind preview shown in base units)",
    ("vault", "balanceOf"): "fees paid: not read",
    ("timelock", "EXECUTION_WINDOW"): "timelock: not read",
    ("lens", "exitHorizon"): "exit horizon: not read (ContractLogicError",
    ("uniswap", "poolFee"): "exit horizon: not read (ContractLogicError",
    ("controller", "moveLimits"): "window budget (AssetController.moveLimits: reverted)",
}
# the exit horizon's pools part (keepers.fund.horizon, the depth reader's pool reads): a pool,
# the quoter or the factory that does not answer leaves the whole horizon not read, as its own
# exitHorizon reverting does (covered above)
POOLS = {
    ("uniswap_quoter", "factory"),
    ("uniswap_factory", "getPool"),
    *(
        ("pool", f)
        for f in ("slot0", "tickSpacing", "liquidity", "fee", "token0", "tickBitmap", "ticks")
    ),
}
# read once when the keeper starts (the chain, the contracts, their release, the tier bands):
# a keeper refuses contracts that do not answer them (keepers.fund.deployment), not a status
STARTUP = {
    ("controller", "RELEASE"),
    ("vault", "RELEASE"),
    ("lens", "RELEASE"),
    ("controller", "vault"),
    ("vault", "controller"),
    ("vault", "asset"),
    ("controller", "tier"),
    ("controller", "cash"),
    ("controller", "assetList"),
}
# the console's units (symbol and decimals of a token or feed, read once and kept): a token
# that does not answer is shown without them (keepers.console.units)
UNITS = {("asset", "symbol"), ("asset", "decimals"), ("cash", "symbol"), ("cash", "decimals"),
         ("feed", "decimals")}  # fmt: skip


def _selectors() -> dict[str, str]:
    out = {}
    for name in (
        "TieredVault",
        "AssetController",
        "FundLens",
        "UniswapV3Adapter",
        "IERC20Min",
        "FundTimelock",
        "IUniswapV3Pool",
        "IUniswapV3Factory",
        "IQuoterV2",
    ):
        for e in abis.load(name):
            if e.get("type") == "function":
                out["0x" + function_abi_to_4byte_selector(e).hex()] = e["name"]
    return out


def _roles(record: dict[str, Any]) -> dict[str, str]:
    roles = {record[k].lower(): k for k in ("vault", "controller", "lens", "cash", "timelock")}
    for k, a in (record.get("adapters") or {}).items():
        roles[a.lower()] = k
    for a in record["assets"].values():
        roles[a.lower()] = "asset"
    for a in record["feeds"].values():
        roles[a.lower()] = "feed"
    return roles


def _pools(fund: Any) -> dict[str, str]:
    """The fund's Uniswap V3 pools, as the role "pool"."""
    a = fund.adapters
    out = {}
    for token in fund.assets.values():
        fee = int(a["uniswap"].poolFee(token))
        if fee:
            out[str(a["uniswap_factory"].getPool(token, fund.cash, fee)).lower()] = "pool"
    return out


@contextmanager
def recorded() -> Iterator[list[tuple[str, str]]]:
    """Every eth_call this process sends meanwhile, as (to, selector), batches included."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()
    real = hsm.HTTPSessionManager.make_post_request

    def record(self: Any, uri: Any, data: Any, **kw: Any) -> bytes:
        body = json.loads(data) if isinstance(data, (bytes, str)) else data
        for r in body if isinstance(body, list) else [body]:
            if r.get("method") == "eth_call" and r["params"][0].get("to"):
                c = r["params"][0]
                with lock:
                    seen.append((c["to"].lower(), (c.get("data") or c.get("input"))[:10]))
        return real(self, uri, data, **kw)

    hsm.HTTPSessionManager.make_post_request = record  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        hsm.HTTPSessionManager.make_post_request = real  # type: ignore[method-assign]


def _target(record: dict[str, Any], contract: str) -> str:
    if contract in ("vault", "controller", "lens", "cash", "timelock"):
        return record[contract]
    if contract == "asset":
        return record["assets"]["TBILL-A"]
    return record["adapters"][contract]


def test_views__status_and_console_read__each_named_in_the_list(env, fresh):
    """Every view `keeper status` and the fund page read is in VIEWS (covered below), a
    start-up check or the console's units: a new read fails here until it is named."""
    selectors, roles = _selectors(), {**_roles(fresh.addresses()), **_pools(fresh)}
    with recorded() as seen:
        assert keeper(env, "status").exit_code == 0
        with running_console(env, now=NOW) as c:
            assert Client(c.url).get("/fund")[0] == 200
    read = {(roles.get(to, to), selectors.get(sel, sel)) for to, sel in seen}
    assert read - set(VIEWS) - STARTUP - UNITS - POOLS == set(), "a view read that is not covered"
    assert set(VIEWS) <= read, set(VIEWS) - read  # each listed view is still read


@pytest.mark.parametrize("view", sorted(VIEWS), ids=lambda v: f"{v[0]}.{v[1]}")
def test_views__one_reverts__status_exits_0_page_200_naming_it(view, env, fresh, chain):
    contract, function = view
    record = fresh.addresses()
    selector = next(s for s, n in _selectors().items() if n == function)
    said = VIEWS[view]
    with view_reverts(chain, _target(record, contract), selector):
        r = keeper(env, "status")
        assert r.exit_code == 0, r.output
        assert said in r.output, r.output
        j = CliRunner(mix_stderr=False).invoke(main, ["--json", "status"], env=env)
        assert j.exit_code == 0, j.output
        doc = json.loads(j.stdout)  # the warnings are log lines on stderr
        assert doc["not_read"], doc  # named in the document too
        with running_console(env, now=NOW) as c:
            status, _, page = Client(c.url).get("/fund")
    assert status == 200, page[-2000:]
    assert "fleet" in r.output and "Fleet" in page  # the rest is shown
    if view == ("lens", "fundState"):
        assert doc["block"] is None and doc["tiers"] is None
        assert 'id="fund-not-read"' in page and "FundLens.fundState: reverted" in page
        return
    # the fund itself is read and shown: only the item is not read
    assert doc["block"] is not None and len(doc["tiers"]) == 3
    assert re.search(r'<table id="tiers">', page)
    unread = re.search(r'<ul id="not-read">(.*?)</ul>', page, re.S)
    assert unread, page[-3000:]
    words = said.split(": not read")[0] if ": not read" in said else said
    assert any(words.split(" (")[0] in x for x in doc["not_read"]), doc["not_read"]
    assert words.split(" (")[0] in unread.group(1), unread.group(1)


@pytest.mark.parametrize("view", sorted(STARTUP), ids=lambda v: f"{v[0]}.{v[1]}")
def test_views__startup_check_reverts__refused_exit_2_naming_it(view, env, fresh, chain):
    """A view the keeper's start-up check reads (is this the fund's code, its release, its
    bands) that reverts is a refusal with its reason (exit 2), never a traceback."""
    contract, function = view
    selector = next(s for s, n in _selectors().items() if n == function)
    with view_reverts(chain, _target(fresh.addresses(), contract), selector):
        r = CliRunner().invoke(main, ["status"], env=env)
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.output.strip(), "refused without a reason"


def test_reader__venue_room_reverts__not_read_for_that_read_only_asked_again(
    make_bot, fresh, chain, monkeypatch
):
    """An adapter's investableNow that reverts once: its venues' rooms are not read for that
    read (room 0: no new money, named in ``not_read``), the other venues' are, and the next
    read asks again and reads them (it once marked the venue "no limit" for the process's
    life). The same for the controller's assetParams, which names the adapter."""
    record = fresh.addresses()
    bot = make_bot()
    before = {a.symbol: a for a in bot.reader.read().state.assets}
    assert all(a.room_read for a in before.values())
    adapter = record["adapters"]["erc4626"]
    served = {s for s, a in before.items() if bot.reader._adapters[a.token]["to"] == adapter}
    assert served and served != set(before)
    investable = next(s for s, n in _selectors().items() if n == "investableNow")
    with view_reverts(chain, adapter, investable):
        r = bot.reader.read()
    got = {a.symbol: a for a in r.state.assets}
    for s, a in got.items():
        if s in served:
            assert (a.room_read, a.room, a.investable_now) == (False, 0, None), a
        else:
            assert a.room_read and a.room == before[s].room, a
    assert sorted(x for x in r.not_read) == sorted(
        f"{s} venue room (IAssetAdapter.investableNow: reverted)" for s in served
    )
    again = {a.symbol: a for a in bot.reader.read().state.assets}
    assert again == before  # asked again: read, nothing remembered from the failure

    params = next(s for s, n in _selectors().items() if n == "assetParams")
    fresh_bot = make_bot()  # adapters not known yet: read through assetParams
    with view_reverts(chain, record["controller"], params):
        r = fresh_bot.reader.read()
    assert not any(a.room_read for a in r.state.assets)
    assert {a.symbol: a.room for a in r.state.assets} == {s: 0 for s in before}
    assert {a.symbol: a for a in fresh_bot.reader.read().state.assets} == before

    # the node not answering the rooms' calls (the rooms are asked in the fund's one batch,
    # adapters known: the node refuses those calls of it): every room not read at once, the
    # fund's read goes on; the next read reads them
    provider = fresh_bot.w3.provider
    real = provider.make_batch_request

    def rooms_refused(requests):
        answers = real(requests)
        for req, answer in zip(requests, answers, strict=True):
            if req[0] == "eth_call" and req[1][0]["data"].startswith(investable):
                answer.pop("result", None)
                answer["error"] = {"code": -32000, "message": "node gone"}
        return answers

    monkeypatch.setattr(provider, "make_batch_request", rooms_refused)
    r = fresh_bot.reader.read()
    assert not any(a.room_read for a in r.state.assets)
    assert all("the node did not answer" in x for x in r.not_read) and r.not_read
    monkeypatch.undo()
    assert {a.symbol: a for a in fresh_bot.reader.read().state.assets} == before

    # the node gone during the rooms' own read (adapters not known yet: asked after the
    # fund's batch, after its retries): every room not read at once, the fund's read goes on
    from keepers.tx.retry import NetworkUnavailable

    def gone(*_a, **_k):
        raise NetworkUnavailable("node gone")

    third = make_bot()
    monkeypatch.setattr(third.reader, "_raw_batch", gone)
    r = third.reader.read()
    assert not any(a.room_read for a in r.state.assets)
    assert all("the node did not answer" in x for x in r.not_read) and r.not_read
    monkeypatch.undo()
    assert {a.symbol: a for a in third.reader.read().state.assets} == before


def test_depth__one_pool_reverts__that_venue_not_traded_others_keep_their_depth(
    make_bot, fresh, chain
):
    """A Uniswap V3 pool whose slot0 reverts for the keeper's read: that venue's depth is not
    read (0 both ways: not traded on this plan, never "no limit"), every other venue keeps the
    depth it had (one failure once dropped every venue's depth for the plan); the next read
    reads it again."""
    from keepers import abis

    bot = make_bot()
    reading = bot.reader.read()
    limit, target = bot.cfg.rebalance_max_slippage, bot.cfg.rebalance_target_slippage
    before = bot.depth.read(reading, limit, target)
    pools = {t: bot.depth.pool_address(t) for t in before if bot.depth.pool_address(t)}
    assert len(pools) >= 2, before
    token, pool = sorted(pools.items())[0]
    slot0 = "0x" + next(
        function_abi_to_4byte_selector(e).hex()
        for e in abis.load("IUniswapV3Pool")
        if e.get("name") == "slot0"
    )
    with view_reverts(chain, pool, slot0):
        during = bot.depth.read(reading, limit, target)
    d = during[token]
    assert (d.max_buy, d.max_sell, d.cheap_buy, d.cheap_sell) == (0, 0, 0, 0), d
    assert "depth not read" in d.detail
    assert {t: x for t, x in during.items() if t != token} == {
        t: x for t, x in before.items() if t != token
    }
    assert bot.depth.read(reading, limit, target) == before


def test_venue_check__previews_revert__venue_held_that_plan_then_checked_again(
    make_bot, fresh, chain
):
    """An ERC-4626 venue that answered its previews and reverts now is not read: held both
    ways for that plan (it was taken for a venue without previews and traded unchecked), and
    checked again on the next plan."""
    bot = make_bot()
    token = fresh.assets["MMF-A"].address
    first = bot.sizing.hold_venues(bot.reader.read(), {}, NOW)
    assert token not in first or first[token].max_buy != 0  # agrees with its feed: not held
    preview = next(s for s, n in _selectors().items() if n == "previewDeposit")
    with view_reverts(chain, token, preview):
        during = bot.sizing.hold_venues(bot.reader.read(), {}, NOW)
    d = during[token]
    assert (d.max_buy, d.max_sell, d.cheap_buy, d.cheap_sell) == (0, 0, 0, 0), d
    assert "previews (previewDeposit, previewRedeem) not read" in d.detail
    assert bot.sizing.hold_venues(bot.reader.read(), {}, NOW) == first
