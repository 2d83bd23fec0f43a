"""The drift suite kind: a reference window of logged traffic against a current one.

``kind: drift`` files name a JSON Lines log (``docs/logs.md``) and two windows of it (by
time or by file); one case compares them: input drift (MMD on embeddings of the user
messages, with a permutation test, and the topics that grew or shrank), output drift
(answer length, refusals, language, JSON validity, the declared checks), each with an
interval and a p-value. See ``docs/drift.md``.

Modules: ``spec`` (YAML), ``stream`` (one pass over the log, flat memory), ``compare``
(rates and means, two windows), ``mmd`` (the two-sample test), ``topics`` (clusters),
``measure`` (a whole comparison), ``kind`` and ``aggregate`` (suite metrics).
"""

from __future__ import annotations

from pytest_llmops.suites.drift.kind import DriftKind

KIND = DriftKind()

__all__ = ["KIND", "DriftKind"]
