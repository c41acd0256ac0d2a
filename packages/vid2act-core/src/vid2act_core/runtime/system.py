"""The machine a checkpoint was made on, recorded beside its weights (a run read later says where it came from)."""

from __future__ import annotations

import platform

import numpy as np
import torch

import vid2act_core
from vid2act_core.runtime.mkl_dispatch import mkl_dispatch_status


def system_info() -> dict[str, str]:
    """Library versions, Python, the platform, the device and what MKL was told (`mkl_dispatch`)."""
    return {
        "vid2act_core": vid2act_core.__version__,
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(torch.cuda.get_device_name()) if torch.cuda.is_available() else "cpu",
        "mkl_avx512": mkl_dispatch_status() or "not asked",
    }
