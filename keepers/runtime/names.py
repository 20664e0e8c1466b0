"""The bots' names, in a module that imports nothing: ``keeper --help`` names them (the ``run``
command's ``--bots`` option) without importing keepers.runtime.runner (web3, APScheduler, the
store: about half a second of every ``keeper`` process, issue 68)."""

from __future__ import annotations

# `keeper run` starts all of them by default (crosschain when BALLAST_CROSSCHAIN_CONFIG is set);
# the names of keepers.registry.declarations(), in its order (a test checks)
BOT_NAMES = ("fund", "executor", "supervisor", "crosschain")
# the cross-chain config's path (keepers.crosschain.config.ENV_PATH): `keeper crosschain`'s
# --config help names it without importing the config's models (yaml, pydantic)
CROSSCHAIN_ENV = "BALLAST_CROSSCHAIN_CONFIG"
