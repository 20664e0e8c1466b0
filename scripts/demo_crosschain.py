"""Three local chains rebalanced by the cross-chain inventory bot.

    python -m scripts.demo_crosschain        (or: ape run demo_crosschain)

Starts three anvils on free ports itself (ethereum: USDC 6 + USDT 6 in a USDT0 adapter;
bsc: USDT0 18 decimals; base: USDC 6), deploys the CCTP stand-ins, LayerZero's real
EndpointV2 + SimpleMessageLib, the USDT0 OFTs and a Binance simulator, leaves base short
of USDC and bsc short of USDT, then runs the bot: both moves start in parallel (CCTP
completes at once, USDT0 waits for the DVNs), the DVN stand-in verifies, the next tick
delivers and invests. Prints the inventory before and after and the moves table. Needs
`ape compile` (artifacts in .build/) and anvil on PATH. Everything is stopped at the end.
"""

from __future__ import annotations

import tempfile
import time

import click

MAX = 2**256 - 1


def _table(bot) -> str:
    lines = [
        f"  {'chain':<10}{'asset':<6}{'balance':>12}{'base':>10}{'trigger<=':>11}"
        f"{'in':>8}{'out':>8}  triggered"
    ]
    for r in bot.status_rows():
        lines.append(
            f"  {r['chain']:<10}{r['asset']:<6}{r['balance']:>12}{r['base']:>10}"
            f"{r['trigger_at']:>11}{r['in_flight_in']:>8}{r['in_flight_out']:>8}  "
            f"{'YES' if r['triggered'] else '-'}"
        )
    return "\n".join(lines)


@click.command()
def cli() -> None:
    # imported here, not at the top: `ape run` imports every script in scripts/ to list its
    # commands, so a top-level import of the scene (the cross-chain bot, web3 middleware,
    # SQLAlchemy models: about 1.3 s) was paid by every `ape run deploy` and `ape run demo`
    from ballast_dev.local.crosschain_scene_local import (
        KEEPER,
        account,
        build_three_chain_scene,
        transact,
    )
    from keepers.core.logging import configure_logging

    configure_logging(False, "WARNING")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        click.echo("starting three anvils and deploying CCTP, LayerZero, USDT0, exchange sim...")
        scene = build_three_chain_scene(f"sqlite:///{tmp}/keeper.db")
        try:
            click.echo(f"  ready in {time.monotonic() - t0:.1f}s")
            holder = account(scene.sides["ethereum"].w3, 3)
            start = {
                ("ethereum", "USDC"): "4000",
                ("ethereum", "USDT"): "3000",
                ("bsc", "USDT"): "300",
                ("base", "USDC"): "100",
            }
            for name, side in scene.sides.items():
                for asset, token in (("USDC", side.usdc), ("USDT", side.usdt)):
                    if token is not None:
                        scene.fund(name, asset, holder, start[(name, asset)])
                        transact(side.w3, token.functions.approve(KEEPER, MAX), holder)
            bot = scene.bot(holders={n: holder for n in scene.sides})
            click.echo("\ninventory before (holder " + holder + "):\n" + _table(bot))

            t1 = time.monotonic()
            report = bot.tick()
            click.echo(
                f"\ntick 1 ({time.monotonic() - t1:.1f}s): planned "
                + ", ".join(
                    f"{p['asset']} {p['amount']} {p['source']}->{p['dest']} via {p['route']}"
                    for p in report.planned
                )
            )
            for v in report.moves:
                click.echo(f"  move {v.id}: {v.asset} {v.source}->{v.dest} {v.route} {v.state}")
            n = scene.dvn("bsc")
            click.echo(f"DVN stand-in verified {n} packet(s) on bsc")
            t2 = time.monotonic()
            report = bot.tick()
            click.echo(f"tick 2 ({time.monotonic() - t2:.1f}s):")
            for v in bot.engine.moves():
                click.echo(
                    f"  move {v.id}: {v.asset} {v.source}->{v.dest} via {v.route}: "
                    f"{v.state}, sent {v.amount_sent} (source units), "
                    f"received {v.amount_received} (destination units)"
                )
            click.echo("\ninventory after:\n" + _table(bot))
            txs = {n: scene.nonce(n) for n in scene.sides}
            click.echo(f"\nkeeper transactions per chain (all through the pipeline): {txs}")
            click.echo(f"total {time.monotonic() - t0:.1f}s")
            bot.stop()
        finally:
            scene.close()


if __name__ == "__main__":
    cli()
