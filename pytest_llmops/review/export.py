"""``llmops review export``: the sampled cases as a self-contained review page, JSON Lines or CSV.

The page is one HTML file: its data sits in a ``<script type="application/json">`` element
(``<``, ``>`` and ``&`` escaped as ``\\u003c`` etc., so no output can close the element), and
its script renders every string with ``textContent``. A Content-Security-Policy allows that
one script (by hash) and nothing else: no network, no images, no other script, so even markup
that slipped through could neither run nor call home. It works from ``file://`` and as a CI
artifact.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup  # jinja2's own dependency: text already made safe

from pytest_llmops.core.atomic import write_atomic
from pytest_llmops.review.cases import KEY_FIELDS, model_fingerprints, review_item
from pytest_llmops.review.sample import FAILED, FLIP, SAMPLED, SampleSettings, sample_cases

TEMPLATE_DIR = Path(__file__).parent / "templates"
FORMATS = ("html", "jsonl", "csv")
CSV_COLUMNS = (*KEY_FIELDS, "reason", "outcome", "input", "output", "baseline_output", "label", "note", "reviewer")


def review_items(report: dict[str, Any], settings: SampleSettings) -> list[dict[str, Any]]:
    """The sampled cases of ``report`` as review items (see :func:`cases.review_item`)."""
    fingerprints = model_fingerprints(report)
    return [review_item(record, report, reason, fingerprints) for record, reason in sample_cases(report, settings)]


def export_id(report_bytes: bytes, settings: SampleSettings) -> str:
    """Names one export: the report and the sampling settings (the page keeps its progress under it)."""
    digest = hashlib.sha256(report_bytes)
    digest.update(repr((settings.pass_share, settings.max_passes_per_suite, settings.seed,
                        sorted(settings.kinds or []))).encode())
    return digest.hexdigest()[:12]


def _script_json(value: Any) -> str:
    """JSON that is inert inside a ``<script>`` element whatever the strings in it say."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _summary(items: list[dict[str, Any]]) -> str:
    counts = {reason: sum(item["reason"] == reason for item in items) for reason in (FAILED, FLIP, SAMPLED)}
    suites = len({item["key"]["suite"] for item in items})
    return (f"{len(items)} cases from {suites} suites: {counts[FAILED]} failed, {counts[FLIP]} regression flips, "
            f"{counts[SAMPLED]} sampled passes.")


def render_review_page(items: list[dict[str, Any]], title: str, page_id: str) -> str:
    """The review page's HTML."""
    script = (TEMPLATE_DIR / "review.js").read_text(encoding="utf-8")
    script_hash = "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True)
    template = env.get_template("review.html.j2")
    return template.render(title=title, summary=_summary(items), script_hash=script_hash,
                           script=Markup(script),
                           data_json=Markup(_script_json({"export_id": page_id, "cases": items})))


def _flat_input(item: dict[str, Any]) -> str:
    parts = [f"[system] {item['system']}"] if item["system"] else []
    parts.extend(f"[{m['role']}] {m['content']}" for m in item["messages"])
    parts.extend(f"[context {i}] {c}" for i, c in enumerate(item["contexts"], start=1))
    return "\n".join(parts)


def render_jsonl(items: list[dict[str, Any]]) -> str:
    """One JSON object per case: the item, with empty ``label``, ``note`` and ``reviewer`` to fill in."""
    lines = [json.dumps({**item["key"], **{k: v for k, v in item.items() if k != "key"},
                         "label": "", "note": "", "reviewer": ""}, ensure_ascii=False) for item in items]
    return "".join(line + "\n" for line in lines)


def render_csv(items: list[dict[str, Any]]) -> str:
    """A spreadsheet-ready CSV: key columns, what to read, and empty label / note / reviewer columns."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({**item["key"], "reason": item["reason"], "outcome": item["outcome"],
                         "input": _flat_input(item), "output": item["output"],
                         "baseline_output": item["baseline_output"] or "", "label": "", "note": "", "reviewer": ""})
    return buffer.getvalue()


def write_export(items: list[dict[str, Any]], fmt: str, out: Path, title: str, page_id: str) -> Path:
    """Write the export in ``fmt`` (one of :data:`FORMATS`) to ``out``, atomically."""
    if fmt == "html":
        text = render_review_page(items, title, page_id)
    elif fmt == "jsonl":
        text = render_jsonl(items)
    elif fmt == "csv":
        text = render_csv(items)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return write_atomic(Path(out), text)
