"""Neutralizing untrusted text (model outputs, case ids, suite names) for Markdown.

Markdown reports end up in PR comments and job summaries, where a model output could
otherwise ping people (``@octocat``), load images (``![x](http://evil/x.png)``), add links
(``[click](javascript:...)``), inject raw HTML (``<img onerror=...>``, ``<!-- -->``,
``<details>``), break out of a code span or fence, or break a table. Two ways in:

- :func:`md_text` / :func:`md_cell`: prose. ``& < >`` become entities, every Markdown
  punctuation character that can start inline markup is backslash-escaped (so ``![``,
  ``](``, ``*``, ``_``, ``#`` and ``|`` are literal), ``@`` is followed by a zero-width space (U+200B) so no mention
  fires, and ``://`` / ``www.`` are broken so nothing is auto-linked.
- :func:`md_code` / :func:`md_fence`: verbatim text in an inline code span or a fenced
  block whose backtick run is longer than any run inside the text. Code is never parsed
  for HTML, links or mentions (``@`` still gets its zero-width space); in a table cell
  ``|`` is escaped and newlines are shown as ``⏎``.
"""

from __future__ import annotations

import re
from typing import Any

ZWSP = "\u200b"
NEWLINE_MARK = "\u23ce"  # ⏎: a newline shown inside a one-line cell or span
ELLIPSIS = "\u2026"

# Every ASCII punctuation character that means something somewhere in CommonMark/GFM.
_MD_PUNCT = set("\\`*_{}[]()#!|~$")
_LEADING_BLOCK = re.compile(r"^(\s*)([-+=]|\d+[.)])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BACKTICK_RUN = re.compile(r"`+")
_BACKSLASHES_BEFORE_PIPE = re.compile(r"(\\+)(?=\|)")


def to_text(value: Any) -> str:
    """Any JSON value as display text (``None`` is empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def strip_controls(text: str) -> str:
    """Drop control and bidi-override characters (they can hide or reorder text)."""
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """Newlines shown as ``⏎`` so the text fits a table cell or an inline span."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", NEWLINE_MARK)


def md_text(value: Any, limit: int | None = None, line_start: bool = False) -> str:
    """Untrusted text as inert Markdown prose (one line).

    ``line_start=True`` also escapes what would open a block there (``- ``, ``+ ``, ``1. ``).
    """
    text = one_line(strip_controls(to_text(value)))
    if limit is not None:
        text = clip(text, limit)
    out: list[str] = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "@":
            out.append("@" + ZWSP)
        elif ch in _MD_PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = "".join(out)
    # A leading ``-``, ``+``, ``=`` or ``1.`` would start a list or a heading underline.
    if line_start:
        escaped = _LEADING_BLOCK.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], escaped)
    # Autolinks: GFM links bare ``scheme://`` and ``www.`` text. An escaped colon already
    # stops the first; a zero-width space stops both, whatever the renderer.
    escaped = escaped.replace("://", "\\:" + ZWSP + "//")
    return re.sub(r"(?i)\b(www)(\.)", lambda m: m.group(1) + ZWSP + m.group(2), escaped)


def md_cell(value: Any, limit: int | None = None) -> str:
    """Untrusted prose for a Markdown table cell (``|`` is already escaped by :func:`md_text`)."""
    return md_text(value, limit) or " "


def _fence_for(text: str, minimum: int) -> str:
    longest = max((len(m.group(0)) for m in _BACKTICK_RUN.finditer(text)), default=0)
    return "`" * max(minimum, longest + 1)


def md_code(value: Any, limit: int | None = None, table: bool = False) -> str:
    """Untrusted text as one inline code span that no backtick inside can close.

    ``table=True`` escapes ``|`` (GFM splits cells before parsing code spans) so the span
    stays in its cell.
    """
    text = one_line(strip_controls(to_text(value)))
    if limit is not None:
        text = clip(text, limit)
    if not text:
        return " " if table else ""
    # Mentions never fire inside code on GitHub; the zero-width space is for renderers
    # that are less careful (and keeps ``@name`` out of the raw comment text).
    text = text.replace("@", "@" + ZWSP)
    if table:
        # A backslash right before our ``\|`` would escape the escape; a zero-width space
        # between them keeps the pipe escaped.
        text = _BACKSLASHES_BEFORE_PIPE.sub(lambda m: m.group(1) + ZWSP, text)
        text = text.replace("|", "\\|")
    fence = _fence_for(text, 1)
    # A span that starts or ends with a backtick (or a space) needs a space of padding,
    # which CommonMark strips again.
    pad = " " if (text[0] in "` " or text[-1] in "` ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(value: Any, info: str = "text", limit: int | None = None) -> str:
    """Untrusted multi-line text as a fenced code block no line inside can close."""
    text = strip_controls(to_text(value)).replace("\r\n", "\n").replace("\r", "\n")
    if limit is not None:
        text = clip(text, limit)
    text = text.replace("@", "@" + ZWSP)
    fence = _fence_for(text, 3)
    info = re.sub(r"[^A-Za-z0-9_+-]", "", info)
    return f"{fence}{info}\n{text}\n{fence}"
