"""What one pass over a fund plan returns (`CycleOutcome`), the outcomes that are not stored
statuses, and the fund keeper's pipeline role. Shared by the bot and its stages
(keepers.fund.execution); keepers.fund.bot re-exports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keepers.fund.planning.actions import ActionResult

ROLE = "fund-keeper"
DUPLICATE = "duplicate"  # an outcome: a pending plan already covers the same actions
STOPPED = "stopped"  # an outcome: the keeper stopped mid-plan; the plan stays approved
# an outcome: the pass moved an approved plan (sent or measured an action) and left it with an
# action sent and not final; the plan stays approved and the next pass follows that intent
EXECUTING = "executing"
PAUSED = "paused"  # an outcome, not a stored status: the plan stays approved and resumes
NO_SAFE_MOVE_STATUS = "no_safe_move"  # an outcome: the plan's every leg was cut to nothing
NOT_LEADER = "not_leader"  # an outcome: another replica leads this fund (keepers.runtime.leases)


@dataclass
class CycleOutcome:
    """What one pass over a plan did (returned to the CLI and the tests)."""

    plan_id: str | None
    status: str
    detail: str = ""
    results: list[ActionResult] = field(default_factory=list)
    seconds: float = 0.0
    # a dry run's plan report (keepers.fund.planning.report, with the holders' lines): what
    # `keeper plan --dry-run` prints, since nothing is stored for `keeper review` to show
    report: dict[str, Any] | None = None
