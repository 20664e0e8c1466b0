"""The operators' page (the fund now) and the manual rebalance proposed from it.

The fund page reads the chain through the fund bot's reader (one FundLens call, as `keeper
status`), the feeds of held unpriced assets, the store's plans, cost bookings and fleet, and
the automation side when a scheduler is configured. A manual rebalance from the page is stored
as a *proposed* plan with the manual trigger `keeper plan` uses: the running keeper takes it
through the same risk check, freeze, approvals and simulation as any plan on its next tick.
The console signs nothing and sends nothing: it cannot move money."""

from __future__ import annotations

from typing import Any

from keepers.console.html import Markup, h, page, pct, post_form, table, tag, tiers_chart
from keepers.console.units import Units, checksum_text, checksummed, decimals_of, token_info
from keepers.console.views import WAITING, span, utc
from keepers.fund.holders import holders_not_read, leg_words
from keepers.fund.planning.state import PHASES
from keepers.fund.service import fleet_view, optional_bot, read_fund
from keepers.version import NOT_IN_CONTRACTS

DAY = 86_400


def _runbook(settings: Any, code: str) -> Markup:
    if settings.runbook_url:
        return tag("a", code, href=f"{settings.runbook_url.rstrip('#')}#{code}")
    return tag("code", f"docs/runbook.md#{code}")


def _alerts(
    ctx: Any, settings: Any, st: Any, down: list[Any], now: int, held: list[Any] | None = None
) -> list[list[Any]]:
    """The alert causes in force now, read from the chain and the store (each alert code's
    cause, not a log of sent alerts): the fund paused, feeds down, valuations held, plans
    waiting for approval (and near their deadline), carried flow without a safe move."""
    rows: list[list[Any]] = []
    if st is not None and st.paused:
        rows.append(["critical", _runbook(settings, "paused"), "the fund is paused"])
    for d in down:
        rows.append(["warning", _runbook(settings, "feed_down"), d.describe()])
    for hold in held or []:
        rows.append(["critical", _runbook(settings, "nav_jump"), hold.describe()])
    for row in ctx.records().plans.with_status(WAITING, view=True):
        deadline = (row.payload.get("approval") or {}).get("deadline")
        near = deadline is not None and int(deadline) - now <= settings.near_deadline_s
        rows.append(
            [
                "critical" if near else "warning",
                _runbook(settings, "approval_needed"),
                Markup(
                    h("plan ")
                    + tag("a", row.ref, href=f"/plans/{row.ref}")
                    + h(f" waits for approval, deadline {utc(deadline)}")
                ),
            ]
        )
    for c in ctx.records().carry.active(view=True):
        if c.reason:
            rows.append(["warning", _runbook(settings, "no_safe_move"), c.reason])
    return rows


def _held_row(bot: Any, a: Any, price: Any, units: Units) -> list[Any]:
    """A held asset: its balance in whole tokens with its symbol, its value, its feed, and its
    price per whole token in the base token (the feed's answer at its decimals, or its value
    over its balance); raw base units and the feed's raw answer when asked for."""
    symbol, decimals = token_info(bot, a.token)
    symbol = a.symbol or symbol or "?"
    if units.base or decimals is None:
        balance = f"{a.balance} base units of {symbol}"
        shown_price = "-" if price is None else f"{price} (the feed's raw answer)"
    else:
        balance = f"{Units(decimals)(a.balance)} {symbol}"
        feed = (bot.addresses.feeds or {}).get(a.symbol)
        feed_decimals = decimals_of(bot, feed) if feed else None
        per_token = None
        if price is not None and feed_decimals is not None:  # the feed's answer, scaled
            per_token = int(price) * 10**units.decimals // 10**feed_decimals
        elif a.balance > 0 and a.priced:  # else from its value at the oracle
            per_token = (a.value - a.pending_value) * 10**decimals // a.balance
        shown_price = "-" if per_token is None else f"{units(per_token)} per {symbol}"
    return [
        Markup(h(symbol) + h(" ") + tag("code", checksummed(a.token))),
        f"L{a.tier + 1}",
        balance,
        units(a.value),
        tag("span", "ok", class_="ok") if a.priced else tag("span", "DOWN", class_="bad"),
        shown_price,
    ]


