"""Opening the sqlite files of a cache folder so that a damaged one never stops a run.

A cache is a convenience: losing it costs time, never answers. So every way a cache file can
be unusable ends in one :class:`CacheWarning` that names the file and says what was done,
and the run goes on:

- a file that is not a database, or a damaged one: moved aside (``NAME.damaged-TIMESTAMP``,
  kept for a bug report) and rebuilt empty;
- a file written by a newer schema than this version reads: left as it is, and the run
  goes on without a cache;
- a folder or file that cannot be written: read from where possible (nothing new is stored),
  else no cache.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
import time
import warnings
from pathlib import Path


class CacheWarning(UserWarning):
    """A cache file could not be used as it was; the message names it and says what was done."""


class NewerSchema(Exception):
    """The file was written by a newer version of the plugin."""


def warn(path: Path, what: str) -> None:
    """One warning naming the cache file ``path``."""
    warnings.warn(CacheWarning(f"llmops cache {path}: {what}; the run goes on"), stacklevel=3)


def _set_wal(conn: sqlite3.Connection) -> None:
    # Switching a new database to WAL can fail with "database is locked" without waiting for
    # the busy timeout when another process opens it at the same moment: retry.
    deadline = time.monotonic() + 60.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _check_pages(conn: sqlite3.Connection) -> None:
    """Raise :class:`sqlite3.DatabaseError` unless every page reads back sound.

    ``quick_check`` reads the whole file (milliseconds for a cache of a few MB), so damage is
    found when the run starts rather than in the middle of it.
    """
    verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"damaged pages: {verdict}")


def _schema_version(conn: sqlite3.Connection, version: int) -> int:
    """The file's ``user_version``; :class:`NewerSchema` when it is above ``version``."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > version:
        raise NewerSchema(found)
    return found


def _open_writable(path: Path, schema: str, version: int) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    try:
        _set_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        found = _schema_version(conn, version)
        conn.execute(schema)
        if found < version:
            conn.execute(f"PRAGMA user_version={int(version)}")
        _check_pages(conn)
        return conn
    except BaseException:
        conn.close()
        raise


def _open_read_only(path: Path, version: int) -> sqlite3.Connection:
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60.0, isolation_level=None)
    try:
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        # A WAL file read-only needs its -shm index, which sqlite cannot create in a read-only
        # folder; nothing can write there either, so the file is read as it stands.
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=60.0, isolation_level=None)
    try:
        _schema_version(conn, version)
        _check_pages(conn)
        return conn
    except BaseException:
        conn.close()
        raise


def _newer(exc: NewerSchema, version: int) -> str:
    return f"written by a newer pytest-llmops (schema {exc.args[0]}, this one reads {version})"


def move_aside(path: Path) -> Path:
    """Rename ``path`` (and its WAL files) to ``NAME.damaged-TIMESTAMP``; returns the new name."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    path.replace(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    return target


def open_cache_file(path: Path, schema: str, version: int, write: bool) -> tuple[sqlite3.Connection | None, bool]:
    """``(connection, writable)`` for the cache file at ``path``; ``(None, False)`` when none can be used.

    ``write``: the caller means to store entries (else a read-only open is enough, and a missing
    file is simply no cache). Every fallback is announced by one :class:`CacheWarning`.
    """
    if not write:
        if not path.exists():
            return None, False
        try:
            return _open_read_only(path, version), False
        except NewerSchema as exc:
            warn(path, f"{_newer(exc, version)}: not used")
        except sqlite3.DatabaseError as exc:
            warn(path, f"cannot be read ({exc}): not used")
        return None, False
    try:
        return _open_writable(path, schema, version), True
    except NewerSchema as exc:
        warn(path, f"{_newer(exc, version)}: left as it is, and not used")
        return None, False
    except OSError as exc:  # the folder cannot be made
        warn(path, f"cannot be created ({exc.strerror or exc}): no cache")
        return None, False
    except sqlite3.OperationalError as exc:
        if not _unwritable(exc):
            raise
        try:
            conn = _open_read_only(path, version) if path.exists() else None
        except (sqlite3.DatabaseError, NewerSchema):
            conn = None
        warn(path, f"not writable ({exc}): " + ("answers are read from it, nothing new is stored"
                                                if conn is not None else "no cache"))
        return conn, False
    except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
        try:
            moved = move_aside(path)
        except OSError as move_error:
            warn(path, f"is damaged ({exc}) and cannot be moved aside ({move_error.strerror}): no cache")
            return None, False
        try:
            conn = _open_writable(path, schema, version)
        except (sqlite3.DatabaseError, OSError) as again:
            warn(path, f"is damaged ({exc}): moved aside to {moved.name}, and a new one cannot be made "
                       f"({again}): no cache")
            return None, False
        warn(path, f"is damaged ({exc}): moved aside to {moved.name} and rebuilt empty")
        return conn, True


def _unwritable(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text or "disk i/o" in text
