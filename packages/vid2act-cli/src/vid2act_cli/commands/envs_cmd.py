"""`vid2act envs`: list the tasks every registered domain offers (plugins included)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("envs")
    def envs_command(
        domain: str = typer.Option(None, "--domain", help="Only list tasks of this domain (e.g. dmc, metaworld)."),
    ) -> None:
        """List every task name you can pass to collect, train, teachers add and transfer."""
        from rich.console import Console
        from rich.table import Table

        from vid2act_envs.tasks import UnknownTaskError
        from vid2act_teachers.plugins import PluginError

        from vid2act_cli.compose.catalog import list_tasks

        try:
            listing = list_tasks(domain)
        except PluginError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except UnknownTaskError as error:
            raise typer.BadParameter(str(error), param_hint="--domain") from None
        table = Table("domain", "task", "qualified name")
        for row in listing.rows:
            table.add_row(*row)
        Console().print(table)
        for problem in listing.problems:
            typer.echo(problem, err=True)
