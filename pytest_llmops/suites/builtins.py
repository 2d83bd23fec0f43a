"""The one list of built-in plugin modules, and the registry they make outside pytest.

Like simonw/llm's list of default plugins: each module implements the ``llmops`` hooks the
way a third-party plugin would (providers, checks, each suite kind with its own hookspecs and
built-ins). They are registered first, so a plugin's object of the same name replaces a
built-in in every registry table.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Iterable

# ``import a.b as c`` rather than ``from a import b``: the latter reads a package attribute,
# which in-process pytester runs can leave pointing at a module from an earlier run.
import pytest_llmops.checks.plugin as checks_plugin
import pytest_llmops.faults.plugin as faults_plugin
import pytest_llmops.providers.builtin as providers_plugin
import pytest_llmops.suites.adversarial.plugin as adversarial_plugin
import pytest_llmops.suites.drift.plugin as drift_plugin
import pytest_llmops.suites.functional as functional
import pytest_llmops.suites.garak.plugin as garak_plugin
import pytest_llmops.suites.latency.plugin as latency_plugin
import pytest_llmops.suites.metamorphic.plugin as metamorphic_plugin
import pytest_llmops.suites.regression.plugin as regression_plugin
from pytest_llmops.core.registry import Registry, build_registry, make_plugin_manager

BUILTIN_PLUGINS: tuple[ModuleType, ...] = (
    providers_plugin, faults_plugin, checks_plugin, functional, adversarial_plugin, metamorphic_plugin,
    regression_plugin, garak_plugin, latency_plugin, drift_plugin,
)


def registry_with(plugins: Iterable[Any] = ()) -> Registry:
    """The built-ins, ``llmops`` entry points and ``plugins`` (pytest plugins, conftests)."""
    return build_registry(make_plugin_manager(BUILTIN_PLUGINS, plugins))


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry outside pytest (CLI, scripts): built-ins and entry points only."""
    return registry_with()
