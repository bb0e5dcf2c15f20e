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
exec "$repo/tests/pinned-venv.sh" "$here/sdk-requirements.txt" "${1:-${CARGO_TARGET_DIR:-$repo/target}/xsoar-sdk-venv}" demisto-sdk
