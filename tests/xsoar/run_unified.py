"""Runs the integration's UNIFIED script (extracted from target/xsoar/integration-AtlassianIAMWasm.yml)
as XSOAR's Python loop runs it: the script's code executed once per command in a fresh namespace
holding ``demisto`` and CommonServerPython's names (here the stand-ins of tests/xsoar/stand-in),
with modules kept loaded between commands.

Run with nothing but the image's packages (a venv with wasmtime and requests only), as a
non-root user, over a compiled-component cache prepared beforehand (IAM_HOST_CACHE_DIR).
Everything the runner needs is read from stdin before it starts watching: from then on an
audit hook records every file opened outside the script's folder, the venv, Python's standard
library and the cache, and every file opened for writing anywhere. Results go to stdout, one
JSON document.

The HTTP: each command replays its case's cassette through the Python host's own replay (the
gate replays it in place of the wire): ``iam_host.Host.run``, called by the script without a
cassette (live), is given the case's cassette. Nothing else of the script is replaced.

stdin: {"script": path, "cache_dir": path, "instance": str, "brand": str, "mappers": [XSOAR mapper],
        "commands": [{"name", "command", "params", "args", "cassette" (text), "mappers": [...]}]}
stdout: {"uid", "results": {name: {"posted": [...], "mapped": [...], "replayed": bool,
         "replay_failure": str|null, "escaped": str|null}}, "violations": [...],
         "cache_reads": [...], "hosts_made": int, "component_loads": {"compiled": int, "deserialized": int}}
"""

import json
import os
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "stand-in"))
import CommonServerPython  # noqa: E402
import demistomock  # noqa: E402

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def main() -> None:
    assert os.getuid() != 0, "run the unified script as a non-root user (XSOAR's image runs as uid 4000)"
    plan = json.load(sys.stdin)
    script = Path(plan["script"]).resolve()
    cache_dir = Path(plan["cache_dir"]).resolve()
    allowed = [script.parent, Path(sys.prefix).resolve(), cache_dir] + [
        Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib")]
    violations, cache_reads = [], []

    def audit(event, args):
        if event != "open":
            return
        path, mode, flags = args
        if isinstance(path, int):
            return
        path = os.fsdecode(path)
        full = Path(os.path.abspath(path))
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
        if writing:
            violations.append(f"opened for writing: {full}")
        if not any(full == root or root in full.parents for root in allowed):
            violations.append(f"opened outside its own files: {full}")
        elif cache_dir in full.parents:
            cache_reads.append(full.name)

    code = compile(script.read_text(), str(script), "exec")
    sys.addaudithook(audit)

    def namespace(name: str) -> dict:
        names = {key: getattr(CommonServerPython, key) for key in CommonServerPython.__all__}
        names.update({"__name__": name, "__file__": str(script), "demisto": demistomock})
        return names

    # The script's own loader brings in the bundled iam_host, so that its Host.run can be given
    # each case's cassette (the replay hook) before the first command.
    loader = namespace("AtlassianIAMWasm")
    exec(code, loader)  # noqa: S102 - the script under test
    iam_host, _ = loader["load_iam_host"]()
    host_class = sys.modules["iam_host.host"].Host
    # How the component was loaded: compiled here, or deserialized from the prepared cache (an
    # open of the cache that fails, such as a cache uid 4000 cannot read, still counts as a read).
    engine = sys.modules["iam_host.engine"]
    component_class, loads = engine.Component, {"compiled": 0, "deserialized": 0}

    class CountingComponent:
        def __new__(cls, *args):
            loads["compiled"] += 1
            return component_class(*args)

        @staticmethod
        def deserialize(*args):
            component = component_class.deserialize(*args)
            loads["deserialized"] += 1
            return component

    engine.Component = CountingComponent
    current: dict = {}
    made = []
    original_init, original_run = host_class.__init__, host_class.run

    def init(self, *args, **kwargs):
        made.append(1)
        original_init(self, *args, **kwargs)

    def run(self, command, config, args="{}", cassette=None, **options):
        assert cassette is None and not options, "the script runs its commands live"
        current["replayed"] = True
        report = original_run(self, command, config, args, cassette=current["cassette"])
        current["replay_failure"] = report.replay_failure
        return report

    host_class.__init__, host_class.run = init, run

    results = {}
    for case in plan["commands"]:
        demistomock.setup(case["command"], case["params"], case["args"], plan["instance"], plan["brand"])
        demistomock.install_mappers(plan["mappers"] + case.get("mappers", []))
        current.clear()
        current["cassette"] = case["cassette"]
        escaped = None
        try:
            exec(code, namespace("builtins"))  # noqa: S102 - as XSOAR runs a script
        except SystemExit as exit:
            if exit.code not in (0, None):
                escaped = f"SystemExit({exit.code!r})"
        except BaseException as error:  # noqa: BLE001 - reported, and fails the test
            escaped = f"{type(error).__name__}: {error}"
        results[case["name"]] = {"posted": list(demistomock.posted), "escaped": escaped,
                                 "mapped": [list(call) for call in demistomock.mapped],
                                 "replayed": current.get("replayed", False),
                                 "replay_failure": current.get("replay_failure")}
    json.dump({"uid": os.getuid(), "results": results, "violations": violations, "cache_reads": cache_reads,
               "hosts_made": len(made), "component_loads": loads}, sys.stdout)


if __name__ == "__main__":
    main()
