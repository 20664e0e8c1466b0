"""The bot registry: every keeper bot's declaration, by name, in the order ``keeper run`` starts
them. This module is a composition root, as ``keepers.cli`` is: it imports every slice, and
nothing below the slices (keepers.runtime, keepers.tx, keepers.store, keepers.core) imports it.
The runtime takes the declarations as a value (``keepers.runtime.runner.build_runtime``,
``keepers.runtime.policy.worker_policy``); the two entry points hand them over: ``keeper run``
(keepers.cli) and the standalone transaction worker's ``main`` (``python -m keepers.tx.worker``).
Adding a bot is one declaration beside its code (keepers.runtime.bots.BotDeclaration), listed
here, and its settings section."""

from __future__ import annotations

from keepers.runtime.bots import BotDeclaration


def declarations() -> dict[str, BotDeclaration]:
    """Every bot, by name, in the order ``keeper run`` starts them."""
    from keepers.automation.executor import DECLARATION as EXECUTOR
    from keepers.automation.supervisor import DECLARATION as SUPERVISOR
    from keepers.crosschain.assemble import DECLARATION as CROSSCHAIN
    from keepers.fund.declaration import DECLARATION as FUND

    return {d.name: d for d in (FUND, EXECUTOR, SUPERVISOR, CROSSCHAIN)}
