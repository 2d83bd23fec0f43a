"""One line for a suite's candidate-vs-baseline agreement block, ``metrics["agreement"]``.

A suite that runs a candidate and a baseline on the same cases may say how alike their
answers were: ``same_output`` (a rate: ``value``, ``lb95``, ``ub95``), ``semantic.mean``,
how many cases changed for the ``worse`` and the ``better``, the ``net_change`` (``value``,
``ci95``), its ``decision`` and whether that is gated (``gate``). The line reads

    candidate vs baseline: 93% same output, semantic agreement 0.97, 12 changed for the
    worse / 3 for the better (net -4.1% [-7.0%, -1.5%]) → regressed

Every key is optional: older reports have no block, and a producer may leave parts out;
the line shows what there is, and a block with nothing to show gives none. The renderers
only look for the block, never at the suite's kind, so any kind may report one.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.report.faces import is_number
from pytest_llmops.report.safe_text import clip, md_text, one_line, strip_controls, to_text

__all__ = ["AGREEMENT", "agreement_block", "agreement_line", "markdown_agreement_items"]

AGREEMENT = "agreement"  # the key of the block among a suite's metrics
PREFIX = "candidate vs baseline: "


def agreement_block(suite: Any) -> dict[str, Any] | None:
    """The suite entry's agreement block, or ``None`` when it has none."""
    metrics = suite.get("metrics") if isinstance(suite, dict) else None
    block = metrics.get(AGREEMENT) if isinstance(metrics, dict) else None
    return block if isinstance(block, dict) else None


def _rate(node: Any) -> float | None:
    """A rate given as ``{"value": x, ...}`` or as a bare number, else ``None``."""
    value = node.get("value") if isinstance(node, dict) else node
    return float(value) if is_number(value) else None


def _count(value: Any) -> int | None:
    """A case count (a whole number), else ``None``."""
    if is_number(value) and float(value) == int(value):
        return int(value)
    return None


def percent(rate: float) -> str:
    """``0.93`` as ``93%``; with one decimal where whole percent would read as all or none."""
    text = f"{rate:.0%}"
    if (text == "100%" and rate < 1) or (text == "0%" and rate > 0):
        text = f"{rate:.1%}"
    return text


def _signed_percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def _net(block: dict[str, Any]) -> str | None:
    """``net -4.1% [-7.0%, -1.5%]`` from ``net_change``, without the interval when it has none."""
    node = block.get("net_change")
    value = _rate(node)
    if value is None:
        return None
    text = f"net {_signed_percent(value)}"
    ci = node.get("ci95") if isinstance(node, dict) else None
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and is_number(ci[0]) and is_number(ci[1]):
        text += f" [{_signed_percent(float(ci[0]))}, {_signed_percent(float(ci[1]))}]"
    return text


def _changes(block: dict[str, Any]) -> str | None:
    """``12 changed for the worse / 3 for the better``, or the half the block has."""
    worse, better = _count(block.get("worse")), _count(block.get("better"))
    if worse is not None and better is not None:
        return f"{worse:,} changed for the worse / {better:,} for the better"
    if worse is not None:
        return f"{worse:,} changed for the worse"
    if better is not None:
        return f"{better:,} changed for the better"
    return None


def plain(value: Any) -> str:
    """Report text for a plain-text line: one line, no control characters, clipped."""
    return clip(one_line(strip_controls(to_text(value))), 40)


def agreement_line(block: Any, base_block: Any = None, quote: Callable[[Any], str] = plain) -> str | None:
    """The agreement line of ``block`` (see the module docstring), or ``None`` with nothing to show.

    With the ``base_block`` of the same suite in the base report, the line ends with the
    change of the same-output rate. ``quote`` renders the one string taken from the report
    as it is (the decision): :func:`plain` for text, an escaping function for Markdown.
    """
    if not isinstance(block, dict):
        return None
    parts = []
    same = _rate(block.get("same_output"))
    if same is not None:
        parts.append(f"{percent(same)} same output")
    semantic = block.get("semantic")
    mean = semantic.get("mean") if isinstance(semantic, dict) else None
    if is_number(mean):
        parts.append(f"semantic agreement {float(mean):.2f}")
    changes, net = _changes(block), _net(block)
    if changes and net:
        parts.append(f"{changes} ({net})")
    elif changes or net:
        parts.append(changes or net)
    decision = to_text(block.get("decision"))
    if not parts and not decision:
        return None
    line = PREFIX + ", ".join(parts)
    if decision:
        line += (" \u2192 " if parts else "") + quote(decision)
        if block.get("gate") is False:  # absent means gated, as for the paired comparison table
            line += " (not gated)"
    base_same = _rate(base_block.get("same_output")) if isinstance(base_block, dict) else None
    if same is not None and base_same is not None:
        line += f"; same output {percent(base_same)} in base ({(same - base_same) * 100:+.1f} pts)"
    return line


def markdown_quote(value: Any) -> str:
    """Report text as inert Markdown, for :func:`agreement_line`."""
    return md_text(value, 40)


def markdown_agreement_items(suites: dict[str, Any], base_suites: dict[str, Any] | None = None) -> list[str]:
    """One Markdown list item per suite of ``suites`` (name → entry) that has an agreement line.

    ``base_suites`` (the same names) adds each suite's change of the same-output rate."""
    items = []
    for name, suite in suites.items():
        base = agreement_block((base_suites or {}).get(name))
        line = agreement_line(agreement_block(suite), base, markdown_quote)
        if line:
            items.append(f"- **{md_text(name, 100)}**: {line}")
    return items
