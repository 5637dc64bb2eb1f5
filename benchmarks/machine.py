"""Machine facts printed with every benchmark result."""

from __future__ import annotations

import os
import platform

import torch


def machine_facts() -> str:
    return (
        f"machine: {platform.machine()} {os.cpu_count()} cores | python {platform.python_version()}"
        f" | torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
