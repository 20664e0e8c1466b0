"""What the fund bot watches on every read of the fund (split from keepers.fund.bot): the tier
metrics, the feeds (``feed_down`` / ``feed_restored``), the valuation holds and fees
(keepers.fund.holds: ``nav_jump``), the timelock's queue (keepers.fund.timelock) and the fees
paid to date (keepers.fund.fees_paid). The timelock's and the fees' event scans are kept here
for the process's life: the lookback is scanned once, then only the blocks after the last read.
A display read that fails is logged and leaves its gauges as they were; it never stops a tick.
"""

from __future__ import annotations

from typing import Any

from keepers.core.logging import get_logger
from keepers.fund.feeds import feed_down_message, feeds_down
from keepers.fund.fees_paid import FeesWatch, fees_paid_view
from keepers.fund.fees_paid import observe as observe_fees_paid
from keepers.fund.holds import hold_alerts
from keepers.fund.horizon import observe_bot as observe_exit_horizon
from keepers.fund.planning.metrics import tier_metrics
from keepers.fund.planning.plan import FEED_DOWN
from keepers.fund.reader import FundReading
from keepers.fund.timelock import TimelockWatch, watched
from keepers.runtime import metrics
from keepers.runtime.alerts import AlertLevel

log = get_logger("keepers.fundbot")


class ReadWatch:
    """The observers of one fund bot's reads. ``bot`` is the fund bot: its contracts, settings
    (``k``), addresses and its alerts (``alert_once``, ``end_alert``)."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self._timelock: TimelockWatch | None = None
        self._fees_paid: FeesWatch | None = None

    def observe(self, reading: FundReading) -> None:
        metrics.observe_tiers(tier_metrics(reading.state))
        self.feed_alert(reading)
        hold_alerts(self.bot, reading)  # nav_jump / nav_jump_ended, fee and hold metrics
        self.observe_timelock(reading)
        self.observe_fees_paid(reading)
        observe_exit_horizon(self.bot, reading)  # issue 67: keepers.fund.horizon

    def fees_watch(self) -> FeesWatch:
        """The FeesAccrued sum this process keeps (keepers.fund.fees_paid): the lookback is
        scanned once, then only the blocks after the last read (metrics and plan reports)."""
        if self._fees_paid is None:
            b = self.bot
            self._fees_paid = FeesWatch(
                b.contracts.only("vault", "FeesAccrued"),
                b.k.fees_lookback_blocks,
                b.addresses.first_block or 0,
            )
        return self._fees_paid

    def observe_fees_paid(self, reading: FundReading) -> None:
        """The fees paid to date as metrics (keepers.fund.fees_paid), summed from the last
        block seen; a failed read leaves the gauges as they were."""
        view = fees_paid_view(self.bot, reading, self.fees_watch())
        if view is not None and "error" in view:
            log.warning("fees_paid.read_failed", error=view["error"])
        observe_fees_paid(view)

    def observe_timelock(self, reading: FundReading) -> None:
        """The timelock's queued operations as metrics (keepers.fund.timelock), scanned from
        the last block seen; a failed read leaves the gauges as they were (logged)."""
        b = self.bot
        if self._timelock is None:
            timelock = watched(b.contracts)
            if timelock is None:  # the record names none
                return
            self._timelock = TimelockWatch(timelock, b.addresses, b.k.timelock_lookback_blocks)
        try:
            self._timelock.observe(reading.block, reading.state.timestamp)
        except Exception as err:  # noqa: BLE001 - a display read never stops a tick
            log.warning("timelock.read_failed", error=f"{type(err).__name__}: {err}")

    def feed_alert(self, reading: FundReading) -> None:
        """``feed_down`` (critical) while a held asset is unpriced, naming the asset, its feed,
        the age of its last answer and what the keeper holds back; ``feed_restored`` once every
        held asset is priced again."""
        b, now = self.bot, reading.state.timestamp
        if not any(a.held_unpriced for a in reading.state.assets):
            b.end_alert(FEED_DOWN, "feed_restored", "every held asset is priced again", now)
            return
        controller = b.contracts.only("controller", "assetParams")
        down = feeds_down(controller, b.w3, reading.state, reading.block)
        key = ",".join(sorted(d.token for d in down))
        b.alert_once(AlertLevel.CRITICAL, FEED_DOWN, key, feed_down_message(down), now, None)
