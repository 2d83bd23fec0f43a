"""Compatibility path for plugin authors: ``from pytest_llmops.hookspecs import hookimpl``.

The core hookspecs live in :mod:`pytest_llmops.core.hookspecs`; each suite kind adds its own
(for example :mod:`pytest_llmops.suites.adversarial.hookspecs`).
"""

from pytest_llmops.core.hookspecs import PROJECT, hookimpl, hookspec  # noqa: F401
