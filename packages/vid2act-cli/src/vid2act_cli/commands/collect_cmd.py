"""`vid2act collect`: run an expert or random policy and write image-action episodes to HDF5."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("collect")
    def collect_command(
        task: str = typer.Argument(..., help="Task name, e.g. metaworld:button-press-topdown or walker_walk."),
        episodes: int = typer.Option(10, "--episodes", "-n", help="Number of episodes to collect."),
        policy: str = typer.Option("expert", "--policy", help="expert (the domain's scripted expert; else the expert its domain trained and cached, for DMC by vid2act experts train) or random."),
        out: Path = typer.Option(None, "--out", "-o", help="HDF5 file to write or append to (default: data/<task>.h5)."),
        seed: int = typer.Option(0, "--seed", help="Environment (and random policy) seed."),
        image_size: int = typer.Option(64, "--image-size", help="Image height and width in pixels."),
        episode_steps: int = typer.Option(
            None, "--episode-steps", help="Override the time limit in simulator steps (default: the task's)."
        ),
        workers: int = typer.Option(
            1, "--workers", help="Worker processes running episodes in parallel (the data do not depend on it: episode i uses seed SEED+i)."
        ),
    ) -> None:
        """Collect episodes (images, actions, rewards, flags) into an HDF5 dataset for teacher pretraining."""
        from vid2act_envs.base import TaskSpec
        from vid2act_envs.collect import EpisodeSummary
        from vid2act_teachers.plugins import PluginError

        from vid2act_cli import api
        from vid2act_cli.commands.console import add_bar, log_bar, new_progress, say

        progress = new_progress()
        episode_bar = add_bar(progress, "episodes", episodes, visible=False)
        step_bar = add_bar(progress, "steps", None, visible=False)
        progress_started: list[bool] = []
        in_log = not progress.console.is_terminal  # a file or a pipe: plain lines, rich would show nothing until the end
        lines = ExitStack()

        def on_start(spec: TaskSpec, path: Path, existing_episodes: int) -> None:
            if existing_episodes:
                say(f"appending to {path} ({existing_episodes} episodes already there)")
            if in_log:
                progress_started.append(lines.enter_context(log_bar(f"collect {spec.name}", episodes * spec.agent_steps)))
                return
            progress.start()
            progress_started.append(True)
            progress.update(episode_bar, visible=True)
            progress.update(step_bar, total=episodes * spec.agent_steps, visible=True)

        def on_step(obs: dict) -> None:
            if in_log:
                progress_started[0].advance()
            else:
                progress.advance(step_bar)

        def on_episode(episode: dict, summary: EpisodeSummary) -> None:
            progress.advance(episode_bar)

        try:
            try:
                request = api.CollectRequest(task=task, episodes=episodes, policy=policy, out=out, seed=seed,
                                             image_size=image_size, episode_steps=episode_steps, workers=workers)
                stats = api.collect(request, on_start=on_start, on_step=on_step, on_episode=on_episode)
            finally:
                if progress_started and not in_log:  # the bars start once the environment and file are open
                    progress.stop()
                lines.close()
        except (ValueError, PluginError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except OSError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the file keeps every episode completed before the interruption", err=True)
            raise typer.Exit(130) from None
        if stats.success_rate is None:
            success_text = "success rate n/a (the task defines no success)"
        else:
            success_text = f"success rate {stats.success_rate:.2f} ({sum(stats.successes)}/{stats.episodes})"
        typer.echo(
            f"collected {stats.episodes} episode{'s' if stats.episodes != 1 else ''}, {stats.steps} steps into {stats.path}: "
            f"mean return {stats.mean_return:.2f}, {success_text}"
        )
