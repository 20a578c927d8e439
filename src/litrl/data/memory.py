"""Whether the replay storage fits in memory, asked before it is allocated.

A buffer too large for the machine otherwise fails in ``torch.zeros`` with an allocator error,
or is killed by the kernel's OOM killer once its pages are touched, long after the run started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from litrl.errors import ConfigError

GIB = 2**30


def available_bytes(device: torch.device) -> int | None:
    """Free memory on ``device``: the GPU's free memory, or the host's MemAvailable (Linux);
    None where it cannot be read (then nothing is checked)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None


def check_fits(what: str, nbytes: int, device: torch.device, fix: Callable[[int], str]) -> None:
    """Raise a ConfigError naming ``what``, the bytes it needs, those available and the fix
    (``fix`` of the available bytes)."""
    available = available_bytes(device)
    if available is not None and nbytes > available:
        where = "GPU memory" if device.type == "cuda" else "memory available on this machine"
        raise ConfigError(
            f"{what} needs {nbytes / GIB:.1f} GiB, but the {where} is {available / GIB:.1f} GiB; "
            f"{fix(available)}."
        )
