"""iam_host: a Python host for the Atlassian IAM WebAssembly component (``iam:atlassian@0.2.0``).

It runs the component with wasmtime under the same host contract as the Rust host
(host-test/): the token held by the host and attached after every policy check, one allowed
origin, secrets scrubbed from responses, memory, CPU, wall-clock and request limits, a fresh
sandbox per command. The command line (``python -m iam_host run …``) is the Rust
``iam-host run``'s, and so is its output, byte for byte.

    from iam_host import Host, Replay, Cassette
    host = Host()                                   # the packaged component
    report = host.run("iam-get-user", params, args, Replay(Cassette.load("cassette.json")))
    print(report.entry_json)
"""

__version__ = "0.2.0"

from .cassette import Cassette, Replay  # noqa: E402
from .limits import Limits  # noqa: E402
from .runner import Host, Report, UnknownCommand, default_host  # noqa: E402
from .sandbox import ComponentError  # noqa: E402

__all__ = ["Host", "default_host", "Report", "UnknownCommand", "ComponentError", "Cassette", "Replay", "Limits", "__version__"]
