"""vid2act-cli: the `vid2act` commands and, in `vid2act_cli.api`, the same operations for Python callers."""

__version__ = "0.2.0"
