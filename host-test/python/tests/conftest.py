"""Shared fixtures of the Python host's tests.

The component and the hostile component are given by the Rust test that runs this suite
(tests/e2e/python.rs sets IAM_COMPONENT and IAM_HOSTILE_COMPONENT to the ones it built, and
IAM_HOST_RUST_CLI to the Rust iam-host, to compare bytes with). Run by hand, the suite uses
this repository's builds under target/; a component that is missing fails the tests that need
it, with the command that builds it: nothing is skipped silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO = PACKAGE_DIR.parents[1]
CASES = REPO / "tests" / "cases"
sys.path.insert(0, str(PACKAGE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent / "xsoar_standin"))

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
#: A cache of compiled components for these tests only.
CACHE_DIR = TARGET / "iam-host-python-test-cache"
os.environ.setdefault("IAM_HOST_CACHE_DIR", str(CACHE_DIR))


def _wasm(variable: str, default: Path, build: str) -> Path:
    path = Path(os.environ.get(variable) or default)
    if not path.is_file():
        pytest.fail(f"no component at {path}: build it with `{build}` (or set {variable})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def component() -> Path:
    # Built by the Rust host (artifact.rs): wasm32-unknown-unknown, made a component.
    return _wasm("IAM_COMPONENT", TARGET / "component" / "atlassian_iam.wasm", "cargo run -p iam-host -- describe")


@pytest.fixture(scope="session")
def hostile_component() -> Path:
    return _wasm(
        "IAM_HOSTILE_COMPONENT",
        TARGET / "wasm32-wasip2" / "release" / "hostile_guest.wasm",
        "cargo build --release --target wasm32-wasip2 -p hostile-guest",
    )


@pytest.fixture(scope="session")
def rust_cli() -> Path | None:
    """The Rust iam-host to compare with, when the runner gives one."""
    value = os.environ.get("IAM_HOST_RUST_CLI")
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        pytest.fail(f"IAM_HOST_RUST_CLI={value} is not a file", pytrace=False)
    return path


@pytest.fixture(scope="session")
def host(component):
    from iam_host import Host

    return Host(component)


@dataclass
class CliRun:
    code: int
    stdout: bytes
    stderr: str

    @property
    def entry(self):
        return json.loads(self.stdout)


def run_cli(args: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> CliRun:
    """`python -m iam_host …` in a fresh process, as a user runs it."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR), environment.get("PYTHONPATH")]))
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "iam_host", *args], capture_output=True, env=environment, cwd=cwd, timeout=300
    )
    return CliRun(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def case_args(name: str) -> list[str]:
    """The command line of a case folder, as tests/e2e/cases.rs builds it."""
    folder = CASES / name
    args = ["run", (folder / "command.txt").read_text().strip(), "--config", str(folder / "config.json")]
    if (folder / "args.json").exists():
        args += ["--args", str(folder / "args.json")]
    return args + ["--cassette", str(folder / "cassette.json")]


def compact(value) -> bytes:
    """The compact JSON of a value, key order kept: what a host prints for an entry."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
