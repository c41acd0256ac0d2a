"""Entry point of the `vid2act` command (the console script and `python -m vid2act_cli.app`).

The Typer application itself is built in `vid2act_cli.commands.app`.
"""

from __future__ import annotations

import sys

from vid2act_cli.commands.app import app


def line_buffered_output() -> None:
    """Line-buffer stdout where it is not a terminal: Python buffers a file or a pipe in blocks, so a
    Slurm, nohup or `| tee` log would show a command's lines only minutes later, or at its end."""
    stdout = sys.stdout
    if stdout is not None and not stdout.isatty() and hasattr(stdout, "reconfigure"):
        stdout.reconfigure(line_buffering=True)


def main() -> None:
    """Console-script entry point."""
    line_buffered_output()
    app()


if __name__ == "__main__":
    main()
