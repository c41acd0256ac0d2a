"""Start-up cost of the command line: wall time of `vid2act --help` (median of --repeats runs,
each a fresh process) and how many imports sit inside functions in the CLI package (the price
of that start-up: each defers a heavy module until a command runs).

    uv run python benchmarks/startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import ast
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI_PACKAGE = Path(__file__).resolve().parents[1] / "packages" / "vid2act-cli" / "src" / "vid2act_cli"


def help_seconds(repeats: int) -> list[float]:
    """Wall seconds of `vid2act --help`, one fresh process per repeat."""
    command = [shutil.which("vid2act") or sys.executable, *([] if shutil.which("vid2act") else ["-m", "vid2act_cli.app"]), "--help"]
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        seconds.append(time.perf_counter() - started)
    return seconds


def imports_inside_functions(package: Path) -> dict[str, int]:
    """Imports inside function bodies per top-level folder of the package (`(root)` for its own modules)."""
    counts: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        folder = parts[0] if len(parts) > 1 else "(root)"
        tree = ast.parse(path.read_text())
        # Each import counted once, in the outermost function that holds it.
        nested = {id(inner) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for inner in ast.walk(node) if inner is not node and isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(node) not in nested:
                found = sum(isinstance(inner, (ast.Import, ast.ImportFrom)) for inner in ast.walk(node))
                counts[folder] = counts.get(folder, 0) + found
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seconds = help_seconds(args.repeats)
    inside = imports_inside_functions(CLI_PACKAGE)
    print(f"vid2act --help: median {statistics.median(seconds):.2f} s over {len(seconds)} runs "
          f"(min {min(seconds):.2f}, max {max(seconds):.2f})")
    where = ", ".join(f"{folder} {count}" for folder, count in sorted(inside.items()))
    print(f"imports inside functions in vid2act_cli: {sum(inside.values())} ({where})")


if __name__ == "__main__":
    main()