def _holders_section(view: dict[str, Any], amount_of: Units) -> Markup:
    """Fees (rates, recipient, pending now, the high-water mark against the price per share),
    held valuation steps and what an in-kind exit of 1% of the supply pays now. What an older
    release's contracts lack is said as not in these contracts, never as not read."""
    absent = set(view.get("not_in_these_contracts") or ())
    f = view.get("fees")
    fees = (
        table(
            [
                "management",
                "performance",
                "recipient",
                "pending now",
                "high-water mark",
                "price per share now",
            ],
            [
                [
                    pct(int(f["management_bps"])) + " a year",
                    pct(int(f["performance_bps"])) + " above the mark",
                    tag("code", checksummed(f["recipient"])),
                    f"{amount_of(int(f['pending_value']))} ({f['pending_shares']} shares)",
                    f["high_water_mark_human"],
                    f["price_per_share_human"]
                    + (" (closed: fixed at close)" if f.get("closed") else ""),
                ]
            ],
            id="fees",
        )  # fmt: skip
        if f is not None
        else tag("p", f"fees: {NOT_IN_CONTRACTS}", class_="muted", id="fees")
        if "fees" in absent
        else tag("p", "fees not read", class_="bad", id="fees")
    )
    holds = view.get("valuation_holds")
    held = (
        table(
            ["asset", "reference", "answer", "move", "allowed", "since"],
            [
                [
                    Markup(h(x["symbol"]) + h(" ") + tag("code", checksummed(x["token"]))),
                    x["reference_human"],
                    x["answer_human"],
                    f"{x['move_bps']:+d} bps",
                    f"{x['allowed_bps']} bps",
                    utc(int(x["reference_at"])),
                ]
                for x in holds
            ],
            id="valuation-holds",
        )  # fmt: skip
        if holds
        else tag(
            "p", f"valuation step bounds: {NOT_IN_CONTRACTS}", class_="muted", id="valuation-holds"
        )
        if "valuation_holds" in absent
        else tag("p", "valuation holds not read", class_="bad", id="valuation-holds")
        if holds is None
        else tag("p", "no valuation held", class_="muted", id="valuation-holds")
    )
    k = view.get("in_kind")
    in_kind = (
        table(
            ["shares (1% of the supply)", "cash", "tokens"],
            [
                [
                    k["shares"],
                    amount_of(int(k["cash"])),
                    ", ".join(leg_words(t) for t in k["tokens"] if t["amount"] != "0") or "-",
                ]
            ],
            id="in-kind",
        )  # fmt: skip
        if k is not None and "not_read" not in k
        else tag("p", f"in-kind exit: {NOT_IN_CONTRACTS}", class_="muted", id="in-kind")
        if "in_kind" in absent
        else tag("p", "no shares: no in-kind exit to show", class_="muted", id="in-kind")
        if k is None
        else tag("p", f"in-kind exit not read: {k['not_read']}", class_="bad", id="in-kind")
    )
    return tag(
        "section",
        tag("h2", "Fees"),
        fees,
        tag("h2", "Held valuation steps"),
        held,
        tag("h2", "An in-kind exit now (0.5% penalty kept by the fund)"),
        in_kind,
    )


def _fees_paid_section(v: dict[str, Any] | None, amount_of: Any) -> Any:
    """What the fee recipient has been paid to date and holds now (issue 67)."""
    head = tag("h2", "Fees paid to date")
    if v is None or "error" in v:
        why = "fees not read" if v is None else f"not read: {v['error']}"
        return tag("section", head, tag("p", why, class_="bad"))
    since = "the deployment" if v["whole_history"] else f"block {v['from_block']}"
    rows = [
        [
            f"minted since {since} ({v['accruals']} accruals)",
            f"{int(v['minted_shares']):,}",
            amount_of(int(v["minted_management"]) + int(v["minted_performance"])),
            amount_of(int(v["minted_value_now"])),
        ],
        [
            f"held by the recipient {v['recipient']} now",
            f"{int(v['held_shares']):,}",
            "-",
            amount_of(int(v["held_value"])),
        ],
    ]
    return tag(
        "section",
        head,
        table(["", "shares", "worth when minted", "worth now"], rows, id="fees-paid"),
    )


