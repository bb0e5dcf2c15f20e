#!/usr/bin/env bash
# Runs the unified yml's script on every case of tests/cases (or on COMMANDS.json), as the
# integration's image would, with its Docker steps emulated (no Docker daemon here):
#   1. the image's Python: a fresh venv with only host-test/xsoar/docker/image-requirements.txt
#      (wasmtime 50.0.1 and demisto/python3's requests), from PyPI, its site-packages read-only;
#   2. the Dockerfile's cache step, as root when we are root: prepare_cache.py (from the built
#      docker/ context) compiles the component into WORK/cache and hands it over read-only (its own chmod);
#   3. `USER 4000`: the script, extracted from the unified yml, run by tests/xsoar/run_unified.py
#      as uid 4000 (or, when we are not root, as ourselves: the runner refuses root).
# Prints the runner's JSON on stdout.
#
# usage: tests/xsoar/unified.sh BUILD_DIR WORK_DIR [COMMANDS.json]   (BUILD_DIR: build.sh's output)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$1"
work="$2"
commands="${3:-}"
target="${CARGO_TARGET_DIR:-$repo/target}"
venv="$target/xsoar-image-venv"
requirements="$repo/host-test/xsoar/docker/image-requirements.txt"

# 1. The image's Python: a venv of a Python every user can run (the system's python3 when there
#    is one), made afresh when the requirements change, readable by all, its packages read-only.
base="$(command -v /usr/bin/python3 || command -v python3)"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]]; then
    [[ -d "$venv" ]] && chmod -R u+w "$venv" && rm -rf "$venv"
    staging="$(mktemp -d "$venv.staging.XXXXXX")"
    "$base" -m venv "$staging" >&2
    "$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
    echo "$wanted" > "$staging/.requirements.sha256"
    chmod -R a+rX "$staging"
    mv -T "$staging" "$venv" 2>/dev/null || rm -rf "$staging"  # a parallel run made it first
fi
python="$venv/bin/python"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
chmod -R a-w "$site"

# The script, as the unified yml carries it.
rm -rf "$work" && mkdir -p "$work/script" "$work/opt"
sdk_python="$(dirname "$("$repo/host-test/xsoar/sdk-venv.sh")")/python"
"$sdk_python" - "$build/integration-AtlassianIAMWasm.yml" "$work/script/AtlassianIAMWasm.py" <<'PY'
import sys
import yaml
integration = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(integration["script"]["script"])
PY

# 2. The Dockerfile's cache step.
cp "$build/docker/prepare_cache.py" "$build/docker/AtlassianIAMWasm.py" "$build/docker/atlassian_iam_gated.wasm" "$work/opt/"
IAM_HOST_CACHE_DIR="$work/cache" "$python" "$work/opt/prepare_cache.py" "$work/opt/atlassian_iam_gated.wasm" >&2
# The Dockerfile's `chmod -R go-w` and nothing more: the cache's modes are prepare_cache.py's own
# (not made readable here, or a cache uid 4000 cannot read would pass unnoticed).
chmod -R go-w "$work/cache"
chmod a+rx "$work"
chmod -R a+rX "$work/script" "$work/opt"

# 3. The non-root run.
as_user=()
if [[ "$(id -u)" == 0 ]]; then
    as_user=(setpriv --reuid=4000 --regid=4000 --clear-groups)
fi
python3 "$here/plan.py" "$work/script/AtlassianIAMWasm.py" "$work/cache" $commands |
    env -i PATH=/usr/bin:/bin HOME="$work/script" IAM_HOST_CACHE_DIR="$work/cache" \
        "${as_user[@]}" "$python" -I "$here/run_unified.py"
