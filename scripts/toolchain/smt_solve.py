"""An SMT solver command for halmos' `--solver-command`, from PyPI wheels.

halmos (0.3.3) runs a solver as a program on an SMT-LIB file and reads `sat`/`unsat` and the
model from its standard output. Its own bitwuzla and cvc5 entries download release binaries
from GitHub, which these machines cannot reach; PyPI has both solvers as Python bindings
(`bitwuzla`, `cvc5`), with SMT-LIB parsers but no program. This script is that program:

    python scripts/toolchain/smt_solve.py bitwuzla [--abstraction] FILE
    python scripts/toolchain/smt_solve.py cvc5 [--bv-as-int] FILE
    python scripts/toolchain/smt_solve.py portfolio FILE
    python scripts/toolchain/smt_solve.py self-check

`self-check` (prove.sh runs it before the proofs) has each member and the portfolio answer a
small sat query (with its model) and a small unsat one, and the portfolio print a model past a
pipe's 64 KiB whole; it fails when one answers wrong or not at all: a member that cannot start
would otherwise only make the proofs slower.

It runs every command in FILE, so `(check-sat)` and `(get-model)` print what the solver's own
binary prints. halmos stops it at its time-out as it stops any solver.

`portfolio` runs yices (halmos' default, from PyPI), bitwuzla and cvc5 with bit-vectors solved
as integers side by side on the same file and prints the answer of the first to say `sat` or
`unsat`, then stops the others. Each is sound, so any one's `unsat` is a proof.

Why: the share maths and the leaky bucket's drain are products and quotients of symbolic
256-bit words (`mulDiv`, `budget * elapsed / window`). yices and z3 time out on them at any
time-out tried. No one solver answers every query of those proofs: on the leaky bucket's 2x
bound yices answers the abstract queries (multiplication and division left uninterpreted) in
under 0.1 s, where cvc5 times out at 30 s, and bitwuzla the refined ones (the real operations)
in under 2 s, where yices and cvc5 time out at 30 s; on the drain lemma
`floor(b * e / w) * w <= b * e`, cvc5 over integers answers in 0.1 s, bitwuzla times out at 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack


def _bitwuzla(path: str, abstraction: bool) -> None:
    import bitwuzla

    options = bitwuzla.Options()
    options.set(bitwuzla.Option.PRODUCE_MODELS, True)
    if abstraction:
        options.set(bitwuzla.Option.ABSTRACTION, True)
    # models print bit-vectors in binary (#b...), which halmos reads as it reads yices' decimals
    parser = bitwuzla.Parser(bitwuzla.TermManager(), options, "smt2")
    parser.parse(path, False, True)


def _cvc5(path: str, bv_as_int: bool) -> None:
    import cvc5

    solver = cvc5.Solver()
    solver.setOption("produce-models", "true")
    if bv_as_int:
        # what halmos' `cvc5-int` entry passes to the binary
        solver.setOption("solve-bv-as-int", "iand")
        solver.setOption("iand-mode", "bitwise")
    symbols = cvc5.SymbolManager(solver)
    parser = cvc5.InputParser(solver, symbols)
    parser.setFileInput(cvc5.InputLanguage.SMT_LIB_2_6, path)
    while True:
        command = parser.nextCommand()
        if command.isNull():
            break
        out = command.invoke(solver, symbols)
        if out:
            sys.stdout.write(out)
            sys.stdout.flush()


def _members(path: str) -> list[list[str]]:
    here = os.path.abspath(__file__)
    bindir = os.path.dirname(sys.executable)
    return [
        [os.path.join(bindir, "yices-smt2"), "--smt2-model-format", "--bvconst-in-decimal", path],
        [sys.executable, here, "bitwuzla", path],
        [sys.executable, here, "cvc5", "--bv-as-int", path],
    ]


def _portfolio(path: str) -> int:
    """The first definite answer of the members; `unknown` only when none gave one. Each member
    writes to a file of its own, not a pipe: a model past the pipe's 64 KiB would block the
    member that found it until someone read the pipe, and nobody reads it before the member
    ends."""
    with tempfile.TemporaryDirectory(prefix="smt-portfolio-") as tmp, ExitStack() as files:
        outs = [files.enter_context(open(os.path.join(tmp, f"{i}.out"), "w+")) for i in range(3)]
        procs = [
            subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, text=True)
            for cmd, out in zip(_members(path), outs, strict=True)
        ]
        try:
            pending = dict(zip(procs, outs, strict=True))
            while pending:
                for p, out in list(pending.items()):
                    if p.poll() is None:
                        continue
                    del pending[p]
                    out.seek(0)
                    answer = out.read()
                    if answer.split("\n", 1)[0].strip() in ("sat", "unsat"):
                        sys.stdout.write(answer)
                        sys.stdout.flush()
                        return 0
                time.sleep(0.01)
            print("unknown")
            return 0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()


# x * y == 143 over 8-bit words, neither factor 1: sat (11 * 13)
SAT_QUERY = """(set-logic QF_BV)
(declare-fun x () (_ BitVec 8))
(declare-fun y () (_ BitVec 8))
(assert (= (bvmul x y) (_ bv143 8)))
(assert (bvugt x (_ bv1 8)))
(assert (bvugt y (_ bv1 8)))
(assert (bvult x (_ bv16 8)))
(assert (bvult y (_ bv16 8)))
(check-sat)
(get-model)
"""
# floor(b * e / w) * w <= b * e without overflow, over 8-bit words (on 16-bit words bitwuzla took
# 35 s and cvc5 over bit-vectors 49 s, cvc5 over integers 0.1 s): unsat
UNSAT_QUERY = """(set-logic QF_BV)
(declare-fun b () (_ BitVec 8))
(declare-fun e () (_ BitVec 8))
(declare-fun w () (_ BitVec 8))
(assert (bvult b (_ bv16 8)))
(assert (bvult e (_ bv16 8)))
(assert (not (= w (_ bv0 8))))
(assert (not (bvule (bvmul (bvudiv (bvmul b e) w) w) (bvmul b e))))
(check-sat)
(get-model)
"""


def big_model_query(n: int = 1000) -> str:
    """`n` words of 256 bits, each pinned to a 77-digit value: sat, with a model of about
    120 KB at n = 1,000, past a pipe's 64 KiB."""
    lines = ["(set-logic QF_BV)"]
    lines += [f"(declare-fun v{i} () (_ BitVec 256))" for i in range(n)]
    lines += [f"(assert (= v{i} (_ bv{2**255 + i * 7919} 256)))" for i in range(n)]
    return "\n".join([*lines, "(check-sat)", "(get-model)", ""])


