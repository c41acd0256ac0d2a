"""The `vid2act` Typer application: one module per command group under `commands/`, then plugin commands."""

from __future__ import annotations

import typer
from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512

from vid2act_cli.commands import COMMAND_MODULES
from vid2act_cli.commands.help_text import HELP_SETTINGS
from vid2act_cli.commands.plugin_glue import register_cli_commands

app = typer.Typer(
    name="vid2act",
    help="Model-based transfer RL from pixels: collect, pretrain teachers, transfer, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    **HELP_SETTINGS,
)


@app.callback()
def _root() -> None:
    """Model-based transfer RL from pixels: collect, pretrain teachers, transfer, evaluate."""
    # Before any command's first matmul: MKL fixes its choice of kernels at that call.
    enable_mkl_avx512()


for module in COMMAND_MODULES:
    module.register(app)

# Plugins add their commands last; one that fails or takes a used name is reported and skipped.
register_cli_commands(app)
