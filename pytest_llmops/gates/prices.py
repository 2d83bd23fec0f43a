"""The run's price table: the ``prices:`` section of the gate file, read once when a run starts.

The table lives next to the gates (``llmops.yaml``, or ``[tool.llmops.prices]`` in
``pyproject.toml``, or the file ``--llm-gate-config`` names), found the way the gate file is.
Runs read it whether or not they apply a gate; a file that does not parse is left to the gate
to report (a run without a gate never read it before), but a ``prices`` section that is there
and wrong is an error naming the file and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_llmops.core.pricing import PriceTable, PriceTableError, parse_price_table
from pytest_llmops.gates.config import GATE_FILE, PYPROJECT, GateConfigError, _display, _load_toml

PRICES_KEY = "prices"


def _document(path: Path) -> tuple[Any, str] | None:
    """``(section, where)``: the mapping that may hold ``prices`` and how to name it; None if unreadable."""
    shown = _display(path)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if path.suffix == ".toml":
        try:
            doc = _load_toml(data, shown)
        except GateConfigError:
            return None
        tool = doc.get("tool")
        section = tool.get("llmops") if isinstance(tool, dict) else None
        if isinstance(section, dict):
            return section, f"{shown} [tool.llmops]"
        return (doc, shown) if path.name != PYPROJECT else None
    try:
        return yaml.safe_load(data.decode("utf-8")), shown
    except (UnicodeDecodeError, yaml.YAMLError):
        return None


def load_price_table(rootdir: Path, path: Path | None = None) -> PriceTable | None:
    """The validated price table, or None when there is none; :class:`GateConfigError` names a bad one.

    ``path`` (``--llm-gate-config``) if given, else ``rootdir/llmops.yaml``, else
    ``[tool.llmops]`` in ``rootdir/pyproject.toml``: the same file the gate reads.
    """
    if path is not None:
        candidates = [Path(path)]
    else:
        gate_file = Path(rootdir) / GATE_FILE
        candidates = [gate_file] if gate_file.is_file() else [Path(rootdir) / PYPROJECT]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        found = _document(candidate)
        if found is None or not isinstance(found[0], dict) or PRICES_KEY not in found[0]:
            return None
        section, where = found
        try:
            return parse_price_table(section[PRICES_KEY], f"{where}: {PRICES_KEY}")
        except PriceTableError as exc:
            raise GateConfigError(str(exc)) from None
    return None
