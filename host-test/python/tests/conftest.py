"""Shared fixtures of the Python host's tests.

The components are given by the Rust test that runs this suite (tests/e2e/python.rs): the
gated component this host loads (IAM_COMPONENT), the connector the Rust iam-host loads for
the same commands (IAM_CONNECTOR), the hostile guest both ways (IAM_HOSTILE_COMPONENT, composed
with the gate, and IAM_HOSTILE_CONNECTOR) and the Rust iam-host itself (IAM_HOST_RUST_CLI), whose
stdout is what this host's must equal. Run by hand, the suite uses this repository's builds
under target/ (`cargo run -p iam-host -- gated`, `cargo build -p iam-host`, and for the hostile
guest the e2e test's build, target/component/hostile_guest.wasm, then `cargo run -q -p iam-host
-- gated --connector target/component/hostile_guest.wasm --output
target/component/hostile_guest_gated.wasm`). Anything missing fails the tests that need it with
the command that makes it: nothing is skipped silently.
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
SEED = CASES / "get_seed_example"
sys.path.insert(0, str(PACKAGE_DIR))
sys.path.insert(0, str(REPO / "tests" / "xsoar" / "stand-in"))  # XSOAR, for test_live.py's integration run

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
#: A cache of compiled components for these tests only.
os.environ.setdefault("IAM_HOST_CACHE_DIR", str(TARGET / "iam-host-python-test-cache"))


def _file(variable: str, default: Path, make: str) -> Path:
    path = Path(os.environ.get(variable) or default)
    if not path.is_file():
        pytest.fail(f"no {path}: make it with `{make}` (or set {variable})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def component() -> Path:
    return _file("IAM_COMPONENT", TARGET / "component" / "atlassian_iam_gated.wasm", "cargo run -p iam-host -- gated")


@pytest.fixture(scope="session")
def connector() -> Path:
    return _file("IAM_CONNECTOR", TARGET / "component" / "atlassian_iam.wasm", "cargo run -p iam-host -- gated")


@pytest.fixture(scope="session")
def hostile_component() -> Path:
    return _file("IAM_HOSTILE_COMPONENT", TARGET / "component" / "hostile_guest_gated.wasm",
                 "cargo run -q -p iam-host -- gated --connector target/component/hostile_guest.wasm "
                 "--output target/component/hostile_guest_gated.wasm")


@pytest.fixture(scope="session")
def hostile_connector() -> Path:
    return _file("IAM_HOSTILE_CONNECTOR", TARGET / "component" / "hostile_guest.wasm",
                 "cargo test -p iam-host --test e2e -- python:: (builds it)")


@pytest.fixture(scope="session")
def rust_cli() -> Path:
    """The Rust iam-host: the reference for every byte this host prints."""
    return _file("IAM_HOST_RUST_CLI", TARGET / "debug" / "iam-host", "cargo build -p iam-host")


@pytest.fixture(scope="session")
def host(component):
    from iam_host import Host

    return Host(component)


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: str

    @property
    def entry(self):
        return json.loads(self.stdout)


def run_cli(args: list[str], env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 300) -> Run:
    """`python -m iam_host …` in a fresh process, as a user runs it."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR), environment.get("PYTHONPATH")]))
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-m", "iam_host", *args], capture_output=True, env=environment, cwd=cwd,
                          timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


def run_rust(rust_cli: Path, args: list[str]) -> Run:
    done = subprocess.run([str(rust_cli), *args], capture_output=True, timeout=300)
    return Run(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


def both(rust_cli: Path, args: list[str], python_component: Path, rust_component: Path) -> tuple[Run, Run]:
    """The same command line through this host (over the gated component) and iam-host (over
    the connector)."""
    return (run_cli(args + ["--component", str(python_component)]),
            run_rust(rust_cli, args + ["--component", str(rust_component)]))


def assert_same(python: Run, rust: Run) -> None:
    assert (python.code, python.stdout) == (rust.code, rust.stdout), (
        f"the Python host and iam-host differ\n--- python (exit {python.code})\n{python.stdout.decode()}{python.stderr}"
        f"\n--- iam-host (exit {rust.code})\n{rust.stdout.decode()}{rust.stderr}")


def case_args(name: str) -> list[str]:
    """The command line of a case folder, as tests/e2e/cases.rs builds it."""
    folder = CASES / name
    args = ["run", (folder / "command.txt").read_text().strip(), "--config", str(folder / "config.json")]
    if (folder / "args.json").exists():
        args += ["--args", str(folder / "args.json")]
    return args + ["--cassette", str(folder / "cassette.json")]
