"""Running garak in a subprocess against an OpenAI-compatible base URL, offline.

garak is never imported into the pytest process: it is large, pins its own versions of
``transformers`` and ``openai``, and may live in another interpreter (``garak_python``).
Everything garak writes (its report, log, plugin cache, NLTK folder) goes to a folder the
caller chooses, through the XDG variables garak reads, never the user's home or cwd.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

GARAK_PYTHON_ENV = "LLMOPS_GARAK_PYTHON"
#: the garak release this bridge was written and tested against
TESTED_VERSION = "0.17.1"
_VERSIONS: dict[str, str | None] = {}


class GarakUnavailable(RuntimeError):
    """garak is not installed where we looked (the suite's cases are skipped)."""


class GarakRunError(RuntimeError):
    """garak started but did not produce a usable report."""


@dataclass
class GarakPython:
    """The interpreter that runs garak and the garak version installed there."""

    python: str
    version: str
    configured: bool  # named by the suite or LLMOPS_GARAK_PYTHON (not just this interpreter)


def _version_in(python: str) -> str | None:
    """garak's version as installed for ``python`` (read from metadata: garak is not imported)."""
    if python not in _VERSIONS:
        code = "import importlib.metadata as m\ntry:\n print(m.version('garak'))\nexcept m.PackageNotFoundError:\n pass"
        try:
            done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60, check=False)
            _VERSIONS[python] = (done.stdout.strip() or None) if done.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            _VERSIONS[python] = None
    return _VERSIONS[python]


def garak_installed() -> bool:
    """Whether garak is installed for this interpreter (found, not imported)."""
    return importlib.util.find_spec("garak") is not None


def find_garak(configured: str | None) -> GarakPython:
    """The interpreter to run garak with.

    ``configured`` (the suite's ``garak_python``) or ``$LLMOPS_GARAK_PYTHON`` when set: it
    must exist and have garak, else :class:`GarakRunError` (a mistake to report, not a
    skip). Otherwise this interpreter, when garak is installed in it; else
    :class:`GarakUnavailable`.
    """
    named = configured or os.environ.get(GARAK_PYTHON_ENV)
    if named:
        where = "garak_python" if configured else f"${GARAK_PYTHON_ENV}"
        path = shutil.which(os.path.expanduser(named)) or os.path.expanduser(named)
        if not Path(path).is_file():
            raise GarakRunError(f"{where} {named!r} is not an executable file")
        version = _version_in(path)
        if version is None:
            raise GarakRunError(f"{where} {named!r} has no garak installed (pip install garak=={TESTED_VERSION})")
        return GarakPython(path, version, True)
    if not garak_installed():
        raise GarakUnavailable(
            f"garak is not installed for {sys.executable} (pip install 'pytest-llmops[garak]'), and neither the "
            f"suite's garak_python nor ${GARAK_PYTHON_ENV} names an interpreter that has it")
    version = _version_in(sys.executable)
    if version is None:
        raise GarakUnavailable(f"garak is importable from {sys.executable} but has no package metadata")
    return GarakPython(sys.executable, version, False)


@dataclass
class GarakRun:
    """What one garak invocation left behind."""

    report: Path
    seconds: float
    command: list[str]
    output_tail: str


def run_garak(garak: GarakPython, *, base_url: str, model: str, probes: list[str], workdir: Path,
              prompt_cap: int, generations: int, seed: int, timeout: float,
              serve: Callable[[], None], extended_detectors: bool = False) -> GarakRun:
    """Run ``probes`` against ``base_url`` with garak's ``openai.OpenAICompatible`` generator.

    ``workdir`` is emptied first and holds the configs, garak's report and its XDG folders.
    ``serve()`` is called in a loop while garak runs (the shim answers garak's requests
    there) and must return within a fraction of a second when there is nothing to do.
    """
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "out").mkdir(parents=True)
    generator = {"openai": {"OpenAICompatible": {
        "uri": base_url, "model": model, "temperature": 0.0, "max_tokens": 256,
        # The shim applies the suite's generation settings; these keep garak's request simple.
        "suppressed_params": ["n", "stop", "frequency_penalty", "presence_penalty"],
    }}}
    (workdir / "generator.json").write_text(json.dumps(generator, indent=1), encoding="utf-8")
    config = {
        "system": {"lite": True, "parallel_requests": False, "parallel_attempts": False, "show_z": False},
        "run": {"generations": generations, "soft_probe_prompt_cap": prompt_cap, "seed": seed},
        # Only each probe's primary detector: extended detectors include model-based ones
        # that would download a classifier from the Hugging Face Hub.
        "plugins": {"extended_detectors": extended_detectors},
        "reporting": {"report_dir": str(workdir / "out")},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    prefix = "garak"
    command = [garak.python, "-m", "garak", "--target_type", "openai.OpenAICompatible", "--target_name", model,
               "--generator_option_file", str(workdir / "generator.json"), "--config", str(workdir / "config.yaml"),
               "--probes", ",".join(probes), "--report_prefix", prefix]
    env = dict(os.environ)
    env.update({
        # garak keeps its data, config and cache (plugin cache, NLTK data, logs) under XDG dirs.
        "XDG_DATA_HOME": str(workdir / "xdg" / "data"), "XDG_CONFIG_HOME": str(workdir / "xdg" / "config"),
        "XDG_CACHE_HOME": str(workdir / "xdg" / "cache"),
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        # The loopback shim needs no key; the OpenAI client insists on one.
        "OPENAICOMPATIBLE_API_KEY": "llmops-loopback",
        "NO_PROXY": ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"])),
        "PYTHONIOENCODING": "utf-8", "TERM": "dumb",
        # Some probes pick their prompts in set order (latentinjection: a different selection
        # on every run otherwise); a fixed hash seed makes the same seed give the same prompts.
        "PYTHONHASHSEED": str(seed % 2**32),
    })
    log = workdir / "garak.out"
    start = time.perf_counter()
    returncode: int | None = None
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        try:
            while process.poll() is None and time.perf_counter() - start < timeout:
                serve()  # answers garak's requests on this thread, waiting briefly when there are none
            returncode = process.poll()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    seconds = time.perf_counter() - start
    tail = log.read_text(encoding="utf-8", errors="replace")[-1500:]
    report = workdir / "out" / f"{prefix}.report.jsonl"
    if returncode is None:
        raise GarakRunError(f"garak did not finish within {timeout:.0f} s; output: {tail}")
    if returncode != 0 or not report.is_file():
        raise GarakRunError(f"garak exited with {returncode} and {'a' if report.is_file() else 'no'} report; "
                            f"output (last lines): {tail}")
    return GarakRun(report=report, seconds=seconds, command=command, output_tail=tail)
