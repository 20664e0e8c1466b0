"""The keeper transaction worker: ``python -m keepers.tx.worker``.

Reads settings from the environment (``KEEPER_*``), runs the store migrations, takes the SQLite
lock (SQLite mode is single-process), reconciles nonces with the node and works intents until
stopped (or, with ``--until-idle``, until no intent of its accounts is left in flight).
Exit codes: 0 done, 2 bad configuration, 3 store already in use.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
from types import FrameType

from keepers.tx.errors import SignerConflict
from keepers.tx.node import Node
from keepers.tx.pipeline import Pipeline
from keepers.tx.signers import signer_from_settings
from keepers.core.settings import ConfigError, KeeperSettings, load_settings
from keepers.core.logging import configure_logging, get_logger
from keepers.store.db import Store, StoreLockedError


def build_pipeline(settings: KeeperSettings) -> Pipeline:
    """The worker's pipeline, auditing with the same roles as the bots that submit the intents
    (keepers.runtime.policy); a broken deployment record or cross-chain config is a ValueError."""
    from keepers.runtime.policy import worker_policy

    settings = settings.model_copy(update={"policy": worker_policy(settings)})
    store = Store(settings.db_url, exclusive=True)
    node = Node(settings.rpc_url, settings.rpc_timeout_s)
    return Pipeline(store, node, [signer_from_settings(settings)], settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keepers.tx.worker")
    parser.add_argument("--until-idle", action="store_true", help="exit when nothing is left")
    parser.add_argument("--max-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"keeper worker: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_json, settings.log_level)
    log = get_logger("keepers.worker")
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port)
    try:
        pipeline = build_pipeline(settings)
    except StoreLockedError as err:
        print(f"keeper worker: {err}", file=sys.stderr)
        return 3
    except ValueError as err:  # signer misconfiguration found while building it
        print(f"keeper worker: invalid keeper configuration: {err}", file=sys.stderr)
        return 2

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    gc.freeze()  # long-lived process: keep the start-up heap (web3, SQLAlchemy) out of GC scans
    log.info(
        "worker.start",
        chain_id=pipeline.chain_id,
        accounts=list(pipeline.signers),
        roles=sorted(pipeline.settings.policy.roles),
        db=pipeline.store.dialect,
        confirmations=pipeline.confirmations,
    )
    try:
        pipeline.reconcile_nonces()
        pipeline.run(until_idle=args.until_idle, max_seconds=args.max_seconds)
    except KeyboardInterrupt:
        log.info("worker.stop")
    except SignerConflict as err:
        print(f"keeper worker: stopped: {err}", file=sys.stderr)
        return 4
    finally:
        pipeline.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
