#!/usr/bin/env bash
# Installs packages into a venv (the project, editable, with its dev extra into .venv by
# default; slither into its own venv), with
# uv (PyPI `uv`, pinned) where it can be had, and pip where not. On a fresh machine pip took
# 148 s for the ~140 packages, uv 11 s for the same versions (`pip freeze` compared line by
# line): pip resolves and downloads one package at a time, uv in parallel. Nothing else
# changes: the same pyproject.toml, the same index. uv does not read pip's configuration, so
# the index settings pip has (pip.conf, PIP_* variables: index-url, extra-index-url,
# find-links) are passed on; locations that do not exist are left out (pip only warns about
# them, uv stops), and uv is told to pick the best version across all of them as pip does
# (its default takes a package from the first index that has it). If uv cannot be installed or fails, pip does the install as before.
# uv writes no bytecode by default (pip compiles every module it installs): with
# PYTHONDONTWRITEBYTECODE set, as on these machines, no process would ever write it either,
# and each one compiled ape, web3 and the rest from source again (a keeper worker's imports
# 1.6-2.0 s with bytecode, 3.3 s without; the suite starts over 100 Python processes), so
# uv is asked to compile at install (--compile-bytecode: about 20 s once).
# usage: install_python.sh [VENV [PIP-INSTALL-ARGS...]]    (default: .venv -e ".[dev]")
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-.venv}
shift || true
if [ $# -eq 0 ]; then set -- -e ".[dev]"; fi
UV_VERSION=0.13.9
pip=("$venv/bin/pip" --disable-pip-version-check)

uv_args=()
while IFS= read -r line; do
  key=${line%%=*}; key=${key##*.}
  value=${line#*=}; value=${value#\'}; value=${value%\'}
  for loc in $value; do
    path=${loc#file://}
    if [[ $loc == file://* || $loc == /* ]] && ! [ -e "$path" ]; then continue; fi
    case $key in
      index-url) uv_args+=(--index-url "$loc") ;;
      extra-index-url) uv_args+=(--extra-index-url "$loc") ;;
      find-links) uv_args+=(--find-links "$loc") ;;
    esac
  done
done < <("${pip[@]}" config list 2>/dev/null || true)

# uv from the project's venv when it has it (the slither venv), else installed into this one
uv=.venv/bin/uv
if ! [ -x "$uv" ] || [[ "$("$uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then uv=$venv/bin/uv; fi
if { [ "$uv" = .venv/bin/uv ] || "${pip[@]}" install -q "uv==$UV_VERSION" >/dev/null 2>&1; } \
  && "$uv" pip install -q --python "$venv/bin/python" --index-strategy unsafe-best-match \
    --compile-bytecode \
    ${uv_args[@]+"${uv_args[@]}"} \
    "$@"; then
  echo "python packages: installed with uv $UV_VERSION"
else
  echo "python packages: uv unavailable or failed; installing with pip" >&2
  "${pip[@]}" install -q "$@"
fi
