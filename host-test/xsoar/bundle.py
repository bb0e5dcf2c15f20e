"""Fill the integration script's IAM_HOST_BUNDLE: a base64 zip of the iam_host package's
modules (host-test/python/iam_host, without its command line) and the gated component, so that
the script carries everything it needs but wasmtime. Called by build.sh.

usage: bundle.py SCRIPT.py GATED_COMPONENT.wasm IAM_HOST_DIR   (rewrites SCRIPT.py in place)
"""

import base64
import io
import sys
import zipfile
from pathlib import Path

#: The modules the integration uses (cli.py and __main__.py are the command line's).
MODULES = ["__init__.py", "abi.py", "engine.py", "files.py", "host.py", "wire.py"]
EMPTY = "IAM_HOST_BUNDLE = ''\n"


def bundle(component: Path, package: Path) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in MODULES:
            archive.writestr(zipfile.ZipInfo(f"iam_host/{name}", (1980, 1, 1, 0, 0, 0)),
                             (package / name).read_bytes(), zipfile.ZIP_DEFLATED)
        archive.writestr(zipfile.ZipInfo("atlassian_iam_gated.wasm", (1980, 1, 1, 0, 0, 0)),
                         component.read_bytes(), zipfile.ZIP_DEFLATED)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def main(script: str, component: str, package: str) -> None:
    text = Path(script).read_text()
    if text.count(EMPTY) != 1:
        sys.exit(f"bundle.py: {script} has no single line {EMPTY.strip()!r} to fill")
    Path(script).write_text(text.replace(EMPTY, f"IAM_HOST_BUNDLE = '{bundle(Path(component), Path(package))}'\n"))


if __name__ == "__main__":
    main(*sys.argv[1:])
