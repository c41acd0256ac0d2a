"""Run logging: `metrics.jsonl`, TensorBoard scalars, and GIF videos (files and TensorBoard)."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter


def encode_gif(frames: np.ndarray, fps: int = 20) -> bytes:
    """frames: (T, H, W, 3) uint8 -> animated GIF bytes."""
    buffer = io.BytesIO()
    iio.imwrite(buffer, np.asarray(frames, np.uint8), extension=".gif", duration=1000 / fps, loop=0)
    return buffer.getvalue()


class RunLogger:
    """Implements the training loop's logger protocol for one run directory."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "videos").mkdir(exist_ok=True)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._writer = None
        if tensorboard:
            self._writer = SummaryWriter(str(self.run_dir), flush_secs=30)

    def scalars(self, values: dict[str, float], step: int) -> None:
        if not values:
            return
        record = {"step": int(step), "time": round(time.time(), 3)}
        for key, value in values.items():
            value = float(value)
            record[key] = value if math.isfinite(value) else str(value)
            if self._writer is not None:
                self._writer.add_scalar(key, value, step)
        with self.metrics_path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")

    def video(self, name: str, frames: np.ndarray, step: int) -> None:
        gif = encode_gif(frames)
        path = self.run_dir / "videos" / f"{name.replace('/', '_')}_{int(step):08d}.gif"
        path.write_bytes(gif)
        if self._writer is not None:
            height, width = frames.shape[1:3]
            image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
            self._writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=name, image=image)]), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(run_dir: str | Path) -> list[dict]:
    """All records of a run's metrics.jsonl (a torn last line from a killed run is skipped)."""
    records = []
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
