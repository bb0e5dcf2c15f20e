#!/usr/bin/env bash
# Builds the component (through the Rust host, which builds it when missing: cargo for
# wasm32-unknown-unknown, then wit-component; host-test/src/artifact.rs) and copies it into the package as
# iam_host/atlassian_iam.wasm, so that `pip install ./host-test/python` (or a wheel built from
# here) carries it. Run it before installing or building the package.
#
# usage: host-test/python/bundle-component.sh [COMPONENT.wasm]   (default: build this repo's)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="$here/iam_host/atlassian_iam.wasm"

if [[ $# -ge 1 ]]; then
    source="$1"
else
    (cd "$repo" && cargo run --quiet -p iam-host -- describe >/dev/null)
    target_dir="${CARGO_TARGET_DIR:-$repo/target}"
    source="$target_dir/component/atlassian_iam.wasm"
fi
[[ -f "$source" ]] || { echo "bundle-component.sh: no component at $source" >&2; exit 2; }
cp "$source" "$target.tmp"
mv "$target.tmp" "$target"
echo "$target"
