"""The metamorphic kind's extension points, added to the ``llmops`` plugin manager by its plugin module.

Implement them with ``@pytest_llmops.hookspecs.hookimpl``; an object registered under a built-in's
name replaces the built-in.
"""

from __future__ import annotations

from typing import Callable

from pytest_llmops.core.hookspecs import hookspec


@hookspec
def llmops_register_perturbations(register: Callable[..., None]) -> None:
    """Metamorphic suite: register input perturbations (seeded, deterministic)."""


@hookspec
def llmops_register_relations(register: Callable[..., None]) -> None:
    """Metamorphic suite: register output relations that must hold between generations."""
