"""`vid2act --help` builds every command without importing torch, the simulators or the
composition layer: what keeps start-up under a second (benchmarks/startup.py measures it)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "mujoco", "dm_control", "metaworld", "vid2act_cli.compose", "vid2act_cli.experiments")


def test_help_of_every_command_loads_no_heavy_module() -> None:
    script = (
        "import sys\n"
        "from typer.main import get_command\n"
        "from vid2act_cli.commands.app import app\n"
        "get_command(app)\n"
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "", f"imported at start-up: {loaded.stdout.strip()}"


def test_the_python_front_door_leaves_logging_alone_until_jobs_are_launched() -> None:
    # submitit runs logging.config.dictConfig when imported, which closes every handler already installed (absl's,
    # bound to whatever stderr was current, pytest's capture included); only launching jobs may pay for that.
    script = (
        "import logging, sys\n"
        "class Bystander(logging.Handler):\n"
        "    closed = False\n"
        "    def close(self):\n"
        "        Bystander.closed = True\n"
        "        super().close()\n"
        "logging.getLogger('bystander').addHandler(Bystander())\n"
        "import vid2act_cli.api\n"
        "print('submitit' in sys.modules, Bystander.closed)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.split() == ["False", "False"], loaded.stdout + loaded.stderr
