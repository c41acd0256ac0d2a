"""The `vid2act` entry point asks for MKL's AVX-512 kernels (vid2act_core.runtime.mkl_dispatch) before a command runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def test_every_vid2act_command_asks_before_it_runs(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from typer.testing import CliRunner
        from vid2act_cli.commands.app import app
        from vid2act_core.runtime.mkl_dispatch import mkl_dispatch_status
        assert mkl_dispatch_status() is None
        result = CliRunner().invoke(app, ["teachers", "list"])
        assert result.exit_code == 0, result.output
        print(mkl_dispatch_status())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "VID2ACT_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() not in ("", "None")
