"""The options of an ``hf:`` (or ``smollm2``) model spec, checked without loading anything.

The registry runs :func:`check_hf_spec` when the run starts, so a typo in an option or a local
path that does not exist is one usage error before any case runs, not an error per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_llmops.core.specs import ModelSpec

DTYPES = ("auto", "float32", "float16", "bfloat16", "fp32", "fp16", "bf16")
ON = ("1", "on", "true", "yes")
OFF = ("0", "off", "false", "no")
ACCEPTED = "dtype, device, gguf, chat_template, batch_size, alias"


class HFOptionError(ValueError):
    """A bad ``hf:`` spec option."""


@dataclass(frozen=True)
class HFOptions:
    """What an ``hf:`` spec's options ask for."""

    dtype: str
    device: str
    gguf: str | None
    chat_template: bool
    batch_size: int | None

    @classmethod
    def parse(cls, spec: ModelSpec) -> "HFOptions":
        """The spec's options; raises :class:`HFOptionError` naming the bad one and what is accepted."""
        opts = dict(spec.options)
        opts.pop("alias", None)
        dtype = opts.pop("dtype", "auto")
        device = opts.pop("device", "auto")
        gguf = opts.pop("gguf", None)
        template = opts.pop("chat_template", "on").lower()
        batch = opts.pop("batch_size", None)
        if opts:
            raise HFOptionError(f"unknown option(s) {sorted(opts)} in {spec.raw!r}; accepted: {ACCEPTED}")
        if dtype not in DTYPES:
            raise HFOptionError(f"dtype={dtype!r} in {spec.raw!r}; expected one of {DTYPES}")
        if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
            raise HFOptionError(f"device={device!r} in {spec.raw!r}; expected auto, cpu or cuda")
        if template not in ON + OFF:
            raise HFOptionError(f"chat_template={template!r} in {spec.raw!r}; expected on or off")
        if batch is not None and (not batch.isdigit() or int(batch) < 1):
            raise HFOptionError(f"batch_size={batch!r} in {spec.raw!r}; expected a whole number of at least 1")
        return cls(dtype, device, gguf, template in ON, int(batch) if batch else None)


def looks_like_a_path(target: str) -> bool:
    """A target written as a local path (``/x``, ``./x``, ``../x``, ``~/x``), not a hub id (``org/name``)."""
    return target.startswith(("/", "./", "../", "~", ".\\")) or target in (".", "..")


def check_hf_spec(spec: ModelSpec) -> None:
    """Raise :class:`HFOptionError` for a bad option or a local path that does not exist."""
    options = HFOptions.parse(spec)
    if spec.provider != "hf":
        return
    target = Path(spec.target).expanduser()
    if looks_like_a_path(spec.target) and not target.exists():
        raise HFOptionError(f"no such file or folder: {str(target)!r} (a local model is a folder or a .gguf "
                            "file; a hub id is written ORG/NAME, without a leading / or ./)")
    if options.gguf and target.is_dir() and not (target / options.gguf).is_file():
        raise HFOptionError(f"gguf={options.gguf!r}: no such file in {str(target)!r}")
