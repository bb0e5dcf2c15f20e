"""Every folder of tests/cases/ through the Python CLI, whatever folders exist now (user and
group commands alike): the entry is byte for byte the expected one (expected.json, compact,
key order kept) with the exit status its Type gives, or the exit status and stderr fragments
of expected.txt. When the runner gives the Rust iam-host (IAM_HOST_RUST_CLI), stdout bytes
and exit status are also compared with it, case by case."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import CASES, CliRun, case_args, case_names, compact, run_cli

NAMES = case_names()
#: Processes at once: the machines have two cores, and each run mostly waits to start.
WORKERS = 4


@pytest.fixture(scope="session")
def runs(component, rust_cli) -> dict[str, tuple[CliRun, subprocess.CompletedProcess | None]]:
    """Every case through both hosts, a few processes at a time."""

    def both(name: str):
        args = case_args(name) + ["--component", str(component)]
        rust = None
        if rust_cli is not None:
            rust = subprocess.run([str(rust_cli), *args], capture_output=True, timeout=300)
        return name, (run_cli(args), rust)

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(both, NAMES))


def test_there_are_cases():
    assert len(NAMES) > 80, f"tests/cases has only {len(NAMES)} folders"
    assert any(name.startswith("group_") for name in NAMES), "no group cases"


@pytest.mark.parametrize("name", NAMES)
def test_case(name, runs):
    python, rust = runs[name]
    folder = CASES / name
    expected_txt = folder / "expected.txt"
    if expected_txt.exists():
        lines = expected_txt.read_text().splitlines()
        assert lines[0].startswith("exit: "), f"{name}: expected.txt must start with 'exit: N'"
        assert python.code == int(lines[0][len("exit: "):]), f"{name}: exit {python.code}\n{python.stderr}"
        for fragment in (line for line in lines[1:] if line.strip()):
            assert fragment in python.stderr, f"{name}: stderr lacks {fragment!r}\n{python.stderr}"
    else:
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        assert python.stdout == compact(expected), (
            f"{name}: stdout differs from expected.json\n--- python\n{python.stdout.decode()}\n"
            f"--- expected\n{compact(expected).decode()}\n--- stderr\n{python.stderr}"
        )
        assert python.code == (0 if expected.get("Type") == 1 else 1), f"{name}: exit {python.code}"
    if rust is not None:
        assert (python.code, python.stdout) == (rust.returncode, rust.stdout), (
            f"{name}: the Python host and iam-host differ\n--- python (exit {python.code})\n"
            f"{python.stdout.decode()}{python.stderr}\n--- iam-host (exit {rust.returncode})\n"
            f"{rust.stdout.decode()}{rust.stderr.decode()}"
        )
