"""`vid2act plugins`: the loaded plugins, what each registers, and the ones that failed."""

from __future__ import annotations

import json

import typer

MAX_WIDTH = 80
"""`vid2act plugins` never prints wider than this (or the terminal, if narrower)."""


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_command(
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of a table."),
    ) -> None:
        """List vid2act plugins (built-in and installed), the domains, teachers and commands each adds, and failures."""
        from rich.console import Console
        from rich.table import Table

        from vid2act_teachers.plugins import DISABLE_PLUGINS_ENV, PLUGINS_ENV, plugin_report

        from vid2act_cli.commands.plugin_glue import plugin_commands

        report = plugin_report(commands=plugin_commands(app))
        if as_json:
            rows = [
                {
                    "name": info.name,
                    "source": info.source.kind,
                    "target": info.source.target,
                    "distribution": info.source.distribution,
                    "version": info.source.version,
                    "status": info.status,
                    "hook_api": info.hook_api,
                    "domains": list(info.domains),
                    "teachers": list(info.teachers),
                    "commands": list(info.commands),
                    "errors": list(info.errors),
                }
                for info in report
            ]
            typer.echo(json.dumps(rows, indent=2))
            return

        # Three columns, what a plugin adds on lines of its own: fits 80 columns without breaking names.
        console = Console(width=min(Console().width, MAX_WIDTH))
        table = Table(title="vid2act plugins")
        table.add_column("plugin", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("source / adds", overflow="fold")
        for info in report:
            status = info.status if not info.errors or info.status != "loaded" else "loaded, with errors"
            style = "red" if info.errors else ("dim" if info.status != "loaded" else None)
            package = " ".join(part for part in (info.source.distribution, info.source.version) if part)
            package = f" ({package})" if package else ""
            adds = [f"{label}: {', '.join(names)}" for label, names in
                    (("domains", info.domains), ("teachers", info.teachers), ("commands", info.commands)) if names]
            table.add_row(info.name, status, "\n".join([info.source.kind + package, *adds]), style=style)
        console.print(table)
        problems = [error for info in report for error in info.errors]
        if problems:
            console.print("[red]Problems:[/red]")
            for problem in problems:
                console.print(f"  {problem}", markup=False)
        console.print(
            f"Choose external plugins with {PLUGINS_ENV}=name,... (empty: none); "
            f"block any plugin with {DISABLE_PLUGINS_ENV}=name,...",
            markup=False,
        )
