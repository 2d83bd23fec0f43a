"""Suite metrics recomputed from a finished report's records alone.

Every kind's aggregator folds records, never the run, so a report (or several shards of one)
can be re-aggregated after the fact: this is what makes that true, and what checks it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from pytest_llmops.report.json_report import ReportBuilder


def refold_suites(records: Iterable[dict[str, Any]], kind_of: Callable[[str], Any]) -> dict[str, Any]:
    """The report's ``suites`` section folded again from ``records`` through each kind's aggregator.

    ``kind_of(name)`` gives the suite kind of that name (its ``aggregator()`` and ``face``).
    """
    with tempfile.TemporaryDirectory(prefix="llmops-refold-") as folder:
        builder = ReportBuilder(Path(folder), kind_of=kind_of)
        try:
            for record in records:
                builder.add(record)
            return builder.suites_json()
        finally:
            builder.close()
