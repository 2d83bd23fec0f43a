"""Content-addressed response cache in sqlite.

Keys are digests of (model fingerprint, plugin version, request content). Values are the
generation as JSON. Writes are batched (one transaction per generated batch) and the
database runs in WAL mode with a busy timeout, so several xdist workers can share it.
Infra errors are never stored: only :class:`Generation` values reach :meth:`put_many`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Mapping

from pytest_llmops import __version__
from pytest_llmops.core.sqlite_file import open_cache_file, warn
from pytest_llmops.providers.base import Generation, GenerationRequest

CACHE_MODES = ("rw", "read", "off", "refresh")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""
#: sqlite ``user_version`` of the files this version writes; a file with a higher one is left alone
SCHEMA_VERSION = 1
_CHUNK = 500  # stay well under sqlite's bound-variable limit


def cache_key(fingerprint: str, request: GenerationRequest) -> str:
    """The content address of ``request`` sent to the model identified by ``fingerprint``."""
    text = "\x1f".join((fingerprint, __version__, request.content_key()))
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """sqlite-backed cache honouring a mode: ``rw``, ``read``, ``off`` or ``refresh``."""

    def __init__(self, path: Path, mode: str = "rw") -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {CACHE_MODES}, got {mode!r}")
        self.path = path
        self.mode = mode
        self._conn: sqlite3.Connection | None = None
        self._unusable = False  # set when this run goes on without the file (a warning said why)
        self._read_only = False
        self.opened_at = time.time()

    @property
    def reads(self) -> bool:
        return self.mode in ("rw", "read")

    @property
    def writes(self) -> bool:
        return self.mode in ("rw", "refresh")

    def _connection(self) -> sqlite3.Connection | None:
        """The open database, or ``None`` when this run goes on without one (see ``sqlite_file``)."""
        if self._conn is None and not self._unusable:
            self._conn, writable = open_cache_file(self.path, _SCHEMA, SCHEMA_VERSION, write=self.writes)
            self._unusable = self._conn is None
            self._read_only = not writable
        return self._conn

    def _give_up(self, exc: sqlite3.Error, doing: str) -> None:
        """A database error in the middle of a run: warn once and go on without the cache.

        The answers in hand are kept (the engine holds them and the report records them); only
        their storing is lost.
        """
        warn(self.path, f"{doing} failed ({exc}): no cache for the rest of this run")
        self.close()
        self._unusable = True

    def get_many(self, keys: Iterable[str], shared_only: bool = False) -> dict[str, Generation]:
        """Look up ``keys`` in as few queries as possible; misses are simply absent.

        ``shared_only`` asks only for entries written since this cache was opened: in
        ``refresh`` mode that is how xdist workers share what this run generated without
        serving anything older.
        """
        since = 0.0
        if not self.reads:
            if not (shared_only and self.writes):
                return {}
            since = self.opened_at
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        conn = self._connection()
        if conn is None:
            return {}
        found: dict[str, Generation] = {}
        try:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, value, created FROM responses WHERE created >= ? AND key IN ({marks})"
                for key, value, created in conn.execute(query, [since, *chunk]):
                    try:
                        generation = Generation.from_cache(json.loads(value))
                    except (ValueError, TypeError, KeyError):
                        continue  # an entry this version cannot read is a miss, not a crash
                    # "cached" means served from an earlier run; what another xdist worker
                    # generated during this run is not cached but reused: that worker paid for it.
                    generation.cached = created < self.opened_at
                    generation.reused = not generation.cached
                    found[key] = generation
        except sqlite3.DatabaseError as exc:
            self._give_up(exc, "reading")
            return {}
        return found

    def put_many(self, items: Mapping[str, Generation]) -> None:
        """Store generations in one transaction (a no-op unless the mode writes)."""
        if not self.writes or not items:
            return
        conn = self._connection()
        if conn is None or self._read_only:
            return
        now = time.time()
        rows = [(key, json.dumps(gen.to_cache()), now) for key, gen in items.items()]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:  # a full disk, a file damaged under the run
            self._give_up(exc, f"storing {len(rows)} entries")

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        conn = self._connection()
        return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]) if conn is not None else 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
