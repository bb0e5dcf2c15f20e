"""The commands tests/xsoar/run_unified.py runs, as one JSON document on stdout: every case of
tests/cases (its command, configuration as XSOAR's params, arguments, cassette text, and the
mappers its configuration defines, installed in the stand-in XSOAR as an admin would), or the
commands of a JSON file given instead; and the mappers XSOAR has: its own SCIM mappers (the
copies in src/mapper/builtin) and the pack's (Classifiers).

usage: plan.py SCRIPT CACHE_DIR [COMMANDS.json]
"""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
#: The instance and brand the stand-in's calling context names.
INSTANCE = "Atlassian IAM WebAssembly_instance_1"
BRAND = "Atlassian IAM WebAssembly"


def case(folder: Path) -> dict:
    params = json.loads((folder / "config.json").read_text())
    args_file = folder / "args.json"
    return {"name": folder.name, "command": (folder / "command.txt").read_text().strip(), "params": params,
            "args": json.loads(args_file.read_text()) if args_file.exists() else {},
            "cassette": (folder / "cassette.json").read_text(),
            "mappers": params.get("mappers") if isinstance(params.get("mappers"), list) else []}


def main(script: str, cache_dir: str, commands: str | None = None) -> None:
    mappers = [json.loads(path.read_text()) for path in sorted((REPO / "src" / "mapper" / "builtin").glob("*.json"))]
    mappers += [json.loads(path.read_text()) for path in
                sorted((REPO / "host-test/xsoar/Packs/AtlassianIAMWasm/Classifiers").glob("*.json"))]
    if commands:
        listed = json.loads(Path(commands).read_text())
    else:
        listed = [case(folder) for folder in sorted(CASES.iterdir()) if (folder / "command.txt").is_file()]
    json.dump({"script": script, "cache_dir": cache_dir, "instance": INSTANCE, "brand": BRAND, "mappers": mappers,
               "commands": listed}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
