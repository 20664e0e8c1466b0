"""The local profiles' automation funder lasts at least 60 days at the booked cadence, and its
runway alert (the funder's LowRunway event, and the supervisor keeper's threshold) comes at
least 7 days before it runs dry. Judged from the chain: the local profile deployed, then day
after day every due run executed (the fund's paid rebalancer and the supervisor), until the
first booking fails or 90 days pass."""

from __future__ import annotations

from typing import Any

import pytest

from ballast_dev.deployment.profile import load_profile
from keepers.automation.settings import SupervisorBotConfig
from tests.support.fundbotlib import ROOT

DAY = 86_400
MIN_DAYS, WARN_DAYS = 60, 7


@pytest.mark.parametrize("profile", ["local.yaml", "local-safe.yaml"])
def test_local_profile__funder_sized_for_60_days_with_a_week_of_warning(profile: str) -> None:
    spec = load_profile(ROOT / "scripts/profiles" / profile).automation
    assert spec is not None and spec.interval == DAY
    assert spec.low_runway_intervals >= WARN_DAYS
    assert SupervisorBotConfig.model_fields["runway_alert_intervals"].default >= WARN_DAYS


def test_local_fund__funder_pays_every_daily_run_for_60_days(
    fresh: Any, chain: Any, accounts: Any
) -> None:
    auto = fresh.automation
    scheduler, funder = auto["scheduler"], auto["tx_funder"]
    executor = accounts[5]
    assert int(funder.runway()) >= MIN_DAYS, f"runway {funder.runway()} intervals at deploy"
    start = chain.pending_timestamp
    first_low: int | None = None
    failed_at: int | None = None
    for day in range(1, 91):
        chain.mine(timestamp=start + day * DAY)
        due = list(scheduler.nextDueRuns(20))
        if due:
            tx = scheduler.executeBatch(due, sender=executor)
            if first_low is None and any(True for _ in tx.decode_logs(funder.LowRunway)):
                first_low = day
            rebalancer = auto["fund_rebalancer"]
            if any(True for _ in tx.decode_logs(rebalancer.FailedRecurringSchedule)):
                failed_at = day
                break
    lasted = (failed_at or 91) - 1
    assert lasted >= MIN_DAYS, f"the funder paid for {lasted} days (failed on day {failed_at})"
    if failed_at is not None:
        assert first_low is not None and failed_at - first_low >= WARN_DAYS, (first_low, failed_at)
