"""Shared fixtures for the fast test-suite (no real model: the in-process echo provider)."""

from __future__ import annotations

import os

import pytest

# Imported here, before any in-process pytester run: pytester drops modules first imported
# inside an inner run, and re-importing PyYAML would pair fresh Python classes with its C
# extension's cached old ones (the libyaml loader then fails with "tag None").
import yaml  # noqa: F401

# Same for the C-extension packages the regression metrics import lazily (numpy, and what
# rouge-score and sacrebleu pull in): they cannot be loaded twice in one process.
import numpy  # noqa: F401
import sacrebleu  # noqa: F401
from rouge_score import rouge_scorer  # noqa: F401
# torch and transformers: a compared regression suite scores fluency and embeddings with
# real models, and torch cannot be imported twice in one process.
import torch  # noqa: F401
import transformers  # noqa: F401
# transformers 5.24 imports torch.distributed.tensor the first time it loads a model; if that
# happens inside an inner run, the next load imports it again and torch refuses ("Only a single
# TORCH_LIBRARY can be used to register the namespace c10d_functional").
import transformers.modeling_utils  # noqa: F401
# The fast-tokenizer class: llguidance checks isinstance(tokenizer, PreTrainedTokenizerFast),
# which fails when the class first loaded inside an inner run is loaded again afterwards.
from transformers import PreTrainedTokenizerFast  # noqa: F401

from llmops_testutils import LlmProject
from pytest_llmops.providers.model_store import llmops_home

# pytester points HOME at each test's folder, which would convert the embedded GGUF model
# again (30-90 s) in every test that loads it. The converted weights are a content-addressed
# cache, safe to share: pin the real one before any test changes HOME.
os.environ.setdefault("LLMOPS_HOME", str(llmops_home()))


@pytest.fixture(autouse=True)
def _hf_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the Hugging Face Hub, and no echo log leaks in from the environment."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LLMOPS_ECHO_LOG", raising=False)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, with DeepEval's own pytest plugin blocked in the inner runs.

    Where the deepeval extra is installed, that plugin imports deepeval at the start of
    every pytest run (and makes `.deepeval/` there); the project's code imports it lazily,
    only when a DeepEval metric is used. Inner runs do not read our pyproject's addopts,
    and pytester clears PYTEST_ADDOPTS when it starts, so it is set here, after it.
    """
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:deepeval")
    # When these tests themselves run under xdist, an inner run must not read the outer
    # worker's identity (PYTEST_XDIST_WORKER and the worker count size batches and threads,
    # and name the worker in logs): it is a fresh run, with its own workers if it asks for them.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return pytester


@pytest.fixture
def project(pytester: pytest.Pytester) -> LlmProject:
    return LlmProject(pytester)


# The packages behind the DeepEval, garak and constrained-decoding tests. They come with the
# dev extra; where CI requires them (LLMOPS_REQUIRE_EXTRAS=1) a missing one stops the run at
# start instead of letting those tests skip.
REQUIRED_EXTRAS = ("deepeval", "garak", "llguidance")


def pytest_sessionstart(session: pytest.Session) -> None:
    import importlib.util

    if os.environ.get("LLMOPS_REQUIRE_EXTRAS") != "1":
        return
    missing = [name for name in REQUIRED_EXTRAS if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(f"LLMOPS_REQUIRE_EXTRAS=1 but {', '.join(missing)} is not installed: "
                                f"pip install -c constraints.txt -e '.[dev]'")
