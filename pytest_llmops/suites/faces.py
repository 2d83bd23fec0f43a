"""Report faces for reports written before kinds wrote them (or by a kind's older version).

A report's suite entries carry their kind's face (``suite["face"]``); renderers read only that.
The ``llmops`` commands pass each loaded report through :func:`with_faces`, so a report from
before faces shows its suites' headlines as a new one would, looked up by the suite's kind.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.suites.kinds import kind_named


def with_faces(report: dict[str, Any], registry: Any = None) -> dict[str, Any]:
    """``report`` with a face on every suite that lacks one (from the registered kind of that name)."""
    if registry is None:
        # the built-in registry loads every kind's plugin module: only when a report lacks faces
        from pytest_llmops.suites.builtins import default_registry

        registry = default_registry()
    suites = report.get("suites")
    if not isinstance(suites, dict):
        return report
    for suite in suites.values():
        if isinstance(suite, dict) and not isinstance(suite.get("face"), dict):
            kind = kind_named(registry, str(suite.get("kind", "")))
            suite["face"] = kind.face.as_dict(suite.get("metrics") if isinstance(suite.get("metrics"), dict) else {})
    return report
