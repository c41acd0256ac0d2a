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
        from vid2act_teachers.plugins import PluginError, domain_registry

        try:
            registry = domain_registry()
        except PluginError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        if domain:
            try:
                registry.domain(domain)
            except UnknownTaskError as error:
                raise typer.BadParameter(str(error), param_hint="--domain") from None
        table = Table("domain", "task", "qualified name")
        problems: list[str] = []
        for domain_name in registry.domain_names():
            if domain and domain_name != domain:
                continue
            try:
                task_names = registry.domain(domain_name).task_names()
            except Exception as error:  # a domain whose simulator is missing or broken
                problems.append(f"domain {domain_name!r}: cannot list tasks: {type(error).__name__}: {error}")
                continue
            for task in task_names:
                table.add_row(domain_name, task, f"{domain_name}:{task}")
        Console().print(table)
        for problem in problems:
            typer.echo(problem, err=True)
