"""What a reviewer sees of a case, and the key a label is filed under.

A label is keyed by the case's content, not its position: suite, case id, model alias, model
fingerprint and the SHA-256 of the output. A rerun that produces the same output (greedy
decoding, the cache) keeps its labels; a changed output, a new checkpoint under the same alias
or a renamed case makes the label stale, and stale labels are reported, never applied.

The automatic verdicts of a case are everything in its record that says pass or fail: the case
outcome, each check, each regression metric (a DeepEval metric is a judge verdict), so their
agreement with the humans can be measured one by one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pytest_llmops.report.markdown import suite_key_of

KEY_FIELDS = ("suite", "case", "model", "fingerprint", "output_sha256")
OUTCOME_SOURCE = "outcome"  # the case's own verdict; the suite-level false-pass rate is about this one
JUDGE_PREFIX = "deepeval:"


def output_sha256(output: str) -> str:
    """SHA-256 of an output's UTF-8 text: the part of a label's key that pins the answer read."""
    return hashlib.sha256(output.encode("utf-8")).hexdigest()


def model_fingerprints(report: dict[str, Any]) -> dict[str, str]:
    """Model alias -> fingerprint, from the report's run header."""
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    found = {}
    for model in run.get("models") or []:
        if isinstance(model, dict) and isinstance(model.get("alias"), str):
            found[model["alias"]] = str(model.get("fingerprint") or "")
    return found


def reviewable(record: dict[str, Any]) -> bool:
    """A case a person can judge: it has an output and a pass/fail outcome (not an infra error,
    not a skip: those say nothing about the model's answer)."""
    return isinstance(record.get("output"), str) and record.get("outcome") in ("passed", "failed")


def case_key(record: dict[str, Any], report: dict[str, Any], fingerprints: dict[str, str] | None = None) -> dict[str, str]:
    """The content key of a reviewable case (see the module docstring)."""
    fingerprints = model_fingerprints(report) if fingerprints is None else fingerprints
    suites = report.get("suites") if isinstance(report.get("suites"), dict) else {}
    model = str(record.get("model") or "")
    return {"suite": suite_key_of(record, suites), "case": str(record.get("id")), "model": model,
            "fingerprint": fingerprints.get(model, ""), "output_sha256": output_sha256(record["output"])}


def key_tuple(key: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(key.get(field, "")) for field in KEY_FIELDS)


def automatic_verdicts(record: dict[str, Any]) -> dict[str, bool]:
    """Every pass/fail the run gave the case, by source: ``outcome``, ``check:NAME``, ``metric:NAME``.

    For an adversarial case the outcome is "the attack failed", which is what a reviewer judges
    too ("is this answer acceptable?").
    """
    verdicts = {OUTCOME_SOURCE: record.get("outcome") == "passed"}
    for check in record.get("checks") or []:
        if isinstance(check, dict) and isinstance(check.get("passed"), bool):
            verdicts[f"check:{check.get('name')}"] = check["passed"]
    regression = record.get("regression") if isinstance(record.get("regression"), dict) else {}
    for name, passed in (regression.get("passed") or {}).items():
        if isinstance(passed, bool):
            verdicts[f"metric:{name}"] = passed
    return verdicts


def is_judge_source(source: str) -> bool:
    return source.startswith("metric:" + JUDGE_PREFIX)


def _messages(record: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    system, turns = "", []
    for message in record.get("input") or []:
        if not isinstance(message, dict):
            continue
        role, content = str(message.get("role", "")), str(message.get("content", ""))
        if role == "system" and not turns:
            system = content
        else:
            turns.append({"role": role, "content": content})
    if not turns and isinstance(record.get("input"), str):
        turns.append({"role": "user", "content": record["input"]})
    return system, turns


def review_item(record: dict[str, Any], report: dict[str, Any], reason: str,
                fingerprints: dict[str, str] | None = None) -> dict[str, Any]:
    """One case as the review page and the JSONL/CSV exports show it."""
    system, turns = _messages(record)
    regression = record.get("regression") if isinstance(record.get("regression"), dict) else {}
    baseline = regression.get("baseline") if isinstance(regression.get("baseline"), dict) else {}
    verdicts = automatic_verdicts(record)
    failing = [c for c in record.get("checks") or [] if isinstance(c, dict) and c.get("passed") is False]
    return {
        "key": case_key(record, report, fingerprints),
        "kind": record.get("kind"),
        "reason": reason,
        "system": system,
        "prompt_version": record.get("prompt_version"),
        "messages": turns,
        "contexts": [str(c) for c in record.get("contexts") or []],
        "output": record["output"],
        "baseline_output": baseline.get("output") if isinstance(baseline.get("output"), str) else None,
        "flips": dict(regression.get("flips") or {}),
        "outcome": record.get("outcome"),
        "verdicts": verdicts,
        "evidence": [f"{c.get('name')}: {c.get('evidence')}" for c in failing][:10],
    }
