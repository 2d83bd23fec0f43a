"""The built-in attacks, strategies and detectors, registered through the same hooks as plugins.

``pytest_llmops.core.registry.make_plugin_manager`` registers this module with the ``llmops``
plugin manager; a third-party package does the same from its own module (an ``llmops``
entry point, a pytest plugin or a ``conftest.py``), see ``docs/adversarial.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_llmops.core.hookspecs import hookimpl


@hookimpl
def llmops_register_attacks(register: Callable[..., None]) -> None:
    from pytest_llmops.suites.adversarial.attacks import BUILTIN_ATTACKS

    for attack in BUILTIN_ATTACKS:
        register(attack)


@hookimpl
def llmops_register_strategies(register: Callable[..., None]) -> None:
    from pytest_llmops.suites.adversarial.strategies import BUILTIN_STRATEGIES

    for strategy in BUILTIN_STRATEGIES:
        register(strategy)


@hookimpl
def llmops_register_detectors(register: Callable[..., None]) -> None:
    from pytest_llmops.suites.adversarial.detectors import BUILTIN_DETECTORS

    for detector in BUILTIN_DETECTORS:
        register(detector)
