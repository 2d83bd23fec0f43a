"""The metamorphic kind's pytest fixture, a ``pytest11`` plugin of its own (pyproject.toml).

Imported on every pytest run, like the main plugin module: it imports nothing but pytest.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def metamorphic(llmops_run: Any) -> Any:
    """Metamorphic relations over your own function: ``metamorphic.invariant(fn, inputs,
    perturbation="typos", relation="normalized-exact").assert_holds()`` (docs/metamorphic.md)."""
    from pytest_llmops.suites.metamorphic.api import Metamorphic  # the kind loads only for tests that use it

    return Metamorphic(llmops_run.registry, seed=llmops_run.seed, rootdir=llmops_run.rootdir)
