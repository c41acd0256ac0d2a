"""Teacher registry: two real processes adding teachers at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from registry_fakes import tiny_world_model
from vid2act_teachers.registry import TeacherRegistry

TESTS_DIR = Path(__file__).resolve().parents[1]

# Each child imports everything, waits for the go file, then adds its teacher. Writing the weights
# is slowed down so that the two writes overlap: the second process arrives while the first holds
# the name's lock (or, for different names, while the first is half-way through its write).
CHILD = r"""
import json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[5])
import vid2act_teachers.registry as registry_module
import vid2act_teachers.teacher_storage as storage_module
from registry_fakes import add_teacher

home, name, seed, go_file = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
real_save_file = storage_module.save_file

def slow_save_file(*args, **kwargs):
    real_save_file(*args, **kwargs)
    time.sleep(0.5)

storage_module.save_file = slow_save_file
registry = registry_module.TeacherRegistry(home, include_plugins=False)
print("ready", flush=True)
deadline = time.time() + 60
while not go_file.exists():
    if time.time() > deadline:
        sys.exit("no go signal")
    time.sleep(0.01)
started = time.time()
try:
    add_teacher(registry, name, seed=seed)
except registry_module.TeacherError as error:
    result = {"ok": False, "error": str(error)}
else:
    result = {"ok": True}
result.update(started=started, finished=time.time())
print(json.dumps(result), flush=True)
"""


def run_concurrently(home: Path, jobs: list[tuple[str, int]], tmp_path: Path) -> list[dict[str, object]]:
    """Start one process per (name, seed); release them together; return each one's result."""
    go_file = tmp_path / "go"
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home), name, str(seed), str(go_file), str(TESTS_DIR)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for name, seed in jobs
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.stderr.read() if process.stderr else ""
    go_file.touch()
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def assert_teacher_holds(registry: TeacherRegistry, name: str, seed: int) -> None:
    expected, _ = tiny_world_model(seed)
    loaded, _, info = registry.load(name)
    for key, tensor in expected.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), (name, key)
    assert info.train_steps == 100 + seed


def test_two_processes_adding_different_teachers_both_land(tmp_path: Path) -> None:
    home = tmp_path / "home"
    results = run_concurrently(home, [("alpha", 1), ("beta", 2)], tmp_path)
    assert [result["ok"] for result in results] == [True, True], results
    first, second = sorted(results, key=lambda result: float(result["started"]))  # type: ignore[arg-type]
    assert float(second["started"]) < float(first["finished"]), "the two writes did not overlap"  # type: ignore[arg-type]
    registry = TeacherRegistry(home, include_plugins=False)
    assert registry.names() == ["alpha", "beta"]
    assert_teacher_holds(registry, "alpha", 1)
    assert_teacher_holds(registry, "beta", 2)
    assert registry.verify() == [("alpha", True, "ok"), ("beta", True, "ok")]
    assert sorted(path.name for path in registry.teachers_dir.iterdir()) == [".alpha.lock", ".beta.lock", "alpha", "beta"]


def test_two_processes_adding_the_same_name_one_wins(tmp_path: Path) -> None:
    home = tmp_path / "home"
    results = run_concurrently(home, [("shared", 3), ("shared", 4)], tmp_path)
    winners = [index for index, result in enumerate(results) if result["ok"]]
    assert len(winners) == 1, results
    loser = results[1 - winners[0]]
    assert loser["error"] == f"teacher 'shared': already exists in {home / 'teachers'}; pass overwrite to replace it"
    registry = TeacherRegistry(home, include_plugins=False)
    assert registry.names() == ["shared"]
    assert_teacher_holds(registry, "shared", 3 if winners[0] == 0 else 4)
    assert registry.verify() == [("shared", True, "ok")]
    assert sorted(path.name for path in registry.teachers_dir.iterdir()) == [".shared.lock", "shared"]
