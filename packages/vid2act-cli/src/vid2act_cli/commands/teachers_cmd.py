"""`vid2act teachers ...`: list, show, remove, export, import, verify and attach-data.

The sub-app is the module attribute `teachers_app`, so other command modules can add to it
(`@teachers_app.command("add")`). Every command is a thin wrapper over
`vid2act_teachers.registry.TeacherRegistry`; its errors print as one `error: ...` line (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vid2act_cli.commands.errors import EXIT_FAILURE, cli_errors
from vid2act_cli.commands.help_text import HELP_SETTINGS

teachers_app = typer.Typer(
    name="teachers",
    help="The teacher registry ($VID2ACT_HOME/teachers) and plugin-shipped teachers.",
    no_args_is_help=True,
    **HELP_SETTINGS,
)


def _format_bytes(size: int) -> str:
    """Human-readable size: 345.2 KiB, 12.0 MiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


_LIST_COLUMNS = ("kind", "domain:task", "image", "actions", "steps", "expert return", "source", "size")
_WIDE_LIST = 120
"""Terminal width from which `teachers list` is a table; narrower terminals get two lines a teacher."""


def _list_row(info: object) -> tuple[str, ...]:
    """The table cells of one readable teacher, in `_LIST_COLUMNS` order after the name."""
    from vid2act_teachers.registry import teacher_size_bytes

    expert = info.source_expert  # type: ignore[attr-defined]
    return (
        info.name,  # type: ignore[attr-defined]
        info.kind,  # type: ignore[attr-defined]
        info.qualified_task,  # type: ignore[attr-defined]
        f"{info.image_size}x{info.image_size}",  # type: ignore[attr-defined]
        str(info.action_dim),  # type: ignore[attr-defined]
        str(info.train_steps),  # type: ignore[attr-defined]
        f"{expert['eval_return']:.1f}" if expert and "eval_return" in expert else "-",
        info.source,  # type: ignore[attr-defined]
        _format_bytes(teacher_size_bytes(info)),
    )


def _narrow_lines(row: tuple[str, ...]) -> list[str]:
    """One teacher as two short lines (for terminals too narrow for the table)."""
    name, kind, task, image, actions, steps, expert_return, source, size = row
    return [
        f"{name}  ({kind}, {task})",
        f"    {image} px, {actions} actions, {steps} steps, expert return {expert_return}, {source}, {size}",
    ]


@teachers_app.command("list")
@cli_errors
def list_command() -> None:
    """Every teacher: name, kind, domain:task, image size, actions, training steps, expert return, source, size."""
    from rich.console import Console
    from rich.table import Table

    from vid2act_teachers.registry import TeacherError, TeacherRegistry

    registry = TeacherRegistry()
    console = Console()
    names = registry.names()
    if not names:
        console.print(f"No teachers in {registry.teachers_dir} (and none shipped by plugins).", markup=False)
        return
    rows: list[tuple[str, ...]] = []
    unreadable: list[tuple[str, str]] = []
    for name in names:
        try:
            rows.append(_list_row(registry.info(name)))
        except TeacherError as error:
            unreadable.append((name, str(error)))
    if console.width >= _WIDE_LIST:
        table = Table(title=f"vid2act teachers ({registry.teachers_dir})")
        table.add_column("name", no_wrap=True)
        for header in _LIST_COLUMNS:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        for name, problem in unreadable:
            table.add_row(name, "-", "-", "-", "-", "-", "-", "-", f"unreadable: {problem}", style="red")
        console.print(table)
    else:
        console.print(f"vid2act teachers ({registry.teachers_dir})", markup=False, soft_wrap=True)
        for row in rows:
            for line in _narrow_lines(row):
                console.print(line, markup=False, highlight=False)
        for name, problem in unreadable:
            console.print(f"{name}  unreadable: {problem}", markup=False, style="red")
    if unreadable:
        console.print(f"{len(unreadable)} teacher(s) unreadable; run `vid2act teachers verify` for details.", markup=False)
    _print_notes(registry, console)


def _print_notes(registry: object, console: object) -> None:
    """Warn about local teachers hiding plugin ones and teachers without an action-replay set."""
    from vid2act_teachers.registry import TeacherError, shadowing_message
    from vid2act_teachers.teacher_replay_set import missing_set_message

    for name, plugin in registry.shadowed():  # type: ignore[attr-defined]
        console.print(f"warning: {shadowing_message(name, plugin)}", markup=False, soft_wrap=True)  # type: ignore[attr-defined]
    for name in registry.names():  # type: ignore[attr-defined]
        try:
            info = registry.info(name)  # type: ignore[attr-defined]
            lacking = info.replay_set is None and info.kind == "task"  # a multitask model needs none
        except TeacherError:
            continue
        if lacking:
            console.print(f"note: {missing_set_message(name)}", markup=False, soft_wrap=True)  # type: ignore[attr-defined]


