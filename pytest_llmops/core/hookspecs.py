"""The ``llmops`` pluggy project: extension points for third-party packages and conftests.

Implement a hook with ``@pytest_llmops.hookimpl`` in a module published under the
``llmops`` entry-point group, or in any pytest plugin or ``conftest.py``::

    from pytest_llmops.hookspecs import hookimpl

    @hookimpl
    def llmops_register_providers(register):
        register("echo", EchoProvider, form="echo:ANYTHING")
"""

from __future__ import annotations

from typing import Callable

import pluggy

PROJECT = "llmops"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def llmops_register_providers(register: Callable[..., None]) -> None:
    """Register model providers: ``register(name, factory, form=..., validate=None, wrapper=False)``.

    ``factory(spec: ModelSpec) -> Provider`` is called lazily, the first time a model of
    that provider is needed; ``form`` is shown in the usage error for unknown specs;
    ``validate(spec)``, if given, raises ``ValueError`` on bad options when the run starts.
    With ``wrapper=True`` they are called as ``factory(spec, create)`` and
    ``validate(spec, validate)``, where ``create(spec)`` makes and ``validate(spec)`` checks
    any other model spec of the run (for providers that wrap another model, like ``fault:``).
    """


@hookspec
def llmops_register_checks(register: Callable[..., None]) -> None:
    """Register YAML checks: ``register(check)`` with an object that has ``name``,
    ``validate(arg) -> arg`` (raise ``ValueError`` on bad arguments) and
    ``evaluate(output: str, arg, context: dict) -> CheckResult``.
    """


@hookspec
def llmops_register_suite_kinds(register: Callable[..., None]) -> None:
    """Register suite kinds: ``register(kind)`` with a
    :class:`~pytest_llmops.suites.kinds.SuiteKind` (``name``, ``parse``, ``requests``,
    ``evaluate``, ``aggregator``). YAML files with ``kind: NAME`` then use it.
    """


@hookspec(historic=True)
def llmops_addhooks(pluginmanager: "pluggy.PluginManager") -> None:
    """Add a plugin's own hookspecs (a suite kind's extension points), the way pytest-xdist adds
    its ``newhooks`` through ``pytest_addhooks``: ``pluginmanager.add_hookspecs(module)``.

    Every ``llmops_register_<group>(register)`` hookspec added this way becomes a registry table
    ``registry.extensions["<group>"]`` of objects by ``name``, where a plugin's object replaces a
    built-in of the same name.
    """
