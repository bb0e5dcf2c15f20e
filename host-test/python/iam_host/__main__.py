"""``python -m iam_host``: the command line (see cli.py)."""

from .cli import console

console()
