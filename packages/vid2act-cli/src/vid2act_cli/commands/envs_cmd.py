"""`vid2act envs`: list the tasks every registered domain offers."""

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

        from vid2act_envs.tasks import UnknownTaskError, builtin_registry

        registry = builtin_registry()
        if domain:
            try:
                registry.domain(domain)
            except UnknownTaskError as error:
                raise typer.BadParameter(str(error), param_hint="--domain") from None
        table = Table("domain", "task", "qualified name")
        for domain_name in registry.domain_names():
            if domain and domain_name != domain:
                continue
            for task in registry.domain(domain_name).task_names():
                table.add_row(domain_name, task, f"{domain_name}:{task}")
        Console().print(table)
