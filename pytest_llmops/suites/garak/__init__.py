"""The garak suite kind: a few garak probes against the run's subject, garak's rates imported.

``kind: garak`` YAML files name garak probes. garak (an optional extra, or another
interpreter named by ``garak_python`` / ``$LLMOPS_GARAK_PYTHON``) runs in a subprocess
against a loopback OpenAI-compatible shim that answers with the run's subject, and its
per-probe pass rates land in the report as ``garak_pass_rate``, labelled with garak's
version. See the garak section of ``docs/adversarial.md``.

Modules: ``kind`` (parse/measure/evaluate, report face), ``aggregate`` (metrics), ``shim``
(the loopback endpoint), ``runner`` (finding and running garak offline), ``report`` (reading
garak's JSONL report), ``plugin`` (hook registration).
"""

from __future__ import annotations

from pytest_llmops.suites.garak.kind import GarakKind

KIND = GarakKind()

__all__ = ["KIND", "GarakKind"]