def _horizon_section(v: dict[str, Any] | None, amount_of: Any) -> Any:
    """What the fund can pay in base coin within 0, 1, 7 and 30 days (issue 67)."""
    head = tag("h2", "Exit horizon: base coin payable by then, inside the keeper's budgets")
    if v is None:
        return tag("section", head, tag("p", f"exit horizon: {NOT_IN_CONTRACTS}", class_="muted"))
    if "error" in v:
        return tag("section", head, tag("p", f"not read: {v['error']}", class_="bad"))
    parts = ("total", "venues", "async", "pools")
    rows = [
        [f"within {d} days" if d else "at once", *(amount_of(int(v[p][k])) for p in parts)]
        for k, d in enumerate(v["days"])
    ]
    short = " (SHORT of the 1-day horizon)" if v["short_1d"] else ""
    need = f"next day's need: the queue + {v['forecast_bps'] / 100:g}% forecast = "
    return tag(
        "section",
        head,
        table(
            [
                "horizon",
                "total",
                "ERC-4626 venues",
                "async RWA",
                f"pools at {v['pool_cost_bps']} bps",
            ],
            rows,
            id="exit-horizon",
        ),
        tag(
            "p",
            f"L1 free cash {amount_of(int(v['cash']))} in every horizon; "
            + need
            + amount_of(int(v["need_1d"]))
            + short,
            class_="bad" if v["short_1d"] else "muted",
        ),
    )


def _timelock_section(doc: dict[str, Any] | None) -> Any:
    """What the admin has queued in the FundTimelock: when each change becomes executable and
    when it expires (issue 67)."""
    head = tag("h2", "Queued in the timelock (the guardian can cancel any at once)")
    if doc is None:
        return tag(
            "section", head, tag("p", "no timelock in the deployment record", class_="muted")
        )
    if "error" in doc:
        return tag("section", head, tag("p", f"not read: {doc['error']}", class_="bad"))
    if not doc["queued"]:
        return tag("section", head, tag("p", "nothing queued", class_="muted", id="timelock-none"))
    rows = [
        [
            o["id"][:18],
            ", ".join(o["calls"]),
            tag("span", o["state"], class_="bad" if o["state"] == "ready" else "muted")
            if o["state"] != "waiting"
            else o["state"],
            utc(o["ready_at"]),
            "never" if o["expires_at"] is None else utc(o["expires_at"]),
        ]
        for o in doc["queued"]
    ]
    return tag(
        "section",
        head,
        table(
            ["operation", "calls", "state", "executable from", "expires after"], rows, id="timelock"
        ),
    )


def _not_read_section(not_read: list[str], holders: dict[str, Any]) -> Markup:
    """What this page could not read at its block (each "not read" for this page only: a
    view that reverted, the node), or nothing."""
    items = [*not_read, *holders_not_read(holders)]
    if not items:
        return Markup("")
    return tag(
        "section",
        tag("h2", "Not read at this block"),
        tag("ul", *(tag("li", checksum_text(x)) for x in items), id="not-read"),
    )


