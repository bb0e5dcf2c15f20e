"""Compile the gated component into $IAM_HOST_CACHE_DIR, as the integration's script will load
it: the same iam_host modules (from the built script's bundle), the same wasmtime, the same
engine settings, so the cache key matches. Run at image build time (the Dockerfile), as root.

The host makes its cache private to the user who writes it (a 0700 folder, 0600 files): left so,
root's cache is one the integration's user (uid 4000) cannot read, and every container would
compile the component afresh. So the cache is then handed over read-only: the folder 0755, its
files 0444, all still root's (the host trusts only a folder of its user or root that nobody
else can write)."""

import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("AtlassianIAMWasm.py")


def main(component: str) -> None:
    namespace = {"__name__": "prepare_cache"}
    # The unified script without its demisto imports: only its bundle and importer are used.
    source = SCRIPT.read_text()
    source = source.replace("import demistomock as demisto", "demisto = None").replace(
        "from CommonServerPython import *", "DemistoException = RuntimeError")
    exec(compile(source, str(SCRIPT), "exec"), namespace)  # noqa: S102 - the built script itself
    iam_host, bundled = namespace["load_iam_host"]()
    wasm = Path(component).read_bytes()
    if bundled is not None and bundled != wasm:
        sys.exit(f"{component} is not the component inside {SCRIPT.name}")
    host = iam_host.Host(wasm)
    cache = sys.modules["iam_host.engine"].default_cache_dir()  # $IAM_HOST_CACHE_DIR, as the script reads it
    artifacts = sorted(cache.glob("*.cwasm"))
    if not artifacts:
        sys.exit(f"nothing was compiled into {cache}")
    for artifact in cache.iterdir():
        artifact.chmod(0o444)
    cache.chmod(0o755)
    print(f"compiled into the cache: {host.describe().name} {host.describe().version} ({artifacts[0].name})")


if __name__ == "__main__":
    main(sys.argv[1])
