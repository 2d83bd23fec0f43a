"""Finding JSON in model output: the fence and decoding helpers every JSON reader here shares.

Three readers use them with their own rules (the ``is-json`` check, metamorphic relations that
compare the JSON two outputs hold, the DeepEval judge's answer), so the rules stay beside each
reader and only the mechanics live here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_NOTHING = object()


def fenced_body(text: str) -> str | None:
    """The body of the first Markdown code fence (```json ... ```) in ``text``, if any."""
    fence = _FENCE.search(text)
    return fence.group(1) if fence else None


def decode_first(text: str, starts: Iterable[int], strict: bool = True) -> Any:
    """The first value that decodes completely from one of ``starts`` (offsets into ``text``);
    :data:`NOT_FOUND` when none does. Text after the value is ignored. ``strict=False``
    accepts control characters (a raw newline) inside strings, as :func:`json.loads` can."""
    decoder = json.JSONDecoder(strict=strict)
    for start in starts:
        try:
            return decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError:
            continue
    return NOT_FOUND


NOT_FOUND: Any = _NOTHING
"""What :func:`decode_first` returns when no start decodes (``None`` is valid JSON: ``null``)."""
