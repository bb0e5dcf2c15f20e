#!/usr/bin/env bash
# Owns the Python virtual environment of the local SCIM server (tests/scim/server.py), with
# the pinned requirements.txt, and prints the path of its python on stdout. `.ci/run` and the
# Rust test harness (tests/e2e/scim_server.rs) both call it, so there is one way to install
# the server.
#
# usage: tests/scim/venv.sh [VENV_DIR]   (default: <repo>/target/scim-venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
exec "$repo/tests/pinned-venv.sh" "$here/requirements.txt" "${1:-$repo/target/scim-venv}" python
