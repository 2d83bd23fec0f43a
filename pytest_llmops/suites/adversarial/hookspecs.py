"""The adversarial kind's extension points, added to the ``llmops`` plugin manager by its plugin module.

Implement them with ``@pytest_llmops.hookspecs.hookimpl``; an object registered under a built-in's
name replaces the built-in.
"""

from __future__ import annotations

from typing import Callable

from pytest_llmops.core.hookspecs import hookspec


@hookspec
def llmops_register_attacks(register: Callable[..., None]) -> None:
    """Adversarial suite: register attacks, ``register(attack)`` (an object with a ``name``)."""


@hookspec
def llmops_register_strategies(register: Callable[..., None]) -> None:
    """Adversarial suite: register obfuscation strategies that compose with any attack."""


@hookspec
def llmops_register_detectors(register: Callable[..., None]) -> None:
    """Adversarial suite: register detectors that decide whether an attack succeeded."""
