"""keepers.planning: pure planners, no I/O (no web3, no database, no clock reads).

Fund rebalance (seed 001): ``state`` (the on-chain view mirrored as frozen dataclasses),
``config`` (env settings), ``metrics``, ``triggers``, ``plan`` (``plan()`` and ``apply()``),
``risk``, ``approval``, ``rollback``, ``report``.
"""
