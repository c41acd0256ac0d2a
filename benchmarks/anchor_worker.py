"""Worker process for compare_anchors.py: the anchor harness's worker with this project's builders.

Started by the harness's coordinator (speed.py) as `python anchor_worker.py NAME THREADS`; puts the
anchor folder on sys.path, replaces the `ours*` builders of its impls.py (written against an older
API) with anchor_setup.build_ours, then runs the harness's own worker loop unchanged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from anchor_setup import register_builders  # noqa: E402


def main() -> None:
    anchors = Path(os.environ["VID2ACT_ANCHORS"])
    sys.path.insert(1, str(anchors))
    import impls
    import worker

    register_builders(impls)
    worker.main()


if __name__ == "__main__":
    main()
