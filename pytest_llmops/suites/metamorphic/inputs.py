"""What a metamorphic suite reads besides its blocks: each block's inputs (inline or from a
fixture file) and the lexicon (word lists some perturbations need)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pytest_llmops.suites.kinds import Fail

#: ids of families, blocks and inputs
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def load_lexicon(raw: Any, path: Path, fail: Fail) -> dict[str, Any]:
    """The suite's ``lexicon:`` (word lists some perturbations need): a mapping, or a YAML file
    relative to the suite file at ``path``; empty when not given."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    if not isinstance(raw, str):
        raise fail("lexicon", "expected a path to a YAML file (relative to this file) or a mapping")
    target = (path.parent / raw).resolve()
    try:
        loaded = yaml.safe_load(target.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise fail("lexicon", f"cannot read {target}: {exc}") from None
    if not isinstance(loaded, dict):
        raise fail("lexicon", f"{target} must hold a mapping (names, pronouns, locations, paraphrases, "
                              "irrelevant_sentences)")
    return loaded


def block_inputs(block: dict[str, Any], suite_path: Path, field_name: str,
                 block_fail: Fail) -> list[tuple[str, dict[str, Any], int]]:
    """``(id, sample, line)`` for each input of a relation block: ``inputs`` (a list) or ``inputs_from``
    (a YAML file, optionally ``{path:, where:}``), with ``limit`` applied.

    A string input becomes ``{field_name: text}``; a mapping's ``id`` (default: its position from 1)
    names the case.
    """
    if ("inputs" in block) == ("inputs_from" in block):
        raise block_fail("inputs", "give exactly one of 'inputs' (a list) or 'inputs_from' (a YAML file)")
    where: dict[str, Any] = {}
    if "inputs" in block:
        raw, key = block["inputs"], "inputs"
    else:
        source = block["inputs_from"]
        key = "inputs_from"
        if isinstance(source, dict):
            where = source.get("where") or {}
            source = source.get("path")
            if not isinstance(where, dict):
                raise block_fail("inputs_from.where", "expected a mapping of field: value")
        if not isinstance(source, str):
            raise block_fail(key, "expected a path (relative to this file) or {path:, where:}")
        target = (suite_path.parent / source).resolve()
        try:
            raw = yaml.safe_load(target.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise block_fail(key, f"cannot read {target}: {exc}") from None
        if isinstance(raw, dict) and isinstance(raw.get("items"), list):
            raw = raw["items"]
    if not isinstance(raw, list) or not raw:
        raise block_fail(key, "expected a non-empty list of inputs (strings or mappings)")
    out: list[tuple[str, dict[str, Any], int]] = []
    ids: set[str] = set()
    for j, item in enumerate(raw):
        if isinstance(item, str):
            sample: dict[str, Any] = {field_name: item}
            sample_id = str(j + 1)
        elif isinstance(item, dict):
            sample = dict(item)
            sample_id = str(sample.pop("id", j + 1))
        else:
            raise block_fail(f"{key}[{j}]", "expected a string or a mapping of fields")
        if any(sample.get(k) != v for k, v in where.items()):
            continue
        if not NAME_RE.match(sample_id) or sample_id in ids:
            raise block_fail(f"{key}[{j}].id", f"{sample_id!r}: expected a unique id of letters, digits, "
                                               "'.', '_' or '-'")
        ids.add(sample_id)
        out.append((sample_id, sample, getattr(item, "line", 0)))
    limit = block.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise block_fail("limit", "expected a positive integer")
        out = out[:limit]
    if not out:
        raise block_fail(key, "no input left after 'where'")
    return out

def rag_sample(sample: dict[str, Any], distractors: int) -> dict[str, Any]:
    """A RAG input checked and completed: its source ``contexts`` (the gold passage and the first
    ``distractors`` of its distractor passages, unless it gives its own) and the unused ``pool``."""
    for key in ("question", "gold"):
        if not isinstance(sample.get(key), str) or not sample[key].strip():
            raise ValueError(f"a RAG input needs '{key}': a string")
    if sample.get("answer") is None:
        raise ValueError("a RAG input needs 'answer': the value (or list of accepted values) the gold "
                         "passage gives")
    pool = sample.get("distractors") or []
    if not isinstance(pool, list) or not all(isinstance(p, str) for p in pool):
        raise ValueError("'distractors' must be a list of passages")
    contexts = sample.get("contexts")
    if contexts is None:
        contexts = [sample["gold"], *pool[:distractors]]
    if not isinstance(contexts, list) or sample["gold"] not in contexts:
        raise ValueError("'contexts' must be a list of passages that includes the gold passage")
    return {**sample, "contexts": list(contexts), "pool": [p for p in pool if p not in contexts]}
