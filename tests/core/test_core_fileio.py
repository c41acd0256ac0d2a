"""vid2act_core.runtime.fileio: atomic writes leave the old file or the new one, hashes match hashlib."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from vid2act_core.runtime.fileio import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    combined_sha256,
    sha256_bytes,
    sha256_file,
)


def test_atomic_write_creates_parents_and_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.txt"
    atomic_write_text(target, "first")
    assert target.read_text() == "first"
    atomic_write_bytes(target, b"\x00second")
    assert target.read_bytes() == b"\x00second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_path(target) as temporary:
            assert temporary.parent == tmp_path and temporary.name.startswith(".file.txt.")
            temporary.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_written_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_hashes_agree_with_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)  # several read chunks
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_bytes(data) == expected


def test_combined_sha256_is_identity_for_one_and_order_free_for_several() -> None:
    first, second = sha256_bytes(b"a"), sha256_bytes(b"b")
    assert combined_sha256([first]) == first
    both = combined_sha256([first, second])
    assert both == combined_sha256([second, first])
    assert both == hashlib.sha256((min(first, second) + max(first, second)).encode()).hexdigest()
    assert both not in (first, second)
