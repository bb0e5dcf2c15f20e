"""iam_host: the Python host of the Atlassian IAM component (wasmtime-py).

It loads the connector composed with the gate (``iam:atlassian@0.4.0``, wit/gate.wit ``world
gated``), which holds the whole host contract, and gives it only what a host must: the wire
(real HTTP), the clock, the log, and a sandbox per command (memory and CPU limits). The
command line (``python -m iam_host run …``) is the Rust ``iam-host run``'s, and so is its
output, byte for byte.

    from iam_host import Host
    host = Host()                                        # this repository's, or the packaged one
    report = host.run("iam-get-user", config_text, args_text, cassette=cassette_text)
    print(report.entry_json)
"""

__version__ = "0.3.0"

from .engine import ComponentError, Incoming, Limits, Outgoing, UnusableInput, WireError  # noqa: E402
from .host import Host, Report, UnknownCommand, default_host  # noqa: E402

__all__ = ["Host", "Report", "UnknownCommand", "ComponentError", "UnusableInput", "Limits", "Outgoing",
           "Incoming", "WireError", "default_host", "__version__"]
