"""A USDC move over CCTP whose Cross step waits on the Iris client, on the three local chains:
a local HTTP server answers GET /v2/messages/{domain}?transactionHash= as Circle documents it,
with the local attester's attestation of the real burn read from the source chain. The
server says 404, then 429 (Retry-After 30), then pending, then complete; the engine waits
each out on the clock it is given, and the move ends minted and invested once."""

import time

from irislib import NOT_FOUND, FakeIris, Reply, chain_resolver
from prometheus_client import REGISTRY

from keepers.crosschain.iris import IrisAttestations, IrisClient
from keepers.crosschain.iris_config import IrisConfig
from tests.support.movelib import MESSAGE_RECEIVED, holder, holders_map, keeper_env, logs

E6 = 10**6


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_move__usdc_over_cctp_on_the_iris_client__404_429_pending_complete_then_minted_once(
    xscene,
):
    who = holder(xscene, 8, {("ethereum", "USDC"): "1700", ("base", "USDC"): "500"})
    script = [NOT_FOUND, Reply(429, {"error": "rate limited"}, {"Retry-After": "30"}), "pending"]
    script.append("complete")
    clock = Clock()
    local = xscene.attestations
    with FakeIris(chain_resolver(xscene, script)) as server:
        cfg = IrisConfig(environment="custom", base_url=server.url, min_poll_interval_s=5)
        # no jitter: the test reads the exact wait back from the move
        source = IrisAttestations(IrisClient(cfg, clock=clock, jitter=lambda: 0.0))
        xscene.attestations = source  # the scene's bots build their CCTP adapters from this
        try:
            bot = xscene.bot(holders=holders_map(xscene, who), poll_interval_s=10.0)
            base = xscene.sides["base"]
            block0 = base.w3.eth.block_number
            t0 = int(time.time()) + 86_400  # the engine keeps to the clock it is given

            (move,) = bot.tick(now=t0).created  # burnt; Iris: 404 (not indexed yet)
            row = bot.engine._row(move.id)
            assert row.state == "cross" and row.route == "CCTP"
            assert len(server.requests) == 1
            path, query, _ = server.requests[0]
            assert path == "/v2/messages/0" and query["transactionHash"] == [row.handle_tx]

            clock.t = 10
            bot.tick(now=t0 + 10)  # Iris: 429 with Retry-After 30 -> wait 30 s, no attempt
            row = bot.engine._row(move.id)
            assert row.state == "cross" and row.attempts == 0
            assert "429" in row.error
            assert row.next_try_at.replace(tzinfo=None) == _naive_utc(t0 + 40)

            clock.t = 20
            bot.tick(now=t0 + 20)  # not due on the engine's clock: nothing asked
            assert len(server.requests) == 2

            clock.t = 40
            bot.tick(now=t0 + 40)  # Iris: pending confirmations
            assert bot.engine.move(move.id).state == "cross"
            assert len(server.requests) == 3

            clock.t = 50
            done = bot.tick(now=t0 + 50)  # Iris: complete -> receiveMessage -> invest
            view = bot.engine.move(move.id)
            assert view.state == "done", view.error
            assert len(server.requests) == 4  # Transfer_In and the amount read used the cache
            assert done.planned == []
        finally:
            xscene.attestations = local
    assert view.amount_received == 500 * E6
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.balance("ethereum", "USDC", who) == 1200 * E6
    assert len(logs(base.w3, base.transmitter.address, MESSAGE_RECEIVED, block0)) == 1
    bot.stop()


def _held_move(xscene, first: Reply | str, slot: int):
    """One USDC ethereum->base move whose Cross step meets `first` on the Iris server: the
    move after two ticks 10 s apart, with the bot's alerts. Then Iris completes and the move
    is driven to its end (the scene's store is shared: a move left in flight would cover the
    next test's imbalance); the final state is returned too."""
    who = holder(xscene, slot, {("ethereum", "USDC"): "1700", ("base", "USDC"): "500"})
    clock = Clock()
    local = xscene.attestations
    alerts = []
    held: dict[str, float | None] = {}
    with FakeIris(chain_resolver(xscene, [NOT_FOUND, first, "complete"])) as server:
        cfg = IrisConfig(environment="custom", base_url=server.url, min_poll_interval_s=0)
        xscene.attestations = IrisAttestations(IrisClient(cfg, clock=clock, jitter=lambda: 0.0))
        bot = xscene.bot(holders=holders_map(xscene, who), poll_interval_s=10.0)
        try:
            bot.alert = alerts.append
            t0 = int(time.time()) + 86_400
            (move,) = bot.tick(now=t0).created  # Iris: 404
            clock.t = 10
            bot.tick(now=t0 + 10)  # Iris: `first`
            row = bot.engine._row(move.id)
            held.update(  # what Prometheus reads while the move is held (metrics)
                {
                    r: REGISTRY.get_sample_value("crosschain_attestation_held_moves", {"reason": r})
                    for r in ("delayed", "rejected")
                }
            )
            clock.t = 4000
            bot.tick(now=t0 + 4000)  # Iris: complete (the operator fixed it / Circle did)
            final = bot.engine.move(move.id)
        finally:
            xscene.attestations = local
            bot.stop()
    return t0, row, alerts, final, held


