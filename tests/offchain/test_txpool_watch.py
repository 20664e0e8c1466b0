"""The private-submission tests' leak rule (`TxpoolWatch.leaks`), without a node: a sighting
counts as a leak only when the node answered the poll before the relay handed the trade over."""

from tests.support.txpool_watch import TxpoolWatch


def _watch(sightings: list[tuple[float, str]]) -> TxpoolWatch:
    watch = TxpoolWatch("http://127.0.0.1:1")  # never started: no request is made
    watch.sightings = sightings
    return watch


def test_leaks__answered_before_the_hand_over__a_leak():
    watch = _watch([(10.0, "0xaa"), (10.5, "0xaa")])
    assert watch.leaks({"0xaa": 11.0}) == [(10.0, "0xaa"), (10.5, "0xaa")]


def test_leaks__answered_after_the_hand_over__no_leak():
    # a poll sent before the hand-over and answered after it lists the trade the node mines
    watch = _watch([(11.2, "0xaa")])
    assert watch.leaks({"0xaa": 11.0}) == []


def test_leaks__still_held__every_sighting_a_leak():
    watch = _watch([(10.0, "0xaa"), (99.0, "0xaa")])
    assert watch.leaks({"0xaa": None}) == [(10.0, "0xaa"), (99.0, "0xaa")]


def test_leaks__a_public_transaction__never_a_leak():
    watch = _watch([(10.0, "0xbb")])
    assert watch.leaks({"0xaa": 11.0}) == []
