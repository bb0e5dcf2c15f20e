"""Compile the gated component into $IAM_HOST_CACHE_DIR, as the integration's script will load
it: the same iam_host modules (from the built script's bundle), the same wasmtime, the same
engine settings, so the cache key matches. Run at image build time (the Dockerfile)."""

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
    print(f"compiled into the cache: {host.describe().name} {host.describe().version}")


if __name__ == "__main__":
    main(sys.argv[1])
