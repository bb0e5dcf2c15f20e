#!/usr/bin/env python3
"""Benchmark of the Python host (architecture.md "Performance targets", Python host):

* warm: one command in a process that has loaded the gated component: a fresh store and
  instance, ``gate.run`` (the gate replays the case's cassette, the connector runs the
  command), the entry. Median over many iterations. Target: 5x faster than the original
  Python integration's main() (about 2.5 ms here), so at most 0.5 ms.
* cold: a whole ``python -m iam_host run … --cassette …`` process, the compiled component in
  the cache (as after the first run). Target: faster than the original's cold process (about
  280 ms).
* where a warm command's time goes: a fresh store and instance alone; a trivial export call
  (``gate.run`` given a configuration that is not JSON: the gate asks the connector for its
  credential names, then refuses the input); and, with the hostile guest composed
  with the gate (``--hostile``), a command whose connector does nothing but send one request:
  what is left is the gate's own work in Wasm (configuration, cassette, one replayed request).

Wall-clock medians and the thread's CPU time per command are both shown: on a busy machine
the CPU time is the steadier figure.

usage: python host-test/python/bench.py [--component GATED.wasm] [--hostile HOSTILE_GATED.wasm]
                                         [--iterations N] [--cold-runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from iam_host import Host, UnusableInput  # noqa: E402
from iam_host.engine import Call  # noqa: E402

#: The commands timed: the seed's documented examples (one or two exchanges each) and a group.
CASES = ["get_seed_example", "create_seed_example", "update_seed_example", "disable_with_patch", "group_get_by_id"]
ORIGINAL_MAIN_MILLIS = 2.5
ORIGINAL_COLD_MILLIS = 280.0
HOSTILE_CASSETTE = json.dumps({"interactions": [{"request": {"method": "GET", "url": "https://tenant.example/hostile"},
                                                 "response": {"status": 200, "body": {}}}]})


def timed(action, iterations: int) -> dict:
    """Median wall and CPU microseconds of ``action``, after a warm-up."""
    for _ in range(min(200, iterations)):
        action()
    wall, cpu = [], []
    for _ in range(iterations):
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        action()
        wall.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - cpu_started)
    batches = [statistics.median(wall[i:i + 100]) for i in range(0, len(wall) - 99, 100)] or [statistics.median(wall)]
    return {"median_us": statistics.median(wall) / 1000, "cpu_us": statistics.median(cpu) / 1000,
            "quietest_us": min(batches) / 1000}


def warm(host: Host, name: str, iterations: int) -> dict:
    folder = REPO / "tests" / "cases" / name
    command = (folder / "command.txt").read_text().strip()
    config = (folder / "config.json").read_text()
    args = (folder / "args.json").read_text() if (folder / "args.json").exists() else "{}"
    cassette = (folder / "cassette.json").read_text()
    limits = host.limits()
    report = host.run(command, config, args, cassette=cassette, limits=limits)
    assert report.replay_failure is None, report.replay_failure
    return {"case": name, "command": command,
            **timed(lambda: host.run(command, config, args, cassette=cassette, limits=limits), iterations)}


def parts(host: Host, hostile: Host | None, iterations: int) -> dict:
    runtime = host.runtime

    def sandbox() -> None:
        store, _ = runtime._enter(Call(None, 2000, 64 << 20), "run")
        runtime._leave(store)

    def refused() -> None:
        try:
            runtime.run(Call(None, 2000, 64 << 20), "iam-get-user", "not json", "{}", None, host.limits().budget)
        except UnusableInput:
            return
        raise AssertionError("the gate took a configuration that is not JSON")

    figures = {"sandbox": timed(sandbox, iterations), "trivial_call": timed(refused, iterations)}
    if hostile is not None:
        config = json.dumps({"url": "https://tenant.example", "access_token": "tenant-token-1", "directory_id": "d",
                             "hostile": "none"})
        report = hostile.run("test-module", config, "{}", cassette=HOSTILE_CASSETTE)
        assert report.entry_json.endswith('"ok"}') and report.replay_failure is None, report.entry_json
        figures["gate_one_request"] = timed(lambda: hostile.run("test-module", config, "{}", cassette=HOSTILE_CASSETTE),
                                            iterations)
    return figures


def cold(component: Path, name: str, runs: int, cache_dir: str) -> dict:
    folder = REPO / "tests" / "cases" / name
    command = [sys.executable, "-m", "iam_host", "run", (folder / "command.txt").read_text().strip(),
               "--config", str(folder / "config.json"), "--cassette", str(folder / "cassette.json"),
               "--component", str(component)]
    if (folder / "args.json").exists():
        command[7:7] = ["--args", str(folder / "args.json")]
    environment = {**os.environ, "PYTHONPATH": str(HERE), "IAM_HOST_CACHE_DIR": cache_dir}
    subprocess.run(command, capture_output=True, env=environment, check=True)  # fills the cache
    samples = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        started = time.perf_counter_ns()
        subprocess.run(command, capture_output=True, env=environment, check=True)
        samples.append(time.perf_counter_ns() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / runs * 1000
    bare = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", "pass"], env=environment, check=True)
        bare.append(time.perf_counter_ns() - started)
    return {"case": name, "median_ms": statistics.median(samples) / 1e6, "min_ms": min(samples) / 1e6,
            "cpu_ms": cpu_ms, "python_startup_ms": statistics.median(bare) / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    parser.add_argument("--component", type=Path, default=target / "component" / "atlassian_iam_gated.wasm")
    parser.add_argument("--hostile", type=Path, default=target / "component" / "hostile_guest_gated.wasm")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    options = parser.parse_args()
    if not options.component.is_file():
        print(f"bench.py: no component at {options.component}; compose it with `cargo run -q -p iam-host -- gated`",
              file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as cache_dir:
        started = time.perf_counter()
        host = Host(options.component, cache_dir=cache_dir)
        host.describe()
        compile_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        Host(options.component, cache_dir=cache_dir).describe()
        load_ms = (time.perf_counter() - started) * 1000
        hostile = Host(options.hostile, cache_dir=cache_dir) if options.hostile.is_file() else None
        warm_runs = [warm(host, name, options.iterations) for name in CASES]
        split = parts(host, hostile, options.iterations)
        cold_run = cold(options.component, "get_seed_example", options.cold_runs, cache_dir)

    target_us = ORIGINAL_MAIN_MILLIS * 1000 / 5
    print(f"Python host (wasmtime-py, gated component), {options.iterations} warm iterations each, "
          f"{options.cold_runs} cold processes")
    print(f"  compile the component: {compile_ms:.0f} ms; load it from the cache (Host + describe): {load_ms:.1f} ms")
    print(f"  {'command (case)':48} {'median':>10} {'CPU':>10} {'quietest':>10}   target {target_us:.0f} us")
    for run in warm_runs:
        verdict = "ok" if run["median_us"] <= target_us else "OVER"
        print(f"  {run['command'] + ' (' + run['case'] + ')':48} {run['median_us']:7.0f} us {run['cpu_us']:7.0f} us "
              f"{run['quietest_us']:7.0f} us   {verdict}")
    labels = {"sandbox": "a fresh store and instance, dropped", "trivial_call": "... and a trivial gate.run (input refused)",
              "gate_one_request": "the gate's work: a do-nothing connector, 1 request"}
    for key, figure in split.items():
        print(f"  {labels[key]:48} {figure['median_us']:7.0f} us {figure['cpu_us']:7.0f} us {figure['quietest_us']:7.0f} us")
    if "gate_one_request" not in split:
        print(f"  (no {options.hostile}: the gate's own cost is not measured; see the usage)")
    print(f"  cold `python -m iam_host run` (get_seed_example): median {cold_run['median_ms']:.0f} ms, min "
          f"{cold_run['min_ms']:.0f} ms, CPU {cold_run['cpu_ms']:.0f} ms (bare python start "
          f"{cold_run['python_startup_ms']:.0f} ms); target < {ORIGINAL_COLD_MILLIS:.0f} ms: "
          f"{'ok' if cold_run['median_ms'] < ORIGINAL_COLD_MILLIS else 'OVER'}")
    speedup = ORIGINAL_MAIN_MILLIS * 1000 / statistics.median(r["median_us"] for r in warm_runs)
    print(f"  warm speed-up over the original main() ({ORIGINAL_MAIN_MILLIS} ms): {speedup:.1f}x (target 5x)")
    if options.json:
        print(json.dumps({"compile_ms": compile_ms, "load_ms": load_ms, "warm": warm_runs, "parts": split,
                          "cold": cold_run, "speedup_over_original_main": speedup}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
