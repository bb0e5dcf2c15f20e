#!/usr/bin/env bash
# Owns the Python host's virtual environment (target/python-host-venv) with the pinned
# requirements.txt, and prints the path of its python on stdout. `.ci/run` and the Rust tests
# (tests/e2e/python.rs) both call it.
#
# The package itself is not installed there: the tests import it from this directory and give
# the component explicitly. (tests/test_package.py installs it, in a fresh venv of its own.)
#
# usage: host-test/python/venv.sh [VENV_DIR]   (default: <repo>/target/python-host-venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
exec "$repo/tests/pinned-venv.sh" "$here/requirements.txt" "${1:-${CARGO_TARGET_DIR:-$repo/target}/python-host-venv}" python
