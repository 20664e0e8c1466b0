"""The one feed rule the fund keeper's `feed_down` alert and the executor's hold on a fund
rebalancer share (keepers.core.feeds.feed_problem): the controller's OracleLib checks, on the
words a feed answered."""

from __future__ import annotations

from keepers.core.feeds import FeedDown, feed_problem

NOW, DAY = 1_800_000_000, 86_400


def test_feed_problem__usable_answer__none():
    assert feed_problem(100, NOW - DAY, NOW, DAY, 1, 10**12) is None  # exactly the heartbeat
    assert feed_problem(100, NOW, NOW, DAY, 0, 0) is None  # bounds 0: unset


def test_feed_problem__each_cause__named():
    assert feed_problem(100, NOW - DAY - 1, NOW, DAY, 0, 0) == f"stale (heartbeat {DAY} s)"
    assert "zero or negative" in str(feed_problem(0, NOW, NOW, DAY, 0, 0))
    assert "zero or negative" in str(feed_problem(-5, NOW, NOW, DAY, 0, 0))
    assert "outside its bounds [10, 20]" in str(feed_problem(9, NOW, NOW, DAY, 10, 20))
    assert "outside its bounds [10, 20]" in str(feed_problem(21, NOW, NOW, DAY, 10, 20))
    # a bad answer is named before its age
    assert "zero" in str(feed_problem(0, NOW - 3 * DAY, NOW, DAY, 0, 0))


def test_feed_down__describe__names_asset_feed_reason_and_age():
    d = FeedDown("0xT", "TBILL-A", "0xF", 172_800, "stale (heartbeat 86400 s)")
    assert d.describe() == (
        "TBILL-A (0xT) feed 0xF: stale (heartbeat 86400 s), last answer 172800 s ago"
    )
    assert "no answer" in FeedDown("0xT", "X", None, None, "reverting").describe()