@teachers_app.command("show")
@cli_errors
def show_command(
    name: str = typer.Argument(..., help="Teacher name."),
    as_json: bool = typer.Option(False, "--json", help="Print metadata and config as JSON."),
) -> None:
    """All metadata of one teacher and a summary of its world-model config."""
    from vid2act_teachers.registry import TeacherRegistry, teacher_size_bytes

    registry = TeacherRegistry()
    info = registry.info(name)
    config = json.loads((info.path / "config.json").read_text())["config"]
    if as_json:
        typer.echo(json.dumps({"info": info.to_json_dict(), "config": config}, indent=2))
        return
    rows = info.to_json_dict()
    rows["obs_shape"] = "x".join(str(size) for size in info.obs_shape)
    rows["size"] = _format_bytes(teacher_size_bytes(info))
    width = max(len(key) for key in rows)
    typer.echo(f"teacher {info.name} ({info.qualified_task})")
    for key, value in rows.items():
        typer.echo(f"  {key:<{width}}  {value}")
    world_model = config.get("world_model", {})
    summary_keys = ("latent", "stoch", "classes", "deter", "hidden", "cnn_depth", "mlp_units", "use_reward_head", "use_cont_head")
    summary = ", ".join(f"{key}={world_model[key]}" for key in summary_keys if key in world_model)
    typer.echo(f"config: preset {config.get('preset', '?')}, seed {config.get('seed', '?')}")
    typer.echo(f"  world_model: {summary}")


@teachers_app.command("remove")
@cli_errors
def remove_command(
    name: str = typer.Argument(..., help="Teacher name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a teacher from the local registry (plugin-shipped teachers cannot be removed)."""
    from vid2act_teachers.registry import TeacherRegistry

    registry = TeacherRegistry()
    info = registry.info(name)
    if info.is_plugin:
        registry.remove(name)  # raises the registry's one-line explanation
    if not yes and not typer.confirm(f"Remove teacher {name!r} ({info.path})?", default=False):
        typer.echo("not removed")
        raise typer.Exit(EXIT_FAILURE)
    registry.remove(name)
    typer.echo(f"removed teacher {name}")


@teachers_app.command("export")
@cli_errors
def export_command(
    name: str = typer.Argument(..., help="Teacher name."),
    file: Path = typer.Argument(None, help="Output .safetensors file (weights, action-replay set, config and metadata in one file)."),
    for_plugin: Path = typer.Option(None, "--for-plugin", help="Instead of FILE: write DIR/NAME/ as a plugin ships it (register that directory in vid2act_register_teachers)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace FILE (or DIR/NAME) if it exists."),
) -> None:
    """Write one teacher as a single self-contained .safetensors file, or as a plugin's teacher directory."""
    from vid2act_teachers.registry import TeacherRegistry

    if (file is None) == (for_plugin is None):
        raise ValueError("teachers export: give either FILE or --for-plugin DIR")
    if for_plugin is not None:
        written = TeacherRegistry().export_for_plugin(name, for_plugin, overwrite=overwrite)
        typer.echo(f"exported teacher {name} for a plugin to {written} ({', '.join(sorted(p.name for p in written.iterdir()))})")
        return
    written = TeacherRegistry().export(name, file, overwrite=overwrite)
    typer.echo(f"exported teacher {name} to {written}")


@teachers_app.command("attach-data")
@cli_errors
def attach_data_command(
    name: str = typer.Argument(..., help="Teacher name (a local teacher)."),
    data: list[Path] = typer.Option(..., "--data", help="The teacher's source dataset, HDF5 (repeatable)."),
    replay_set_mb: float = typer.Option(4.0, "--replay-set-mb", help="Size budget (MiB) of the action-replay set."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto."),
) -> None:
    """Store a teacher's action-replay set computed on its source data (for teachers registered without one)."""
    from vid2act_cli import api
    from vid2act_cli.commands.console import RichReporter

    request = api.AttachDataRequest(name=name, data=tuple(data), replay_set_mb=replay_set_mb, device=device)
    stored = api.attach_data(request, RichReporter(False))
    typer.echo(f"teacher {stored.name}: action-replay set of {stored.pairs} pairs stored in {stored.path}")


@teachers_app.command("import")
@cli_errors
def import_command(
    file: Path = typer.Argument(..., help="A .safetensors file written by `vid2act teachers export`."),
    name: str | None = typer.Option(None, "--name", help="Name to store it under (default: the name in the file)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing teacher of that name."),
) -> None:
    """Add an exported teacher file to the registry (checked fully before anything is written)."""
    from vid2act_teachers.registry import TeacherRegistry

    info = TeacherRegistry().import_file(file, name=name, overwrite=overwrite)
    typer.echo(f"imported teacher {info.name} ({info.qualified_task}) into {info.path}")


@teachers_app.command("verify")
@cli_errors
def verify_command(name: str | None = typer.Argument(None, help="Teacher name (default: every teacher).")) -> None:
    """Check hashes, metadata, and that the weights load into the stated architecture; exit 1 on any problem."""
    from rich.console import Console
    from rich.table import Table

    from vid2act_teachers.registry import TeacherRegistry
    from vid2act_teachers.teacher_replay_set import missing_set_message

    registry = TeacherRegistry()
    results = registry.verify(name)
    console = Console()
    if not results:
        console.print("No teachers to verify.")
        return
    table = Table(title="vid2act teachers verify")
    table.add_column("name", no_wrap=True)
    table.add_column("status")
    table.add_column("problem", overflow="fold")
    for teacher, ok, message in results:
        table.add_row(teacher, "ok" if ok else "FAILED", "" if ok else message, style=None if ok else "red")
    console.print(table)
    for teacher, ok, _ in results:
        if ok and registry.info(teacher).replay_set is None:
            console.print(f"note: {missing_set_message(teacher)}", markup=False, soft_wrap=True)
    failed = [teacher for teacher, ok, _ in results if not ok]
    if failed:
        console.print(f"{len(failed)} of {len(results)} teacher(s) failed verification: {', '.join(failed)}", markup=False)
        raise typer.Exit(EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add the `teachers` command group to the `vid2act` app."""
    app.add_typer(teachers_app, name="teachers")
