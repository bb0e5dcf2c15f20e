"""`pip install` of the package in a fresh virtual environment outside the repository is all a
user needs: the packaged gated component runs a replayed case to what iam-host prints (a cold
process compiles it, the next loads it from the cache), and ``iam_host.default_host()`` works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import PACKAGE_DIR, case_args, run_rust


def test_a_fresh_venv_runs_the_packaged_component(tmp_path, component, rust_cli, connector):
    source = tmp_path / "source"
    source.mkdir()
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(PACKAGE_DIR / name, source / name)
    shutil.copytree(PACKAGE_DIR / "iam_host", source / "iam_host", ignore=shutil.ignore_patterns("__pycache__", "*.wasm"))
    shutil.copy(component, source / "iam_host" / "atlassian_iam_gated.wasm")  # what bundle-component.sh does
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr

    args = case_args("get_seed_example")
    expected = run_rust(rust_cli, args + ["--component", str(connector)])
    assert expected.code == 0, expected.stderr
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IAM_HOST_COMPONENT")}
    environment["IAM_HOST_CACHE_DIR"] = str(tmp_path / "cache")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for attempt in ("compiles", "loads the cached artifact"):
        run = subprocess.run([str(python), "-m", "iam_host", *args], capture_output=True, cwd=outside, env=environment,
                             timeout=300)
        assert (run.returncode, run.stdout) == (0, expected.stdout), f"{attempt}: {run.stderr.decode()}"
    assert list((tmp_path / "cache").glob("*.cwasm")), "no compiled component was cached"
    described = subprocess.run([str(venv / "bin" / "iam-host-py"), "describe"], capture_output=True, env=environment,
                               cwd=outside, timeout=300)
    assert described.returncode == 0 and "iam-get-group" in json.loads(described.stdout)["commands"]
    imported = subprocess.run([str(python), "-c", "import iam_host; print(iam_host.default_host().commands[0])"],
                              capture_output=True, text=True, env=environment, cwd=outside, timeout=300)
    assert imported.stdout.strip() == "iam-get-user", imported.stderr
