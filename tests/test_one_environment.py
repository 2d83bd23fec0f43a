"""DeepEval, garak and llguidance live in the project's own environment (the dev extra)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys

import pytest


@pytest.mark.parametrize(("package", "version"), [("deepeval", "4.3.1"), ("garak", "0.17.1")])
def test_the_pinned_judge_and_scanner_are_installed(package: str, version: str) -> None:
    try:
        installed = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{package} is not installed (tests/conftest.py fails the run instead under "
                    f"LLMOPS_REQUIRE_EXTRAS=1)")
    assert installed == version


def test_deepeval_imports_next_to_the_model_stack_and_garak_runs() -> None:
    if shutil.which("garak") is None and importlib.util.find_spec("garak") is None:
        pytest.skip("garak is not installed")
    code = ("import os; os.environ['DEEPEVAL_TELEMETRY_OPT_OUT'] = '1'\n"
            "import deepeval, transformers, torch, llguidance, openai\n"
            "print(transformers.__version__, openai.__version__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == [importlib.metadata.version("transformers"), importlib.metadata.version("openai")]
    garak = subprocess.run([sys.executable, "-m", "garak", "--version"], capture_output=True, text=True,
                           timeout=300, check=True)
    assert "garak LLM vulnerability scanner v0.17.1" in garak.stdout
