"""The console's pages, each built from the keeper's store and its chain reader, through the
same service the command line uses (keepers.fund.service: `keeper review`, `keeper status`):
no second source of truth, and nothing here can move money.

Every function takes the command line's context (keepers.cli_base.Ctx) and returns HTML
(keepers.console.html); plan statuses are read from keepers.store.statuses."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from keepers.console.html import (
    Markup,
    h,
    json_script,
    page,
    pct,
    post_form,
    table,
    tag,
    tiers_chart,
)
from keepers.console.units import Units, base_units, checksum_text, checksummed, risk_detail
from keepers.core.errors import DomainError
from keepers.fund.lifecycle import ended_reason
from keepers.fund.service import (
    admin_safe_or_none,
    approval_view,
    approval_views,
    optional_bot,
)
from keepers.store.statuses import PLAN, PlanStatus

WAITING = PlanStatus.PENDING_APPROVAL.value


def utc(ts: int | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: int) -> str:
    s = abs(int(seconds))
    text = f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60} s"
    return text if seconds >= 0 else f"{text} ago"


def status_pill(status: str) -> Markup:
    final = status in {s.value for s in PLAN.final}
    good = status == PlanStatus.EXECUTED.value
    cls = "pill ok" if good else "pill bad" if final else "pill"
    return tag("span", status, class_=cls, data_status=status)


# ------------------------------------------------------------------------ what a plan does

_BPS = re.compile(r"quote (\d+) bps")


def _cost_findings(risk: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """action index -> its slippage finding (the quote's cost against the oracle)."""
    out: dict[int, dict[str, Any]] = {}
    for f in risk or []:
        if f.get("rule") == "slippage" and f.get("action") is not None:
            out[int(f["action"])] = f
    return out


def action_words(a: Any, symbol: str | None, decimals: int | Units) -> str:
    """One action of a plan in words: what moves where (venue = the controller function the
    executor calls, the asset and its pool for purchases and sales)."""
    units = decimals if isinstance(decimals, Units) else Units(decimals)
    amt = units(a.amount)
    tier = lambda t: "-" if t is None else f"L{t + 1}"  # noqa: E731
    asset = checksummed(a.asset) if a.asset else None
    sym = symbol or asset or "?"
    kind = a.type.value
    if kind == "allocateToLayer":
        return f"move {amt} from {tier(a.from_tier)} to {tier(a.to_tier)} (allocateToLayer)"
    if kind == "purchaseAsset":
        return (
            f"buy {sym} ({asset}) for {amt} of cash into {tier(a.to_tier)} "
            "(purchaseAsset on its venue)"
        )
    if kind == "redeemAsset":
        tokens = "" if a.token_amount is None else f"{a.token_amount} token units of "
        return (
            f"sell {tokens}{sym} ({asset}) from {tier(a.from_tier)} for about {amt} "
            "(redeemAsset on its venue)"
        )
    if kind == "executeWaterfallLiquidation":
        return f"waterfall liquidation of {amt} up to {tier(a.max_tier)}"
    return f"{kind} {amt}"


def plan_actions(ctx: Any, row: Any, units: Units | None = None) -> list[dict[str, Any]]:
    """The plan's actions in send order, each in words with its expected cost (bps under the
    oracle, from the risk check's quote) against the cost target and limit."""
    p = ctx.records().plans.plan(row.ref)
    report = row.payload.get("report") or {}
    decimals: int | Units = units or int(report.get("base_decimals", 6))
    symbols = {x.get("asset"): x.get("symbol") for x in report.get("actions", [])}
    costs = _cost_findings(row.payload.get("risk") or [])
    cfg = ctx.config().planning
    frozen = row.payload.get("frozen") or {}
    order = [int(i) for i in frozen.get("order") or []] or sorted(
        range(len(p.actions)), key=lambda i: p.actions[i].priority
    )
    out = []
    for pos, i in enumerate(order):
        a = p.actions[i]
        f = costs.get(i)
        m = _BPS.search(f["detail"]) if f else None
        out.append(
            {
                "position": pos,
                "words": action_words(a, symbols.get(a.asset), decimals),
                "reason": a.reason,
                "cost_bps": int(m.group(1)) if m else None,
                "cost_level": f["level"] if f else None,
                "target_bps": cfg.rebalance_target_slippage,
                "limit_bps": cfg.rebalance_max_slippage,
                "function": (frozen.get("functions") or [None] * len(order))[pos],
            }
        )
    return out


def _cost_cell(a: dict[str, Any]) -> Markup:
    if a["cost_bps"] is None:
        return tag(
            "span",
            f"no quote (fills at the oracle): target {a['target_bps']}, limit {a['limit_bps']} bps",
            class_="muted",
        )
    level = "ok" if a["cost_bps"] <= a["target_bps"] else "warn"
    if a["cost_bps"] > a["limit_bps"]:
        level = "bad"
    return tag(
        "span",
        f"{a['cost_bps']} bps (target {a['target_bps']}, limit {a['limit_bps']})",
        class_=level,
        data_cost_bps=a["cost_bps"],
    )


# ------------------------------------------------------------------------ the approval view


def signing(ctx: Any, row: Any) -> dict[str, Any] | None:
    """What an owner signs: the EIP-712 typed data of `keeper review PLAN --typed-data`, the
    plan hash, and the SafeMessage hash of the admin Safe (when the node answers)."""
    from keepers.fund.planning.plan_approval import plan_hash, safe_message_hash, typed_data_json

    try:
        plan = ctx.records().plans.signed_plan(row.ref)
    except DomainError:
        return None
    if plan is None:
        return None
    digest = plan_hash(plan)
    safe = None
    safe_not_read = False
    bot = optional_bot(ctx)
    if bot is not None and bot.contracts.executor is not None:
        got = admin_safe_or_none(bot)  # None: not read now (a view reverted, the node)
        safe, safe_not_read = (None, True) if got is None else (got[0], False)
    return {
        "safe_not_read": safe_not_read,
        "typed_data": typed_data_json(plan),
        "plan_hash": "0x" + digest.hex(),
        "safe": safe,
        "safe_message_hash": None
        if safe is None
        else "0x" + safe_message_hash(plan.chain_id, safe, digest).hex(),
        "chain_id": plan.chain_id,
        "executor": plan.executor,
        "deadline": plan.deadline,
    }


SIGN_JS = """
(function () {
  const data = JSON.parse(document.getElementById('typed-data').textContent);
  const csrf = document.querySelector('meta[name=csrf]').content;
  const out = document.getElementById('sign-status');
  const button = document.getElementById('sign');
  function say(text, ok) { out.textContent = text; out.className = ok ? 'ok' : 'bad'; }
  button.addEventListener('click', async function () {
    if (!window.ethereum) {
      say('No browser wallet (EIP-1193) found: sign the typed data elsewhere and paste the '
        + 'signature below.', false);
      return;
    }
    button.disabled = true;
    try {
      const accounts = await window.ethereum.request({method: 'eth_requestAccounts'});
      const chain = parseInt(await window.ethereum.request({method: 'eth_chainId'}), 16);
      if (chain !== data.domain.chainId) {
        say('The wallet is on chain ' + chain + ', the plan on chain ' + data.domain.chainId
          + ': switch networks first.', false);
        return;
      }
      say('Check the plan in your wallet, then sign...', true);
      const signature = await window.ethereum.request({
        method: 'eth_signTypedData_v4', params: [accounts[0], JSON.stringify(data)]});
      const r = await fetch(window.location.pathname + '/signature', {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify({signature: signature, note: 'browser wallet ' + accounts[0]})});
      const body = await r.json();
      if (!r.ok) { say('Refused: ' + (body.why || body.error), false); return; }
      say('Recorded: signed by ' + body.signer + ' (' + body.approvals + ' of '
        + body.required + ')', true);
      setTimeout(function () { window.location.reload(); }, 800);
    } catch (err) {
      say('The wallet did not sign: ' + (err && err.message ? err.message : err), false);
    } finally {
      button.disabled = false;
    }
  });
})();
"""


def _approvals_table(view: dict[str, Any]) -> Markup:
    rows = []
    for e in view["approvals"]:
        counts = (
            tag("span", "counts", class_="ok")
            if e["counts"]
            else tag("span", f"does not count: {checksum_text(e['reason'])}", class_="bad")
        )
        rows.append(
            [
                e["decision"],
                tag("code", checksummed(e["signer"] or e["by"])),
                e["note"] or "",
                e["at_utc"],
                counts,
            ]
        )
    if not rows:
        return tag("p", "Nobody has signed yet.", class_="muted", id="no-signatures")
    return table(["decision", "who", "note", "at", "counts now"], rows, id="signatures")


def _kv(pairs: list[tuple[str, Any]], **attrs: Any) -> Markup:
    return tag(
        "table", *(tag("tr", tag("th", k), tag("td", v)) for k, v in pairs), class_="kv", **attrs
    )


_NOT_ADMIN = re.compile(
    r"^the signature recovers to (0x[0-9a-fA-F]{40}), not an admin of plan (\S+) "
    r"\(admins: (.*?)\): (.*) \(plan hash now (0x[0-9a-f]{64})\)$"
)


def refusal_text(why: str) -> str:
    """Why a signature was refused, as the page says it: the reason first. The intake's words
    (`keeper approve --signature`'s) lead with the address the signature recovers to, which
    for a signature over another plan is an address nobody has; here it comes after."""
    m = _NOT_ADMIN.match(why)
    if m is None:
        return checksum_text(why)
    signer, ref, admins, reason, digest = m.groups()
    return checksum_text(
        f"{reason[0].upper()}{reason[1:]}: the signature does not recover to an owner "
        f"(not an admin of plan {ref}; admins: {admins}; it recovers to {signer}; plan hash "
        f"now {digest})"
    )


def is_manual(row: Any, report: dict[str, Any]) -> bool:
    """A plan a person asked for: the manual trigger (`keeper plan`, the console's form) or a
    plan made manual (a rollback)."""
    if report.get("manual"):
        return True
    kinds = [str(t.get("kind", "")).lower() for t in report.get("triggers") or []]
    return "manual" in kinds or str(row.trigger or "").lower() == "manual"


def signed_enough(status: str, view: dict[str, Any]) -> bool:
    """A plan waiting for approval whose signatures count now: approved, the keeper executes
    it on its next tick (its status changes then)."""
    required = view.get("required")
    return status == WAITING and required is not None and view["counted"] >= int(required)


def approved_text(view: dict[str, Any]) -> str:
    return f"{view['counted']} of {view['required']}: approved, waiting for the keeper to execute"


def folded_risk(risk: list[dict[str, Any]], units: Units) -> list[list[Any]]:
    """The risk check's findings, one row per distinct finding: the same rule, level and
    detail for several actions is one row naming them."""
    rows: dict[tuple[str, str, str], list[Any]] = {}
    for f in risk:
        key = (str(f.get("rule")), str(f.get("level")), str(f.get("detail")))
        rows.setdefault(key, []).append(f.get("action"))
    out = []
    for (rule, level, detail), actions in rows.items():
        which = [str(a) for a in actions if a is not None]
        where = f" (actions {', '.join(which)})" if len(which) > 1 else ""
        times = f" (x{len(actions)})" if len(actions) > 1 and len(which) < 2 else ""
        out.append([rule, level, risk_detail(rule, detail, units) + where + times])
    return out


def plan_page(
    ctx: Any,
    ref: str,
    now: int,
    nonce: str,
    csrf: str,
    flash: Any = None,
    *,
    base_units_asked: bool = False,
) -> tuple[int, str]:
    """The ticket of one plan: why it was made, the tiers before/after against the bands, its
    actions in words with their costs, simulation, deadline and SLA, who signed and what still
    counts, and the wallet button while it waits; its execution report once it ran."""
    plans = ctx.records().plans
    row = plans.find(ref)
    if row is None:
        return 404, page("No such plan", tag("p", f"no plan {ref!r}"), nonce, flash=flash)
    payload = row.payload
    report = payload.get("report") or {}
    decimals = int(report.get("base_decimals", 6))
    sign = signing(ctx, row)  # first: it builds the fund bot when a deployment is configured
    units = base_units(ctx, decimals, base_units_asked)
    view = approval_view(ctx, row, now)
    status = str(row.status)
    approved = signed_enough(status, view)
    parts: list[Any] = []
    # the owners' signatures count: the plan is approved now, whatever the store says until
    # the keeper's next tick records it (the pill said pending_approval beside "approved")
    pill = status_pill(PlanStatus.APPROVED.value if approved else status)
    if approved:
        pill = Markup(pill + " " + tag("b", approved_text(view), class_="ok", id="approved"))
    head = _kv(
        [
            ("plan", tag("code", row.ref)),
            ("status", pill),
            # a plan the fund moved under (stale) or past its deadline (expired): why, in words
            *(
                [(f"why {row.status}", tag("strong", why, id="ended-reason"))]
                if (why := ended_reason(payload))
                else []
            ),
            ("trigger", row.trigger or "-"),
            ("created", utc(report.get("created_at") or payload["plan"].get("created_at"))),
            ("total moved", units(report.get("total_amount"))),
            ("manual", "yes" if is_manual(row, report) else "no"),
            # made for another deployment (a contract release): `keeper run` ends it unrun
            *(
                [("other deployment", tag("strong", why, id="other-deployment"))]
                if (why := view.get("other_deployment"))
                else []
            ),
        ],
        id="plan-head",
    )
    parts.append(tag("section", head))
    triggers = report.get("triggers") or []
    parts.append(
        tag(
            "section",
            tag("h2", "Why: its triggers"),
            tag(
                "ul",
                *(
                    tag("li", tag("b", f"{t['kind']}/{t['code']}"), ": ", t["reason"])
                    for t in triggers
                ),
                id="triggers",
            )
            if triggers
            else tag("p", "no trigger recorded", class_="muted"),
        )
    )
    series = {
        "before": report.get("tiers_before") or [],
        "expected": report.get("tiers_expected") or [],
        "actual": report.get("tiers_actual") or [],
    }
    if series["before"]:
        tier_rows = [
            [
                t["tier"],
                f"{pct(t['min_bps'])} - {pct(t['max_bps'])} (target {pct(t['target_bps'])})",
                pct(t["ratio_bps"]),
                pct(series["expected"][i]["ratio_bps"]) if series["expected"] else "-",
                pct(series["actual"][i]["ratio_bps"]) if series["actual"] else "-",
            ]
            for i, t in enumerate(series["before"])
        ]
        parts.append(
            tag(
                "section",
                tag("h2", "Tiers before and after, against their bands"),
                tiers_chart(series),
                table(["tier", "band", "before", "expected", "actual"], tier_rows, id="tiers"),
            )
        )
    actions = plan_actions(ctx, row, units)
    parts.append(
        tag(
            "section",
            tag("h2", f"What it does: {len(actions)} action(s), in the order they are sent"),
            table(
                ["#", "action", "expected cost", "why", "call"],
                [
                    [
                        str(a["position"]),
                        a["words"],
                        _cost_cell(a),
                        a["reason"],
                        tag("code", a["function"] or "-", class_="call"),
                    ]
                    for a in actions
                ],
                id="actions",
            ),
        )
    )
    risk = payload.get("risk") or []
    if risk:
        parts.append(
            tag(
                "section",
                tag("h2", "Risk check"),
                table(["rule", "level", "detail"], folded_risk(risk, units), id="risk"),
            )
        )
    sim = payload.get("simulation")
    sim_text: Any = (
        "not run yet: after approval, before it sends anything, the keeper simulates the "
        "frozen calls in order on the node (eth_simulateV1; an anvil fork only where the "
        "node lacks it)"
        if sim is None
        else tag(
            "span",
            ("passed" if sim.get("ok") else f"failed: {sim.get('error')}")
            + f" (gas {', '.join(str(g) for g in sim.get('gas') or [])}; {sim.get('seconds')} s)",
            class_="ok" if sim.get("ok") else "bad",
        )
    )
    parts.append(tag("section", tag("h2", "Simulation"), tag("p", sim_text, id="simulation")))
    approval = payload.get("approval") or {}
    deadline = view["approval_deadline"]
    requested = int(payload.get("requested_at", report.get("created_at") or 0) or 0)
    sla = (
        f"{(int(approval['deadline']) - requested) // 3600} h from the request "
        f"({approval.get('requirement')})"
        if approval.get("deadline") is not None and requested
        else "-"
    )
    left = f" ({span(deadline - now)} left)" if deadline is not None and status == WAITING else ""
    parts.append(
        tag(
            "section",
            tag("h2", "Approval"),
            _kv(
                [
                    ("requirement", approval.get("requirement") or "-"),
                    (
                        "counted",
                        tag(
                            "b",
                            f"{view['counted']} of {view['required'] if view['required'] is not None else '?'}",
                            id="counted",
                        ),
                    ),
                    ("approval deadline", f"{utc(deadline)}{left}"),
                    ("SLA", sla),
                    ("who may sign", ", ".join(checksummed(a) for a in view["admins"]) or "-"),
                    (
                        "the keeper's last check",
                        f"{approved_text(view)} (the keeper's last tick said: "
                        f"{approval.get('detail') or '-'})"
                        if approved
                        else approval.get("detail") or "-",
                    ),
                ],
                id="approval",
            ),
            tag("h2", "Signatures"),
            _approvals_table(view),
        )
    )
    scripts: Any = ""
    if sign is None and status == WAITING and not approved:
        parts.append(
            tag(
                "section",
                tag("h2", "How to approve"),
                tag(
                    "p",
                    f"This plan has no frozen plan to sign (a deployment without a "
                    f"PlanExecutor): an admin approves it with `keeper approve {row.ref} --by "
                    "NAME` or rejects it with `keeper reject`.",
                    id="approve-by-name",
                ),
            )
        )
    if sign is not None:
        hashes = [
            ("plan hash (EIP-712)", tag("code", sign["plan_hash"], id="plan-hash")),
            ("chain id", str(sign["chain_id"])),
            ("executor", tag("code", checksummed(sign["executor"]))),
            ("executor deadline", utc(sign["deadline"])),
        ]
        if sign.get("safe_not_read"):
            hashes.append(
                (
                    "SafeMessage hash",
                    tag(
                        "span",
                        "not read: the admin Safe behind the executor did not answer now",
                        class_="bad",
                        id="safe-not-read",
                    ),
                )
            )
        if sign["safe"]:
            hashes.append(
                (
                    f"SafeMessage hash (Safe {checksummed(sign['safe'])})",
                    tag("code", sign["safe_message_hash"], id="safe-message-hash"),
                )
            )
        box: list[Any] = [tag("h2", "What you sign"), _kv(hashes, id="hashes")]
        if approved:
            box.append(tag("p", approved_text(view) + ": nothing left to sign.", class_="ok"))
        if status == WAITING and not approved:
            box += [
                tag(
                    "p",
                    'Your wallet shows the EIP-712 message "Ballast PlanExecutor" v1: the plan '
                    "id, controller, deadline, each action's calldata and each action's band "
                    "(maxSlippageBps), exactly what the executor checks. The plan hash above "
                    "must match what it signs.",
                ),
                tag(
                    "p",
                    "A pool leg (purchaseAsset / redeemAsset) is signed with minOut 0 and a "
                    "band: the keeper sets its minOut when it sends it, from the fill it "
                    "simulates then, and the executor refuses a minOut more than the band "
                    "under the oracle at that moment. A price move after you sign needs no new "
                    "signature; a pool that drifts from its oracle past the band ends the plan "
                    "stale and a new one is signed.",
                    id="band-note",
                ),
                tag("button", "Sign with your wallet", id="sign", type="button"),
                tag("div", "", id="sign-status"),
                tag("h2", "Or paste a signature made elsewhere"),
                tag(
                    "p",
                    "A hardware wallet or cast over the typed data below, or the admin Safe's "
                    "combined signature from Safe{Wallet} (the Safe's address then the "
                    "signature, one 0x string).",
                    class_="muted",
                ),
                post_form(
                    f"/plans/{row.ref}/signature",
                    csrf,
                    tag(
                        "input",
                        type="text",
                        name="signature",
                        id="signature-input",
                        placeholder="0x...",
                    ),  # fmt: skip
                    tag("input", type="text", name="note", placeholder="note (optional)"),
                    tag("input", type="submit", value="Record signature", id="paste-submit"),
                    id="paste-form",
                ),
                tag(
                    "details",
                    tag("summary", "typed data (JSON)"),
                    tag("pre", tag("code", _pretty(sign["typed_data"]))),
                ),  # fmt: skip
            ]
            scripts = json_script("typed-data", sign["typed_data"], nonce) + Markup(
                f'<script nonce="{h(nonce)}">{SIGN_JS}</script>'
            )
        parts.append(tag("section", *box, id="signing"))
    if report.get("results") is not None:
        res = [
            [
                r["type"],
                units(r.get("amount")),
                tag(
                    "span",
                    "ok" if r["success"] else "failed",
                    class_="ok" if r["success"] else "bad",
                ),
                tag("code", r.get("tx_hash") or "-"),
                r.get("error") or "",
            ]
            for r in report["results"]
        ]
        parts.append(
            tag(
                "section",
                tag("h2", "Execution report"),
                _kv(
                    [
                        ("executed at", utc(payload.get("executed_at"))),
                        ("progress", report.get("progress") or "-"),
                        ("cost (net)", units(payload.get("cost"))),
                        (
                            "verification",
                            str(
                                (payload.get("verification") or {}).get("detail")
                                or (payload.get("verification") or {}).get("progress")
                                or "-"
                            ),
                        ),
                    ]
                ),
                table(["call", "amount", "result", "transaction", "error"], res, id="results"),
                id="report",
            )
        )
    body = Markup("".join(h(p) for p in parts))
    csrf_meta = Markup(f'<meta name="csrf" content="{h(csrf)}">')
    return 200, page(f"Plan {row.ref}", csrf_meta + body, nonce, scripts=scripts, flash=flash)


def _pretty(data: Any) -> str:
    import json

    return json.dumps(data, indent=2)


# ------------------------------------------------------------------------ lists


def approvals_page(ctx: Any, now: int, nonce: str) -> str:
    """The queue: every plan waiting for approval, as a ticket line; a plan whose signatures
    count already is listed apart (approved, waiting for the keeper to execute it), not as
    waiting for anyone."""
    waiting, approved = [], []
    units = base_units(ctx, 6)
    rows = ctx.records().plans.with_status(WAITING, view=True)
    for row, v in zip(rows, approval_views(ctx, rows, now), strict=True):
        report = row.payload.get("report") or {}
        u = Units(int(report.get("base_decimals", 6)), units.symbol)
        line = [
            tag("a", row.ref, href=f"/plans/{row.ref}"),
            (row.trigger or "-") + (" (other deployment)" if v.get("other_deployment") else ""),
            u(report.get("total_amount")),
        ]
        if signed_enough(WAITING, v):
            approved.append([*line, approved_text(v)])
            continue
        waiting.append(
            [
                *line,
                f"{v['counted']} of {v['required']}",
                "-"
                if v["approval_deadline"] is None
                else f"{utc(v['approval_deadline'])} ({span(v['approval_deadline'] - now)} left)",
            ]
        )
    body = (
        table(["plan", "trigger", "total", "signed", "approval deadline"], waiting, id="queue")
        if waiting
        else tag("p", "No plan waits for approval.", id="queue-empty")
    )
    sections = [tag("section", body)]
    if approved:
        sections.append(
            tag(
                "section",
                tag("h2", "Approved, waiting for the keeper to execute"),
                table(["plan", "trigger", "total", "signatures"], approved, id="approved-queue"),
            )
        )
    return page("Plans waiting for approval", Markup("".join(sections)), nonce)


def plans_page(ctx: Any, nonce: str, limit: int = 50) -> str:
    rows = []
    symbol = base_units(ctx, 6).symbol
    for row in ctx.records().plans.history(limit):
        report = row.payload.get("report") or {}
        u = Units(int(report.get("base_decimals", 6)), symbol)
        rows.append(
            [
                tag("a", row.ref, href=f"/plans/{row.ref}"),
                status_pill(str(row.status)),
                row.trigger or "-",
                u(report.get("total_amount")),
                str(len(row.payload["plan"]["actions"])),
                report.get("progress") or "-",
                str(row.created_at),
            ]
        )
    body = table(
        ["plan", "status", "trigger", "total", "actions", "progress", "created"], rows, id="plans"
    )
    return page("Recent plans", tag("section", body), nonce)
