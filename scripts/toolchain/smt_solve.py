"""An SMT solver command for halmos' `--solver-command`, from PyPI wheels.

halmos (0.3.3) runs a solver as a program on an SMT-LIB file and reads `sat`/`unsat` and the
model from its standard output. Its own bitwuzla and cvc5 entries download release binaries
from GitHub, which these machines cannot reach; PyPI has both solvers as Python bindings
(`bitwuzla`, `cvc5`), with SMT-LIB parsers but no program. This script is that program:

    python scripts/toolchain/smt_solve.py bitwuzla [--abstraction] FILE
    python scripts/toolchain/smt_solve.py cvc5 [--bv-as-int] FILE
    python scripts/toolchain/smt_solve.py portfolio FILE

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
import time


def _bitwuzla(path: str, abstraction: bool) -> None:
    import bitwuzla

    options = bitwuzla.Options()
    options.set(bitwuzla.Option.PRODUCE_MODELS, True)
    if abstraction:
        options.set(bitwuzla.Option.ABSTRACTION, True)
    tm = bitwuzla.TermManager()
    # base 10: the models' bit-vectors in decimal, as halmos asks of yices
    parser = bitwuzla.Parser(tm, options, "smt2", 10)
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
    """The first definite answer of the members; `unknown` only when none gave one."""
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for cmd in _members(path)
    ]
    try:
        pending = list(procs)
        while pending:
            for p in list(pending):
                if p.poll() is None:
                    continue
                pending.remove(p)
                out = p.stdout.read() if p.stdout else ""
                if out.split("\n", 1)[0].strip() in ("sat", "unsat"):
                    sys.stdout.write(out)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="smt_solve", description=__doc__.splitlines()[0])
    ap.add_argument("solver", choices=("bitwuzla", "cvc5", "portfolio"))
    ap.add_argument(
        "--abstraction", action="store_true", help="bitwuzla: abstract mul/div, refine by lemmas"
    )
    ap.add_argument("--bv-as-int", action="store_true", help="cvc5: solve bit-vectors as integers")
    ap.add_argument("file")
    args = ap.parse_args(argv)
    if args.solver == "portfolio":
        return _portfolio(args.file)
    if args.solver == "bitwuzla":
        _bitwuzla(args.file, args.abstraction)
    else:
        _cvc5(args.file, args.bv_as_int)
    return 0


if __name__ == "__main__":
    sys.exit(main())
