#!/usr/bin/env bash
# Composes the gated component (the connector with the gate, wit/gate.wit `world gated`;
# `iam-host gated` builds and composes what is missing or stale) and copies it into the package
# as iam_host/atlassian_iam_gated.wasm, so that `pip install ./host-test/python` (or a wheel
# built from here) carries it. Run it before installing or building the package.
#
# usage: host-test/python/bundle-component.sh [GATED_COMPONENT.wasm]   (default: this repo's)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="$here/iam_host/atlassian_iam_gated.wasm"

if [[ $# -ge 1 ]]; then
    source="$1"
else
    source="$(cd "$repo" && cargo run --quiet -p iam-host -- gated)"
fi
[[ -f "$source" ]] || { echo "bundle-component.sh: no component at $source" >&2; exit 2; }
cp "$source" "$target.tmp"
mv "$target.tmp" "$target"
echo "$target"
