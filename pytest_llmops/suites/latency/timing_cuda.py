"""The CUDA-only parts of timing, kept tiny and apart so the CPU path never touches them.

Kernels run asynchronously: a wall-clock timestamp taken while the GPU is still working
measures when the work was *queued*. So every wall-clock reading on CUDA is preceded by
``torch.cuda.synchronize()``, and CUDA events give the GPU-only time of a call.
"""

from __future__ import annotations

import subprocess
from typing import Any


def synchronize() -> None:
    """Wait for every queued kernel, so the next wall-clock reading means 'done'."""
    import torch  # heavy: imported when a GPU case is timed

    torch.cuda.synchronize()


class GpuSpan:
    """CUDA events around a call (GPU time) and the peak memory it allocated."""

    def __init__(self) -> None:
        import torch  # heavy: imported when a GPU case is timed

        self._torch = torch
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)
        self.gpu_ms: float | None = None
        self.peak_memory_mb: float | None = None

    def __enter__(self) -> GpuSpan:  # noqa: PYI034 - a final helper class, never subclassed
        self._torch.cuda.reset_peak_memory_stats()
        synchronize()
        self._start.record()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end.record()
        synchronize()
        self.gpu_ms = float(self._start.elapsed_time(self._end))
        self.peak_memory_mb = self._torch.cuda.max_memory_allocated() / 2 ** 20


def driver_version() -> str | None:
    """The NVIDIA driver version (nvidia-ml-py when installed, else nvidia-smi), or None."""
    try:
        import pynvml  # type: ignore[import-not-found]  # optional: nvidia-ml-py

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # noqa: BLE001, S110 - optional package; any failure means "ask nvidia-smi"
        pass
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip().splitlines()[0] if result.returncode == 0 and result.stdout.strip() else None


def device_facts(device: str) -> dict[str, Any]:
    """GPU name, total memory, CUDA runtime and driver versions of ``device``."""
    import torch  # heavy: imported when a GPU case is timed

    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    return {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2 ** 30, 1),
            "cuda": torch.version.cuda, "driver": driver_version()}
