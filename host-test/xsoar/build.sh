#!/usr/bin/env bash
# Makes the released artifacts of the XSOAR pack in target/xsoar/:
#   integration-AtlassianIAMWasm.yml   the unified yml (script, image and description inlined):
#                                      upload it under Settings > Integrations > Upload;
#   AtlassianIAMWasm.zip               the pack zip: Marketplace > Upload content packs;
#   docker/                            the image's build context (Dockerfile, its cache step,
#                                      the component and the built script).
# The script carries the iam_host modules and the gated component (IAM_HOST_BUNDLE, filled in
# by bundle.py); the image only has to add wasmtime. Offline: demisto-sdk from sdk-venv.sh.
#
# usage: [IAM_GATED_COMPONENT=FILE.wasm] host-test/xsoar/build.sh [OUT_DIR]   (default: <repo>/target/xsoar)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-${CARGO_TARGET_DIR:-$repo/target}/xsoar}"
pack=AtlassianIAMWasm

# The venv is built elsewhere and renamed into place: its scripts' #! lines name the old place,
# so demisto-sdk runs as `python -m demisto_sdk`.
python="$(dirname "$("$here/sdk-venv.sh")")/python"
sdk=("$python" -m demisto_sdk)
# The gated component: $IAM_GATED_COMPONENT when given (the e2e tests give theirs), else this
# repository's, composed when missing or stale.
component="${IAM_GATED_COMPONENT:-$(cd "$repo" && cargo run --quiet -p iam-host -- gated)}"

rm -rf "$out"
mkdir -p "$out/pack/Packs" "$out/docker"
cp -r "$here/Packs/$pack" "$out/pack/Packs/"
find "$out/pack" \( -name '__pycache__' -o -name '*.pyc' -o -name '.pytest_cache' \) -prune -exec rm -rf {} +
script="$out/pack/Packs/$pack/Integrations/$pack/$pack.py"
"$python" "$here/bundle.py" "$script" "$component" "$repo/host-test/python/iam_host"

# The SDK reads paths from the root of the git repository around them: the copy is its own (not
# a content repository; the warning about that says nothing else).
export DEMISTO_SDK_IGNORE_CONTENT_WARNING=1
cd "$out/pack"
git init -q . && git add -A && git -c user.name=build -c user.email=build@localhost commit -qm pack
"${sdk[@]}" prepare-content -i "Packs/$pack/Integrations/$pack" -o "$out" >"$out/prepare-integration.log" 2>&1 ||
    { cat "$out/prepare-integration.log" >&2; exit 1; }
"${sdk[@]}" zip-packs -i "Packs/$pack" -o "$out" >"$out/zip-packs.log" 2>&1 ||
    { cat "$out/zip-packs.log" >&2; exit 1; }
mv "$out/uploadable_packs/$pack.zip" "$out/$pack.zip" && rmdir "$out/uploadable_packs" ||
    { echo "build.sh: zip-packs made no $pack.zip" >&2; cat "$out/zip-packs.log" >&2; exit 1; }

cp "$here/docker/Dockerfile" "$here/docker/prepare_cache.py" "$script" "$out/docker/"
cp "$component" "$out/docker/atlassian_iam_gated.wasm"
ls "$out/integration-$pack.yml" "$out/$pack.zip" "$out/docker/Dockerfile"
