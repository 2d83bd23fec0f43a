"""The adversarial suite kind: injection, jailbreak, leakage and obfuscation attacks.

``kind: adversarial`` YAML files name attacks and obfuscation strategies; the kind generates
seeded cases, renders them for the subject (a bare model, a prompt template, a RAG prompt),
judges each output with the attack's deterministic detectors and reports
``attack_success_rate`` per category with Wilson intervals. See ``docs/adversarial.md``.

Modules: ``attacks`` (the attack library), ``strategies`` (obfuscations), ``detectors``,
``render`` (subjects), ``parse`` (the suite file and its generated cases), ``kind`` (evaluate,
report face), ``aggregate`` (metrics), ``significance`` (comparing two prompts), ``benign``
(detector false positives), ``hookspecs`` (its extension points), ``plugin`` (hook registration).
"""

from __future__ import annotations

from pytest_llmops.suites.adversarial.attacks import Attack, AttackCase, DetectorUse
from pytest_llmops.suites.adversarial.detectors import Detection, Detector
from pytest_llmops.suites.adversarial.kind import AdversarialKind
from pytest_llmops.suites.adversarial.strategies import Strategy

KIND = AdversarialKind()

__all__ = ["KIND", "AdversarialKind", "Attack", "AttackCase", "Detection", "Detector", "DetectorUse", "Strategy"]
