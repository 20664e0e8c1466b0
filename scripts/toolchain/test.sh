#!/usr/bin/env bash
# `make test`: the ape suite, with the forge invariant suites and slither run BESIDE it (they
# read only the compiled sources and write only under .build/forge and .build/slither*, and the
# ape suite is mostly waiting on anvil, so they overlap instead of adding ~2 min after it). Their
# output is kept in .build/static-checks.log and printed whole after the suite, so nothing
# interleaves. The fork rehearsal (tests/fork/run.sh: an upstream anvil on its fixed port 8645,
# outside the ephemeral range the suite's anvils take ports from, its own ape data folder, the
# deployment record only the fork tests read) runs beside them too, its log
# .build/fork-rehearsal.log printed after theirs: run after the suite it added its whole time
# (the upstream's deploy on a fresh clone, then the fork tests: 84 s on a loaded 2-core machine)
# to the run. Every part runs even when an earlier one fails; any failure fails the whole
# (exit 1), and a summary names which part failed.
# The ape suite runs on BALLAST_TEST_WORKERS pytest-xdist workers (default: one more than the
# cores: a worker waiting on anvil, a subprocess or a test's own bounded wait leaves its core to
# another; on 2 cores 392 s against 455-502 s on two, at the same CPU; the races three workers
# found in earlier sessions are fixed, and a worker node's base fee no longer leaks between
# modules: docs/development/testing.md), each a
# pytest process of its own with its own anvil (ape-config.yaml `foundry.host: auto` picks a free
# port per worker); `--dist loadfile` keeps a test file on one worker, so module- and
# session-scoped deployments are built once per file/worker as before and a file's tests keep
# their order. BALLAST_TEST_WORKERS=0 runs the suite in one process, as before.
# usage: test.sh [ape test paths/args...]   (default: tests -m "not slow and not bench and not fork")
set -uo pipefail
cd "$(dirname "$0")/../.."
# the number of workers, checked before anything starts (xdist's own refusal came after the
# static checks and the fork rehearsal had been started beside it)
workers=${BALLAST_TEST_WORKERS:-$(($(nproc 2>/dev/null || echo 2) + 1))}
case "$workers" in
  '' | *[!0-9]*)
    echo "test.sh: BALLAST_TEST_WORKERS must be a whole number of workers (0: one process), got '$workers'" >&2
    exit 2 ;;
esac
mkdir -p .build
# phases, printed at the end (issue 68 asks where a run's time goes): each background part
# writes the second it ended; .ci/run exports BALLAST_RUN_T0, the second the run began, so
# the set-up before this script (apt, venvs, npm, compile) is told apart from the tests
t_start=$(date +%s)
rm -f .build/.static-end .build/.fork-end .build/.static-times .build/.fork-times
log=.build/static-checks.log
# The Python every process would compile from source again (these machines set
# PYTHONDONTWRITEBYTECODE) compiled once, first: the repository's modules and every module pytest
# rewrites (scripts/toolchain/precompile.py; each xdist worker's collection took 18 s of CPU
# instead of 8). Only a cost saved: a failure here leaves the run as it was.
python -m scripts.toolchain.precompile || echo "precompile failed: modules compile from source" >&2
# At a lower CPU priority (nice 15): on one worker a core the ape suite left about a seventh of
# both cores idle (waits on anvil, a file's tail), which the static checks filled (the extra
# worker of the default now takes most of it). At equal
# priority they take their CPU from the ape suite's timing-sensitive subprocess tests instead.
# Each part is bounded (scripts/toolchain/bounded.sh: timeout signals its whole process group):
# a part that hangs fails the run with its name and its limit instead of using up CI's time (a
# proof that explored infeasible paths without end once did; scripts/toolchain/halmos_launch.py
# says why it no longer does).
# Beside the ape suite on a fresh 2-core clone they took 324 s, 121 s and 21 s (the halmos and
# slither venvs are made on a first run, inside these limits too). slither's report and the fast
# proofs' pass are reused when every input they read is unchanged (slither.sh, prove.sh: a cache
# under ~/.cache/ballast keyed by the inputs' hash; a machine with an empty cache pays them whole).
(nice -n 15 bash -c 'b=scripts/toolchain/bounded.sh; bash $b 1200 bash scripts/toolchain/invariant.sh fast && bash $b 900 bash scripts/toolchain/prove.sh fast && bash $b 900 bash scripts/toolchain/slither.sh'; r=$?; date +%s > .build/.static-end; times > .build/.static-times; exit $r) \
  > "$log" 2>&1 &
static_pid=$!
# At nice 10, between the suite and the static checks: its keepers wait on a fork node with
# time limits of their own, so it is not left only the idle time the static checks get.
fork_log=.build/fork-rehearsal.log
(nice -n 10 bash scripts/toolchain/bounded.sh 1500 bash tests/fork/run.sh; r=$?; date +%s > .build/.fork-end; times > .build/.fork-times; exit $r) \
  > "$fork_log" 2>&1 &