def fund_page(ctx: Any, settings: Any, now: int, nonce: str, csrf: str, base: bool = False) -> str:
    from keepers.fund.feeds import feeds_down
    from keepers.fund.fees_paid import fees_paid_not_read, fees_paid_view
    from keepers.fund.holders import holders_view
    from keepers.fund.horizon import exit_horizon_not_read, exit_horizon_view
    from keepers.fund.planning.report import tier_rows
    from keepers.fund.timelock import timelock_not_read, timelock_view

    parts: list[Any] = []
    bot = optional_bot(ctx)
    st = None
    down: list[Any] = []
    held_steps: list[Any] = []
    if bot is None:
        parts.append(
            tag(
                "section",
                tag(
                    "p",
                    f"chain data unavailable: {ctx.offline or 'no deployment record'}",
                    class_="bad",
                ),  # fmt: skip
            )
        )
    else:
        reading, why = read_fund(bot)
        if reading is None:
            parts.append(
                tag(
                    "section",
                    tag("h2", "The fund"),
                    tag(
                        "p",
                        f"fund state not read ({why}): the tiers, the assets, the fees and the "
                        "cost budget come from it; the rest of the page does not",
                        class_="bad",
                        id="fund-not-read",
                    ),
                )
            )
        else:
            st = reading.state
            d = st.base_decimals
            amount_of = Units(d, token_info(bot, bot.addresses.cash)[0], base)

            def amount(value: int | None, _decimals: int) -> str:
                return amount_of(value)

            controller = bot.contracts.only("controller", "assetParams")
            down = feeds_down(controller, bot.w3, st, reading.block)
            tiers = tier_rows(st)
            parts.append(
                tag(
                    "section",
                    tag("h2", f"The fund at block {reading.block}"),
                    table(
                        [
                            "NAV (total assets)",
                            "gross",
                            "pending redemptions",
                            "mark",
                            "paused",
                            "phase",
                        ],
                        [
                            [
                                amount(st.total_assets, d),
                                amount(st.gross_assets, d),
                                amount(st.pending_redemptions, d),
                                f"{utc(reading.marked_at)} ({span(st.timestamp - reading.marked_at)} old)",
                                "PAUSED" if st.paused else "no",
                                # the wind-down's (issue 67): open, closing, closed
                                PHASES[st.phase],
                            ]
                        ],
                        id="nav",
                    ),
                    tiers_chart({"before": tiers}),
                    table(
                        ["tier", "value", "share", "band", "in band"],
                        [
                            [
                                t["tier"],
                                amount(t["value"], d),
                                pct(t["ratio_bps"]),
                                f"{pct(t['min_bps'])} - {pct(t['max_bps'])} (target {pct(t['target_bps'])})",
                                tag("span", "yes", class_="ok")
                                if t["within_bounds"]
                                else tag("span", "NO", class_="bad"),
                            ]
                            for t in tiers
                        ],
                        id="tiers",
                    ),
                )
            )
            held = [a for a in st.assets if a.balance > 0 or a.pending_value > 0]
            parts.append(
                tag(
                    "section",
                    tag("h2", "Held venues and their feeds"),
                    table(
                        ["asset", "tier", "balance", "value", "feed", "price"],
                        [_held_row(bot, a, reading.prices.get(a.token), amount_of) for a in held],
                        id="assets",
                    )
                    if held
                    else tag("p", "no asset held", class_="muted"),
                )
            )
            held_steps = reading.held
            holders = holders_view(bot, reading)
            parts.append(_holders_section(holders, amount_of))
            # nothing of fees paid on contracts without fees (the fees line says so)
            fees_absent = "fees" in (holders.get("not_in_these_contracts") or ())
            fees_paid = None if fees_absent else fees_paid_view(bot, reading)
            queue = timelock_view(bot, reading.block, st.timestamp)
            if not fees_absent:
                parts.append(_fees_paid_section(fees_paid, amount_of))
            horizon = exit_horizon_view(bot, reading)
            parts.append(_horizon_section(horizon, amount_of))
            parts.append(_timelock_section(queue))
            cfg = ctx.config().planning
            spent_day, spent_30 = ctx.records().plans.costs_since(
                now - DAY, now - 30 * DAY, view=True
            )
            budget_day = st.total_assets * cfg.rebalance_cost_budget_daily // 10_000
            budget_30 = st.total_assets * cfg.rebalance_cost_budget_30d // 10_000
            parts.append(
                tag(
                    "section",
                    tag("h2", "Cost budget"),
                    table(
                        ["window", "spent", "budget", "bps of NAV"],
                        [
                            [
                                "24 h",
                                amount(spent_day, d),
                                amount(budget_day, d),
                                str(cfg.rebalance_cost_budget_daily),
                            ],  # fmt: skip
                            [
                                "30 days",
                                amount(spent_30, d),
                                amount(budget_30, d),
                                str(cfg.rebalance_cost_budget_30d),
                            ],  # fmt: skip
                        ],
                        id="budget",
                    ),
                )
            )
            unread = [
                *reading.not_read,
                *fees_paid_not_read(fees_paid),
                *timelock_not_read(queue),
                *exit_horizon_not_read(horizon),
            ]
            parts.append(_not_read_section(unread, holders))
    alerts = _alerts(ctx, settings, st, down, now, held_steps)
    parts.append(
        tag(
            "section",
            tag("h2", "Alerts in force"),
            table(["level", "runbook", "what"], alerts, id="alerts")
            if alerts
            else tag("p", "none", class_="muted", id="alerts-none"),
        )
    )
    f = fleet_view(ctx)
    parts.append(
        tag(
            "section",
            tag("h2", "Fleet"),
            table(
                ["replica", "state", "host", "leads", "seen"],
                [
                    [
                        r["replica"],
                        "live" if r["live"] else "gone",
                        r["host"],
                        ", ".join(r["leads"]) or "nothing (follower)",
                        f"{r['seen_s_ago']:.0f} s ago",
                    ]  # fmt: skip
                    for r in f["replicas"]
                ],
                id="fleet",
            )
            if f["replicas"]
            else tag("p", "no keeper run has started", class_="muted", id="fleet-none"),
        )
    )
    parts.append(_automation())
    parts.append(
        tag(
            "section",
            tag("h2", "Propose a manual rebalance"),
            tag(
                "p",
                "The keeper plans it on its next tick, under the same risk checks and "
                "approvals as any plan: this page signs and sends nothing.",
                class_="muted",
            ),
            post_form(
                "/rebalance",
                csrf,
                tag("label", "Requested by", tag("input", type="text", name="by", id="by")),
                tag("label", "Reason", tag("input", type="text", name="reason", id="reason")),
                tag("input", type="submit", value="Propose", id="propose"),
                id="rebalance",
            ),
        )
    )
    return page("The fund now", Markup("".join(h(p) for p in parts)), nonce)


