"""The SQLite record store: responses and verdicts keyed by content hashes.

Response key: model fingerprint + rendered prompt + generation settings. Verdict key: response
key + judge id and version + what a safe answer is. Each batch is committed as it completes, so a
run killed half way resumes from the last finished batch. WAL mode lets xdist workers share it.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Mapping

from deepsight_pytest.records import Response, Verdict

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def content_key(*parts: Any) -> str:
    """A stable sha256 over JSON-encoded parts."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class RecordStore:
    """Cache of responses and verdicts; ``path=None`` keeps nothing (``--no-safety-cache``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def _get(self, table: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        if self._db is None:
            return {}
        found: dict[str, dict[str, Any]] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, value FROM {table} WHERE key IN ({marks})", chunk)
            found.update((key, json.loads(value)) for key, value in rows)
        return found

    def _put(self, table: str, items: Mapping[str, dict[str, Any]]) -> None:
        if self._db is None or not items:
            return
        rows = [(key, json.dumps(value, ensure_ascii=False)) for key, value in items.items()]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)", rows)

    def get_responses(self, keys: Iterable[str]) -> dict[str, Response]:
        return {k: Response.from_dict(v) for k, v in self._get("responses", keys).items()}

    def put_responses(self, items: Mapping[str, Response]) -> None:
        """Store finished responses; failed requests are never cached, so they retry next run."""
        keep = {k: v.__dict__ for k, v in items.items() if v.error is None}
        self._put("responses", keep)

    def get_verdicts(self, keys: Iterable[str]) -> dict[str, Verdict]:
        return {k: Verdict.from_dict(v) for k, v in self._get("verdicts", keys).items()}

    def put_verdicts(self, items: Mapping[str, Verdict]) -> None:
        self._put("verdicts", {k: {**v.__dict__, "safe": v.safe.value} for k, v in items.items()})

    def count(self, table: str) -> int:
        if self._db is None:
            return 0
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
