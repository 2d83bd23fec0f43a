"""Device, dtype and memory decisions, kept apart so the GPU paths stay small and testable."""

from __future__ import annotations

from typing import Any
import os
import gc

_DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def pick_device(name: str) -> str:
    """``auto`` picks CUDA when present, otherwise the CPU."""
    import torch  # torch: only once a local model or device is used

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={name} was asked for but torch.cuda.is_available() is False")
    return name


def pick_dtype(name: str, device: str) -> Any:
    """``auto`` means bfloat16 on a GPU that supports it, float32 on the CPU."""
    import torch  # torch: only once a local model or device is used

    name = _DTYPE_NAMES.get(name, name)
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def limit_cpu_threads() -> int:
    """Share the CPU cores between xdist workers instead of oversubscribing them.

    Each worker process would otherwise start one torch thread per core, and several
    workers spinning on the same cores are many times slower than one.
    """
    import torch  # torch: only once a local model or device is used

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores // workers))
    return int(torch.get_num_threads())


#: CPU batch sizes. Greedy batches stay at 32, the size the shipped suites' answers were
#: recorded with (a different batch pads prompts differently, which can move a greedy answer by
#: float rounding). Sampled batches, whose answers do not depend on their batch (providers/
#: sampling.py), take 64: on 2 cores a 64-row decode step cost 1.15x a 30-row one, so each row
#: costs about half (``benchmarks/repeats_batching.py --part batch``; docs/repeats.md).
CPU_GREEDY_BATCH = 32
CPU_SAMPLED_BATCH = 64


def initial_batch_size(device: str, n_prompts: int, sampled: bool = False) -> int:
    """A starting batch size; out-of-memory halves it."""
    limit = 64 if device.startswith("cuda") else CPU_SAMPLED_BATCH if sampled else CPU_GREEDY_BATCH
    return max(1, min(limit, n_prompts))


def is_out_of_memory(exc: BaseException) -> bool:
    import torch  # torch: only once a local model or device is used

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory(device: str) -> None:
    import torch  # torch: only once a local model or device is used

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def describe_device(device: str, dtype: Any) -> dict[str, Any]:
    """Device facts for the report: GPU name, driver-side CUDA version, torch version, dtype."""
    import torch  # torch: only once a local model or device is used

    info: dict[str, Any] = {"device": "cuda" if device.startswith("cuda") else "cpu",
                            "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__}
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        info["gpu"] = torch.cuda.get_device_name(index)
        info["cuda"] = torch.version.cuda
    else:
        info["gpu"] = None
    return info
