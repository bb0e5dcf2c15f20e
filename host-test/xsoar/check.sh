#!/usr/bin/env bash
# XSOAR's own checks of the pack, offline (shared/spec/xsoar-pack.md):
#   1. `demisto-sdk validate -g` against origin/master, with validate/validation-config.toml (the
#      SDK's configuration minus the checks that need the network), in a scratch copy made into a
#      content-like git repository: an `origin` whose URL contains "content", with the pack added
#      on a branch over an origin/master that holds only validate/Config (demisto/content's
#      approved lists). The one error allowed is DO101: the image is not a demisto/ one (no
#      demisto/ image has wasmtime; the pack's README says so).
#   2. `demisto-sdk xsoar-lint` on the script, in the copy with a demisto/python3 image name in its
#      yml (xsoar-lint reads the image to pick the Python version): it must score 10.00/10.
# Prints each tool's summary; exits 0 when both pass.
#
# usage: host-test/xsoar/check.sh [SCRATCH_DIR]   (default: a fresh temporary folder, removed)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pack=AtlassianIAMWasm
sdk="$("$here/sdk-venv.sh")"
export DEMISTO_SDK_IGNORE_CONTENT_WARNING=1

scratch="${1:-}"
if [[ -z "$scratch" ]]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
fi
git_() { git -c user.name=check -c user.email=check@localhost -c init.defaultBranch=master "$@"; }
git_ init -q --bare "$scratch/content-origin.git"
git_ init -q "$scratch/content"
cd "$scratch/content"
mkdir -p Config Packs
cp "$here/validate/Config/"*.json Config/
git_ add -A && git_ commit -qm "content: the approved lists"
git_ remote add origin "$scratch/content-origin.git"
git_ push -q origin HEAD:master && git_ fetch -q origin
git_ checkout -qb "$pack"
cp -r "$here/Packs/$pack" Packs/
find Packs \( -name '__pycache__' -o -name '.pytest_cache' \) -prune -exec rm -rf {} +
git_ add -A && git_ commit -qm "the pack"

echo "== demisto-sdk validate -g --prev-ver origin/master --config-path validate/validation-config.toml"
set +e
"$sdk" validate -g --prev-ver origin/master --config-path "$here/validate/validation-config.toml" >"$scratch/validate.log" 2>&1
set -e
grep -E '\[[A-Z]{2}[0-9]{3}\]|errors were thrown|All validations passed' "$scratch/validate.log" || true
errors="$(grep -oE '\[[A-Z]{2}[0-9]{3}\]' "$scratch/validate.log" | sort -u | tr -d '[]' | tr '\n' ' ')"
if grep -q Traceback "$scratch/validate.log" || [[ -n "${errors// /}" && "${errors// /}" != DO101 ]]; then
    echo "check.sh: validate reported more than DO101: ${errors:-a crash}" >&2
    cat "$scratch/validate.log" >&2
    exit 1
fi

echo "== demisto-sdk xsoar-lint $pack.py"
integration="Packs/$pack/Integrations/$pack"
sed -i 's|^  dockerimage: .*|  dockerimage: demisto/python3:3.12.13.10116658|' "$integration/$pack.yml"
set +e
"$sdk" xsoar-lint "$integration/$pack.py" >"$scratch/xsoar-lint.log" 2>&1
set -e
grep -E 'rated at|^[A-Za-z/_.]+\.py:[0-9]+' "$scratch/xsoar-lint.log" || true
grep -q 'rated at 10.00/10' "$scratch/xsoar-lint.log" ||
    { echo "check.sh: xsoar-lint did not score 10.00/10" >&2; cat "$scratch/xsoar-lint.log" >&2; exit 1; }
echo "check.sh: validate (DO101 only) and xsoar-lint (10.00/10) pass"
