"""A keeper run as an operator runs it (`keeper plan`, two `keeper approve`, `keeper run
--once`), its pool trades sent through the local private relay on a chain that makes a block
a second: a poller reads the node's `txpool_content` every 50 ms for the whole run, and none of
the keeper's pool trades ever appears in it (a searcher reading the pool sees nothing to
sandwich). The public pool is refused (KEEPER_PUBLIC_MEMPOOL_FALLBACK=false)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from ballast_dev.local.relay_local import RelayLocal
from keepers.cli import main
from tests.support.fundbotlib import UNIT
from tests.support.keeper_store import plan_rows
from tests.support.txpool_watch import TxpoolWatch


def keeper(env: dict[str, str], *args: str) -> Any:
    return CliRunner(mix_stderr=False).invoke(main, list(args), env=env)


def test_keeper_run_once__pool_trades_through_relay__never_in_the_public_pool(
    chain: Any, env: dict[str, str], fresh: Any, accounts: Any
) -> None:
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    r = keeper(env, "--json", "plan")
    assert r.exit_code == 0, r.output + r.stderr
    ref = json.loads(r.stdout)["plan"]
    for owner in ("alice", "bob"):
        assert keeper(env, "approve", ref, "--by", owner).exit_code == 0

    relay = RelayLocal(chain.provider.uri, mining="relay", block_time=1.0).start()
    watch = TxpoolWatch(chain.provider.uri).start()
    private_env = {
        **env,
        "KEEPER_PRIVATE_RPC_URLS": relay.url,
        "KEEPER_PUBLIC_MEMPOOL_FALLBACK": "false",
    }
    try:
        r = keeper(private_env, "run", "--once")
    finally:
        watch.stop()
        relay.stop()  # the chain's automine back for the next tests
    assert r.exit_code == 0, r.output + r.stderr
    assert f"plan {ref}: executed" in r.stdout, r.stdout
    ((_, status, _acts),) = plan_rows(env["KEEPER_DB_URL"])
    assert status == "executed"
    eng = create_engine(env["KEEPER_DB_URL"])
    with eng.connect() as cx:
        rows = cx.execute(
            text(
                "select a.tx_hash, a.route, i.fee_policy from tx_attempts a "
                "join tx_intents i on a.intent_id = i.id"
            )
        ).all()
    eng.dispose()
    pool_legs = [(h, route) for h, route, fee in rows if "private" in str(fee)]
    assert pool_legs, rows  # the plan traded on a pool: the test saw something to hide
    assert all(route == "private" for _, route in pool_legs), pool_legs
    assert not watch.errors, watch.errors
    assert watch.polls > 10
    # a sighting is a leak when the poll was answered before the relay handed the trade to the
    # node: the pool showed it while the relay held it
    held_until = {h: relay.held[h].released_at for h, _ in pool_legs}
    leaked = watch.leaks(held_until)
    assert not leaked, f"pool trades in the public pool while the relay held them: {leaked}"
    after = [
        round((t - (held_until[h] or 0)) * 1000, 1) for t, h in watch.sightings if h in held_until
    ]
    print(
        f"\n{len(pool_legs)} pool trades, {watch.polls} polls, sightings after hand-over: {after} ms"
    )
    assert all(relay.held[h].status == "INCLUDED" for h in held_until)
    assert relay.blocks_built > 0
    # `keeper status` shows the relay, nothing pending at it and no drop
    r = keeper(private_env, "--json", "status")
    assert r.exit_code == 0, r.output + r.stderr
    private = json.loads(r.stdout)["private"]
    assert private["relays"] == [relay.url] and private["public_fallback"] is False
    assert private["pending"] == [] and private["drops_24h"] == 0