def _self_check() -> int:
    here = os.path.abspath(__file__)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        checks = (
            ("sat", SAT_QUERY, "sat"),
            ("unsat", UNSAT_QUERY, "unsat"),
            ("big", big_model_query(), "sat"),
        )
        for name, text, want in checks:
            path = os.path.join(tmp, f"{name}.smt2")
            with open(path, "w") as f:
                f.write(text)
            portfolio = [sys.executable, here, "portfolio", path]
            # the big model: the portfolio prints it whole (its members write to files)
            for cmd in [portfolio] if name == "big" else [*_members(path), portfolio]:
                who = " ".join(os.path.basename(c) for c in cmd[:-1])
                try:
                    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
                except (OSError, subprocess.TimeoutExpired) as err:
                    out = f"({type(err).__name__})"
                first = out.split("\n", 1)[0].strip()
                ok = first == want and (want == "unsat" or "define-fun " in out)
                if name == "big":
                    ok = ok and out.count("define-fun v") == 1000
                failed += not ok
                if not ok:
                    print(
                        f"smt_solve self-check: {who} answered {first!r} to a {want} query",
                        file=sys.stderr,
                    )
    if not failed:
        print(
            "smt_solve self-check: yices, bitwuzla, cvc5 and the portfolio answer sat and unsat;"
            " the portfolio prints a 120 KB model whole"
        )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="smt_solve", description=__doc__.splitlines()[0])
    ap.add_argument("solver", choices=("bitwuzla", "cvc5", "portfolio", "self-check"))
    ap.add_argument(
        "--abstraction", action="store_true", help="bitwuzla: abstract mul/div, refine by lemmas"
    )
    ap.add_argument("--bv-as-int", action="store_true", help="cvc5: solve bit-vectors as integers")
    ap.add_argument("file", nargs="?")
    args = ap.parse_intermixed_args(argv)
    if args.solver == "self-check":
        return _self_check()
    if args.file is None:
        ap.error(f"{args.solver} needs a FILE")
    if args.solver == "portfolio":
        return _portfolio(args.file)
    if args.solver == "bitwuzla":
        _bitwuzla(args.file, args.abstraction)
    else:
        _cvc5(args.file, args.bv_as_int)
    return 0


if __name__ == "__main__":
    sys.exit(main())
