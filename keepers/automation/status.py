"""``keeper status``'s automation part (the automation slice's read-only view): runs due, and
with the supervisor configured its stuck tasks and funders. No signer needed."""

from __future__ import annotations

import os
from typing import Any


def automation_status(now: int) -> dict[str, Any] | None:
    """The automation side of ``keeper status``, when a scheduler is configured
    (``KEEPER_EXECUTOR_SCHEDULER`` or ``KEEPER_SUPERVISOR_SCHEDULER``): runs due now, with the
    executor configured the credit the scheduler owes it, and with the supervisor configured
    its stuck tasks and funders. A bad setting raises the one
    translator's ConfigError naming the variable."""
    from keepers.automation.chain import Call, ChainIO
    from keepers.automation.settings import SupervisorBotConfig
    from keepers.automation.supervisor import TaskReader
    from keepers.core.settings import KeeperSettings, load_settings
    from keepers.tx.errors import NodeError
    from keepers.tx.node import Node

    scheduler = os.environ.get("KEEPER_SUPERVISOR_SCHEDULER") or os.environ.get(
        "KEEPER_EXECUTOR_SCHEDULER"
    )
    if not scheduler:
        return None
    settings: KeeperSettings = load_settings(KeeperSettings)
    io = ChainIO(Node(settings.rpc_url, settings.rpc_timeout_s))
    sched = io.contract("RebalanceScheduler", scheduler)
    head = io.head()
    now = max(now, int(head["timestamp"]))
    due = io.call(Call(sched, "nextDueRuns", (500,)))
    out: dict[str, Any] = {
        "block": int(head["number"]),
        "scheduler": sched.address,
        "due_runs": len(due),
    }
    executor = _executor_address(settings) if os.environ.get("KEEPER_EXECUTOR_SCHEDULER") else None
    if executor is not None:
        # what the scheduler owes the executor (pull payment: it withdraws above its threshold)
        (credit,) = io.call_many([Call(sched, "credits", (executor,))])
        if not isinstance(credit, NodeError):  # a scheduler before the pull payment has none
            out["executor"] = executor
            out["executor_credit_wei"] = int(credit)
    if os.environ.get("KEEPER_SUPERVISOR_SCHEDULER"):
        cfg = load_settings(SupervisorBotConfig)
        out |= TaskReader(io, cfg).status(now)
    return out


def _executor_address(settings: Any) -> str | None:
    """The executor's address without signing anything: KEEPER_SIGNER_ADDRESS when set, else
    the raw key's; None for a signer that would have to be opened (an ape keyfile, a KMS key
    without the address set)."""
    if settings.signer_address:
        return str(settings.signer_address)
    if settings.signer_kind == "raw" and settings.signer_key is not None:
        from eth_account import Account

        return str(Account.from_key(settings.signer_key.get_secret_value()).address)
    return None