def _automation() -> Markup:
    """Due runs, stuck rebalancers and funders' runway, when a scheduler is configured."""
    import time

    from keepers.automation.status import automation_status
    from keepers.core.errors import KeeperError

    try:
        auto = automation_status(int(time.time()))
    except (KeeperError, OSError) as err:
        return tag("section", tag("h2", "Automation"), tag("p", str(err), class_="bad"))
    if auto is None:
        return tag(
            "section",
            tag("h2", "Automation"),
            tag("p", "no scheduler configured (KEEPER_SUPERVISOR_SCHEDULER)", class_="muted"),
        )
    rows = [["scheduler", auto["scheduler"]], ["due runs", str(auto["due_runs"])]]
    if "executor_credit_wei" in auto:
        rows.append(["executor credit owed (wei)", str(auto["executor_credit_wei"])])
    for s in auto.get("stuck", []):
        rows.append(["stuck", f"{s['task']}: {s['reason']}"])
    for f in auto.get("funders", []):
        n = f["runway_intervals"]
        runway = "?" if n is None else "unlimited" if n >= 2**255 else str(n)
        rows.append(["funder", f"{f['funder']}: runway {runway} intervals"])
    return tag("section", tag("h2", "Automation"), table(["", ""], rows, id="automation"))


def rebalance(console: Any, req: Any, now: int, nonce: str, csrf: str) -> Any:
    """POST /rebalance: a manual plan stored as proposed (keepers.fund.service.propose_manual),
    under the fund's lease like any plan: inside `keeper run` the running keeper's (refused
    while another replica leads), from `keeper console` a lease of its own for the decision
    (refused, naming the replica, while a running keeper leads the fund: propose it on the
    console that keeper serves, KEEPER_CONSOLE_IN_RUN)."""
    import os
    import socket

    from keepers.console.messages import Response
    from keepers.core.errors import DomainError
    from keepers.fund.service import fund_lease, propose_manual

    ctx = console.ctx
    data = req.form()
    by = data.get("by", "").strip()[:64]
    reason = data.get("reason", "").strip()[:200]
    if not by or not reason:
        return console.refuse(req, 400, "a manual rebalance needs who asks (by) and why", nonce)
    bot = optional_bot(ctx)
    if bot is None:
        why = ctx.offline or "no deployment record (KEEPER_DEPLOYMENT)"
        return console.refuse(req, 503, f"chain unavailable: {why}", nonce)
    try:
        if console.embedded:
            ref = propose_manual(bot, now, by, reason, fence=bot.fence)
        else:
            replica = f"console-{socket.gethostname()}-{os.getpid()}"[:64]
            ttl = ctx.config().keeper.lease_ttl_s
            with fund_lease(bot, ctx.store(), ttl, replica) as fence:
                ref = propose_manual(bot, now, by, reason, fence=fence)
    except DomainError as err:  # nothing to do, a pending plan covers it, another leads
        return console.refuse(req, 409, str(err), nonce)
    if req.wants_json():
        return console.json_response(201, {"plan": ref, "status": "proposed"})
    return Response(303, b"", headers={"Location": f"/plans/{ref}"})
