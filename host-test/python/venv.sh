#!/usr/bin/env bash
# Owns the Python host's virtual environment (target/python-host-venv): creates it with the
# pinned requirements.txt when it is missing or the requirements changed, and prints the path
# of its python on stdout. Idempotent and fast when up to date (a stamp file holds the hash of
# requirements.txt). `.ci/run` and the Rust tests (tests/e2e/python.rs) both call it.
#
# The package itself is not installed there: the tests import it from this directory and give
# the component explicitly. (tests/test_package.py installs it, in a fresh venv of its own.)
#
# usage: host-test/python/venv.sh [VENV_DIR]   (default: <repo>/target/python-host-venv)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-${CARGO_TARGET_DIR:-$repo/target}/python-host-venv}"
requirements="$here/requirements.txt"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" == "$wanted" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

# Build beside the final place and rename at the end, so that runs in parallel never see a
# half-installed environment; whichever finishes first wins.
mkdir -p "$(dirname "$venv")"
staging="$(mktemp -d "$venv.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
python3 -m venv "$staging" >&2
"$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
echo "$wanted" > "$staging/.requirements.sha256"
if [[ -e "$venv" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]]; then
    rm -rf "$venv"  # stale: built from other requirements
fi
if mv -T "$staging" "$venv" 2>/dev/null; then
    trap - EXIT
fi
echo "$venv/bin/python"
