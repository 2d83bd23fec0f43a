"""Write a file whole or not at all: a temporary file beside it, synced, then renamed over it.

Every artifact a later step trusts (the JSON report, its HTML and Markdown, gate artifacts,
baselines, converted-model metadata) is written this way, so a kill, a full disk or a crash
in the middle of writing leaves the previous file as it was and no half-written one. The
temporary file is removed when writing fails; only a ``kill -9`` at that moment can leave a
``.NAME.*.tmp`` behind, never under the artifact's own name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, content: bytes | str | Iterable[bytes]) -> Path:
    """Replace ``path`` with ``content`` (bytes, text as UTF-8, or an iterable of byte chunks)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private; an artifact gets the permissions a plain open() would give.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            if isinstance(content, str):
                out.write(content.encode("utf-8"))
            elif isinstance(content, bytes):
                out.write(content)
            else:
                for chunk in content:
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
