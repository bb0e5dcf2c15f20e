#!/usr/bin/env bash
# Owns demisto-sdk's virtual environment (target/xsoar-sdk-venv, pinned by sdk-requirements.txt:
# demisto-sdk 1.39.13 and its dependencies) and prints the path of its demisto-sdk on stdout.
# `.ci/run` and the e2e tests (tests/e2e/xsoar_pack.rs) both call it; installing takes about a
# minute, and nothing when it is up to date.
#
# usage: host-test/xsoar/sdk-venv.sh [VENV_DIR]   (default: <repo>/target/xsoar-sdk-venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-${CARGO_TARGET_DIR:-$repo/target}/xsoar-sdk-venv}"
sdk="$("$repo/tests/pinned-venv.sh" "$here/sdk-requirements.txt" "$venv" demisto-sdk)"
# pinned-venv.sh builds the venv beside its place and renames it, so the #! lines of its scripts
# name the staging folder; demisto-sdk runs some of them (pylint for xsoar-lint): point them here.
venv="$(cd "$venv" && pwd)"
{ grep -lZ '^#!.*\.staging\.[A-Za-z0-9]*/bin/python' "$venv"/bin/* 2>/dev/null || true; } |
    xargs -0 -r sed -i "1s|^#!.*/bin/python[0-9.]*\$|#!$venv/bin/python|"
echo "$sdk"