def test_move__iris_answers_400__held_with_a_named_error_and_a_critical_alert_not_retried(xscene):
    t0, row, alerts, final, held = _held_move(xscene, Reply(400, {"error": "Invalid domain"}), 24)
    assert held["rejected"] >= 1  # crosschain_attestation_held_moves{reason="rejected"}
    assert row.state == "cross" and row.attempts == 0
    assert "RouteRejected" in row.error and "HTTP 400" in row.error
    assert row.next_try_at.replace(tzinfo=None) == _naive_utc(
        t0 + 10 + 3600
    )  # held, not backed off
    rejected = [a for a in alerts if a.code == "attestation_rejected"]
    assert rejected and rejected[0].level == "critical" and f"move {row.id}" in rejected[0].message
    assert final.state == "done", final.error


def test_move__iris_delay_reason__warning_alert_names_the_reason_and_the_move(xscene):
    _, row, alerts, final, held = _held_move(xscene, "delayed:amount_above_max", 25)
    assert held["delayed"] >= 1  # crosschain_attestation_held_moves{reason="delayed"}
    assert row.state == "cross" and row.attempts == 0
    delayed = [a for a in alerts if a.code == "attestation_delayed"]
    assert delayed and "amount_above_max" in delayed[0].message
    assert f"move {row.id}" in delayed[0].message
    assert final.state == "done", final.error


def _naive_utc(ts: int):
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)


def test_cli__iris_section__usdc_move_crosses_over_cctp_not_the_exchange(xscene, tmp_path):
    """The CLI's bot on a config with an `iris` section and no local attester key: the USDC
    leg goes over CCTP with Iris's attestation (without it, it fell back to the CEX)."""
    from click.testing import CliRunner

    from keepers.crosschain.cli import crosschain

    who = holder(xscene, 11, {("ethereum", "USDC"): "1700", ("base", "USDC"): "430"})
    with FakeIris(chain_resolver(xscene, ["complete"])) as server:
        iris = {"environment": "custom", "base_url": server.url, "min_poll_interval_s": 0}
        env = keeper_env(xscene, tmp_path, who, iris=iris, local_attester=False)
        out = CliRunner().invoke(crosschain, ["run", "--once"], env=env)
        assert out.exit_code == 0, out.output
        assert "1 created" in out.output and "done" in out.output
        assert [p for p, _, _ in server.requests] == ["/v2/messages/0"]
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.balance("ethereum", "USDC", who) == 1130 * E6
    bot = xscene.bot()
    (move,) = [m for m in bot.engine.moves() if bot.engine._row(m.id).dest_holder == who]
    assert move.route == "CCTP" and move.state == "done"
    assert move.amount_received == 570 * E6
    assert bot.engine._row(move.id).routes_skipped == []  # CCTP was wired: nothing skipped
    bot.stop()


def test_cli__iris_section_and_local_attester_key__refused_exit_2(xscene, tmp_path):
    from click.testing import CliRunner

    from ballast_dev.local.crosschain_scene_local import KEEPER
    from keepers.crosschain.cli import crosschain

    iris = {"environment": "sandbox"}
    env = keeper_env(xscene, tmp_path, KEEPER, iris=iris)
    out = CliRunner().invoke(crosschain, ["status"], env=env)
    assert out.exit_code == 2
    assert "BALLAST_CCTP_LOCAL_ATTESTER_KEY" in out.output and "iris" in out.output


def test_metrics__iris_locked_out__seconds_left_exported_until_the_lockout_ends(xscene):
    """crosschain_iris_lockout_seconds (CrosschainIrisLockedOut): what is left of Circle's
    lockout after a 429, 0 once it is over."""
    clock = Clock()
    client = IrisClient(IrisConfig(environment="sandbox"), clock=clock, jitter=lambda: 0.0)
    bot = xscene.bot(holders=holders_map(xscene, "0x000000000000000000000000000000000000dEaD"))
    bot.iris = client
    try:
        client._lock_out(300.0)  # what a 429 without Retry-After does
        clock.t = 100
        bot.tick()
        assert REGISTRY.get_sample_value("crosschain_iris_lockout_seconds") == 200.0
        clock.t = 400
        bot.tick()
        assert REGISTRY.get_sample_value("crosschain_iris_lockout_seconds") == 0.0
    finally:
        bot.stop()
