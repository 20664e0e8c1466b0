"""keepers.fund.planning: pure planners, no I/O (no web3, no database, no clock reads).

Fund rebalance (seed 001): ``state`` (the on-chain view as frozen dataclasses), ``config``
(env settings), ``metrics``, ``triggers``, ``actions`` (Action, Plan, Unresolved,
ActionResult), ``plan`` (``plan()``; re-exports the actions and ``apply()``), ``simulate``
(``apply()``), ``risk``, ``approval``, ``rollback``, ``report``.
"""
