#!/usr/bin/env bash
# usage: bounded.sh SECONDS command [args...]
# Runs the command with a time limit (make test's static checks run under it: a part that hangs
# fails the run with its name and its limit instead of using up CI's time). GNU timeout signals
# the command's whole process group (TERM, then KILL 30 s later); the command's exit code is
# returned, 124 or 137 when the limit ended it, with a TIMED OUT line on stderr.
set -u
if [ $# -lt 2 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bounded.sh SECONDS command [args...] (SECONDS a positive integer; got '${1:-}')" >&2
  exit 2
fi
limit=$1; shift
timeout --kill-after=30 "$limit" "$@"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "TIMED OUT: '$*' did not finish in $limit s" >&2; fi
exit "$rc"
