"""Runs halmos (in its own venv: ``.venv-halmos/bin/python scripts/toolchain/halmos_launch.py
--branching-rlimit N [halmos args... | --self-check]``) with each branching query bounded by z3's resource
limit (``rlimit``: a count of solver steps) instead of halmos' wall-clock ``--solver-timeout-
branching`` (1 ms by default).

Why: halmos asks z3 at every symbolic JUMPI whether each side is feasible, and follows a side
unless z3 answers ``unsat``; a query that times out follows both. With a wall-clock limit the
answer depends on how much CPU halmos got in that millisecond. Under load (``make test`` runs
the proofs beside the ape suite, at a lower priority) many branching queries time out, halmos
follows infeasible sides, each of those paths branches again, and the run does not finish: the
leaky-bucket proof, 384 paths and 5 s on an idle machine, was still running 14 minutes after
two minutes of load at its start (it used up a CI run's 90 minutes once). A resource limit does
not depend on the CPU a query got: under the same load the leaky-bucket proof explores its 384
paths and finishes in 98 s (6 s idle). Path counts still vary between runs of some proofs (the
scheduler's 37-52, the tumbling window's 283-290; with the 1 ms time-out, idle: 66-73 and
300-303), and a run under load stayed inside those ranges. The limit applies per query, but
the answer also depends on what the solver learnt from earlier queries; where the order of
queries varies between runs is not pinned down (PYTHONHASHSEED=0 does not remove it).

Soundness is unchanged: a query that runs out of its budget is ``unknown``, and halmos follows
both sides of an ``unknown`` branch, as it does on a time-out; only which queries come back
``unknown`` changes. The assertion queries (``--solver-timeout-assertion``, run by the external
solver) keep their wall-clock limit: a time-out there fails the proof, never passes it.

halmos exposes no option for this, so the launcher replaces its solver factory
(``halmos.utils.create_solver``) before running halmos' own ``main``; it refuses any halmos
other than the pinned version, whose factory it was written against.
"""

from __future__ import annotations

import sys

PINNED = "0.3.3"  # scripts/toolchain/prove.sh installs this one


def install(rlimit: int) -> str | None:
    """Replaces halmos' solver factory; returns why it cannot, or None."""
    from importlib.metadata import version

    found = version("halmos")
    if found != PINNED:
        return (
            f"written against halmos {PINNED}, found {found}: check that "
            "halmos.utils.create_solver still builds every branching solver, then update PINNED"
        )

    import halmos.__main__ as halmos_main  # type: ignore[import-not-found]
    import halmos.sevm as sevm  # type: ignore[import-not-found]
    import halmos.utils as utils  # type: ignore[import-not-found]

    wall_clock_factory = utils.create_solver

    def create_solver(logic="QF_AUFBV", ctx=None, timeout=0, max_memory=0):  # type: ignore[no-untyped-def]
        # halmos passes a non-zero timeout only for branching solvers; a zero one (its scratch
        # solvers) stays unbounded, as before
        solver = wall_clock_factory(logic=logic, ctx=ctx, timeout=0, max_memory=max_memory)
        if timeout > 0:
            solver.set(rlimit=rlimit)
        return solver

    for module in (utils, halmos_main, sevm):
        if getattr(module, "create_solver", None) is not wall_clock_factory:
            return f"{module.__name__}.create_solver is not halmos.utils' (halmos changed)"
    for module in (utils, halmos_main, sevm):
        module.create_solver = create_solver
    return None


def self_check() -> str | None:
    """After install(): the branching solvers answer as bounded by the resource limit, per query;
    returns what is wrong, or None. Written for the limit prove.sh sets (10,000): a factorisation
    of a 64-bit constant needs more than that (and less than 1,000,000), so a branching solver
    must give up on it (``unknown``) however fast the machine, and halmos' scratch solver (no
    limit) must solve it; 20 easy queries in a row on one branching solver must all be solved
    (the limit is per query, not a lifetime)."""
    import halmos.__main__ as halmos_main  # type: ignore[import-not-found]
    import halmos.sevm as sevm  # type: ignore[import-not-found]
    import halmos.utils as utils  # type: ignore[import-not-found]
    from z3 import ULT, BitVec  # type: ignore[import-not-found]

    x, y = BitVec("x", 64), BitVec("y", 64)

    def answer(solver, *constraints) -> str:  # type: ignore[no-untyped-def]
        solver.push()
        solver.add(*constraints)
        result = str(solver.check())
        solver.pop()
        return result

    hard = (x * y == 0x1234567890ABCDEF, ULT(1, x), ULT(1, y), ULT(x, y))
    branching = [m.create_solver(timeout=1) for m in (utils, sevm, halmos_main)]
    got = [answer(s, *hard) for s in branching]
    if got != ["unknown"] * 3:
        return (
            f"a branching solver answered {got} to a query over its resource limit (want unknown)"
        )
    if (scratch := answer(utils.create_solver(timeout=0), *hard)) != "sat":
        return f"the unbounded scratch solver answered {scratch} (want sat)"
    easy = [answer(branching[0], x + y == i, ULT(x, 5)) for i in range(20)]
    if easy != ["sat"] * 20:
        return f"20 easy queries on one branching solver: {easy} (want all sat)"
    return None


def main(argv: list[str]) -> int:
    if (
        len(argv) < 2
        or argv[0] != "--branching-rlimit"
        or not argv[1].isdigit()
        or int(argv[1]) <= 0
    ):
        print(
            "usage: halmos_launch.py --branching-rlimit N [halmos args...] "
            f"(N a positive integer; got {argv[:2]!r})",
            file=sys.stderr,
        )
        return 2
    refused = install(int(argv[1]))
    if refused:
        print(f"halmos_launch.py: {refused}", file=sys.stderr)
        return 2
    if argv[2:] == ["--self-check"]:
        wrong = self_check()
        print(f"halmos_launch.py self-check: {wrong or 'branching queries bounded per query'}")
        return 1 if wrong else 0
    import halmos.__main__ as halmos_main  # type: ignore[import-not-found]

    sys.argv = ["halmos", *argv[2:]]
    return int(halmos_main.main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
