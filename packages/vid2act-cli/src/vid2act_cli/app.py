"""Entry point of the `vid2act` command (the console script and `python -m vid2act_cli.app`).

The Typer application itself is built in `vid2act_cli.commands.app`.
"""

from __future__ import annotations

from vid2act_cli.commands.app import app


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