fork_pid=$!
trap 'kill "$static_pid" "$fork_pid" 2>/dev/null || true' INT TERM

# the 25 slowest tests are listed after the run, where the time goes (for the next speed-up),
# and every failed, errored and skipped test with its reason (-rfEs: -r replaces the default fE)
# (and a JUnit report, .build/test-results.xml: `make test-durations` turns it into the
# per-file durations the workers' file order is taken from)
# Each test, its fixtures included, is bounded at 900 s (pytest-timeout; the slowest takes about
# 100 s here): a test that hangs fails with its name and its threads' stacks, and the rest of the
# run goes on, instead of the run using up CI's 90 minutes without a word.
if [ $# -eq 0 ]; then
  set -- tests -m "not slow and not bench and not fork" --durations=25 -rfEs \
    --junitxml=.build/test-results.xml --timeout=900
fi
if [ "$workers" != 0 ]; then set -- "$@" -n "$workers" --dist loadfile; fi
# shellcheck disable=SC2086  # APE_TEST_ARGS is a word list by design (as in the Makefile)
# (its output is kept in .build/ape-suite.log too: the failed tests' lines are printed again at
# the very end, where a CI log cut to its tail still shows them)
ape_log=.build/ape-suite.log
rm -rf .build/worker-order  # (tests/support/file_order.py: a file per worker of this run)
rm -rf .build/file-cpu  # (tests/support/file_cpu.py: each file's CPU, per worker of this run)
BALLAST_FILE_CPU_DIR="$PWD/.build/file-cpu" ape test "$@" ${APE_TEST_ARGS:-} 2>&1 | tee "$ape_log"
suite=${PIPESTATUS[0]}
t_suite=$(date +%s)

# the files that cost the most CPU (with every core busy, what a speed-up has to remove; JUnit
# seconds count a file's waits too): scripts/toolchain/file_cpu.py over what each worker wrote
python scripts/toolchain/file_cpu.py .build/file-cpu 15 || true

wait "$static_pid"
static=$?
echo "==== invariant suites, symbolic proofs and slither (ran beside the ape suite; log: $log) ===="
cat "$log"

wait "$fork_pid"
fork=$?
echo "==== fork rehearsal (ran beside the ape suite; log: $fork_log) ===="
cat "$fork_log"

if [ "$suite" -ne 0 ]; then
  echo "==== the ape suite's failures (whole output: $ape_log) ===="
  grep -E '^(FAILED|ERROR) |^=+ .*(failed|error).* =+$' "$ape_log" | tail -n 40
  # the files each failed file's worker ran before it (tests/support/file_order.py writes them)
  for f in $(grep -oE '^(FAILED|ERROR) [^: ]+' "$ape_log" | awk '{print $2}' | sort -u); do
    for w in .build/worker-order/*.txt; do
      [ -f "$w" ] && grep -qxF "$f" "$w" || continue
      echo "$f ran on $(basename "$w" .txt) after (the last 8 files before it): $(awk -v f="$f" '$0 == f {exit} {a[n++] = $0} END {for (i = (n > 8 ? n - 8 : 0); i < n; i++) printf "%s ", a[i]}' "$w")"
    done
  done
fi
t_end=$(date +%s)
times > .build/.times  # (a builtin with a redirect: this shell's children, not a subshell's)
ended() { if [ -s "$1" ]; then echo "$(($(cat "$1") - t_start)) s"; else echo "?"; fi; }
# a part's CPU (user + system, seconds) from `times`'s last line (its children's: "1m2.5s 0m3.1s"),
# written by the part's subshell as it ends; the suite's is the rest of this shell's children's
cpu_s() { [ -s "$1" ] && tail -1 "$1" | awk '{t = 0; for (i = 1; i <= 2; i++) {split($i, p, "m"); t += p[1] * 60 + p[2]} printf "%d", t + 0.5}'; }
static_cpu=$(cpu_s .build/.static-times); fork_cpu=$(cpu_s .build/.fork-times); all_cpu=$(cpu_s .build/.times)
if [ -n "$static_cpu" ] && [ -n "$fork_cpu" ] && [ -n "$all_cpu" ]; then
  cpu_parts="CPU-s: ape suite $((all_cpu - static_cpu - fork_cpu)), invariants+proofs+slither $static_cpu, fork rehearsal $fork_cpu; "
else
  cpu_parts=""
fi
echo "phases: ${BALLAST_RUN_T0:+set-up before the tests $((t_start - BALLAST_RUN_T0)) s, }ape suite $((t_suite - t_start)) s; beside it: invariants+proofs+slither $(ended .build/.static-end), fork rehearsal $(ended .build/.fork-end); tests in all $((t_end - t_start)) s; ${cpu_parts}CPU of them (user, system): $(tail -1 .build/.times) on $(nproc 2>/dev/null || echo '?') cores"
echo "make test: ape suite (xdist workers: $workers) exit $suite, invariants+proofs+slither exit $static, fork rehearsal exit $fork"
[ "$suite" -eq 0 ] && [ "$static" -eq 0 ] && [ "$fork" -eq 0 ]
