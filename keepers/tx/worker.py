"""The keeper transaction worker: ``python -m keepers.tx.worker``.

Reads settings from the environment (``KEEPER_*``), runs the store migrations, takes the SQLite
lock (SQLite mode is single-process), reconciles nonces with the node and works intents until
stopped (or, with ``--until-idle``, until no intent of its accounts is left in flight).
Exit codes are the CLI's (keepers.core.errors.exit_code): 0 done, 2 bad configuration, 3 store
already in use or node unreachable, 4 halted (another process signs with our key); and the
worker's own 5 (EXIT_NOT_IDLE): ``--until-idle --max-seconds N`` ran out of time with intents
still in flight (any non-final status, ``broadcast`` awaiting its receipt included), so a
supervisor or a test never reads a time limit as "all done"; it names the statuses left on
stderr. With ``--until-idle`` a 0 means the worker saw nothing left (logged as ``worker.idle``
at INFO). Without ``--until-idle`` the time limit is the planned end: exit 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Mapping
from types import FrameType
from typing import Any

from keepers.core.errors import EXIT_CONFIG, EXIT_NOT_IDLE, EXIT_OK, exit_code
from keepers.core.gc_tuning import tune_gc
from keepers.core.logging import configure_logging, get_logger
from keepers.core.settings import ConfigError, KeeperSettings, load_settings
from keepers.store.db import Store, StoreLockedError
from keepers.tx.errors import SignerConflict
from keepers.tx.node import Node
from keepers.tx.pipeline import Pipeline
from keepers.tx.signers import signer_from_settings

# EXIT_NOT_IDLE (5, keepers.core.errors' table) is not in the map of errors: no error is
# raised, the run ended by its time limit


def build_pipeline(settings: KeeperSettings, declarations: Mapping[str, Any]) -> Pipeline:
    """The worker's pipeline, auditing with the same roles as the bots that submit the intents:
    the roles the bots stored in the database, then those its own environment gives
    (keepers.runtime.policy, over ``declarations``: keepers.registry's; a configured role wins).
    A broken deployment record or cross-chain config is a ValueError, raised before the store
    is touched."""
    from keepers.runtime.policy import merged, stored_policy, worker_policy

    own = worker_policy(settings, declarations)
    store = Store(settings.db_url, exclusive=True)
    settings = settings.model_copy(update={"policy": merged(stored_policy(store), own)})
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
        return exit_code(err)
    configure_logging(settings.log_json, settings.log_level)
    log = get_logger("keepers.worker")
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    # this entry point is a composition root, as keeper run is: the bot registry imports every
    # slice (their declared calls make the worker's audit policy); nothing else in keepers.tx does
    from keepers.registry import declarations

    try:
        pipeline = build_pipeline(settings, declarations())
    except StoreLockedError as err:
        print(f"keeper worker: {err}", file=sys.stderr)
        return exit_code(err)
    except ValueError as err:  # signer misconfiguration found while building it
        print(f"keeper worker: invalid keeper configuration: {err}", file=sys.stderr)
        return EXIT_CONFIG

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    tune_gc()  # long-lived process: the start-up heap out of GC scans (keepers.core.gc_tuning)
    log.info(
        "worker.start",
        chain_id=pipeline.chain_id,
        accounts=list(pipeline.signers),
        roles=sorted(pipeline.settings.policy.roles),
        db=pipeline.store.dialect,
        confirmations=pipeline.confirmations,
        # private submission (keepers.tx.relay): the relays pool trades go to (shown without
        # path or key) and whether the public pool may take them
        private_relays=pipeline.relay.shown if pipeline.relay is not None else [],
        public_fallback=pipeline.public_fallback,
    )
    started = time.monotonic()
    try:
        pipeline.reconcile_nonces()
        idle = pipeline.run(until_idle=args.until_idle, max_seconds=args.max_seconds)
        left = {} if idle else pipeline.in_flight()
    except KeyboardInterrupt:
        log.info("worker.stop")
        return EXIT_OK
    except SignerConflict as err:
        print(f"keeper worker: stopped: {err}", file=sys.stderr)
        return exit_code(err)
    finally:
        pipeline.store.close()
    elapsed = time.monotonic() - started
    if not args.until_idle:
        return EXIT_OK
    if left:
        log.error("worker.not_idle", max_seconds=args.max_seconds, in_flight=left)
        print(
            f"keeper worker: not idle: --max-seconds {args.max_seconds:g} passed with "
            f"{sum(left.values())} intents in flight ({_statuses(left)}); exit {EXIT_NOT_IDLE}",
            file=sys.stderr,
        )
        return EXIT_NOT_IDLE
    log.info("worker.idle", seconds=round(elapsed, 1))
    return EXIT_OK


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))


if __name__ == "__main__":
    sys.exit(main())
