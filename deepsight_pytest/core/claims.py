"""Which xdist worker generates which response: claims in the record store's SQLite file.

Under ``-n N`` every worker generates the cases queued to it. A gate, or a case whose test moved
to another worker, may need responses that another worker is generating right now. Before
generating, a worker claims the keys nobody has claimed in this run; keys claimed by a live
worker are awaited (their responses land in the shared store), keys whose claimer died are taken
over. So each response is generated once per run, and a gate sees exactly the responses its
cases' tests saw.

No deadlock: a worker holds claims only while it generates them (generation never waits), and
waits only after its own claims are settled. A failed request settles its claim as ``error`` with
the message, so every worker that needs it reports the same error this run (none is cached; the
next run has a new run id and retries).
"""
from __future__ import annotations

import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    run TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL,
    error TEXT, at REAL NOT NULL, PRIMARY KEY (run, key));
"""
RUNNING, DONE, ERROR = "running", "done", "error"
STALE_S = 7 * 24 * 3600  # claims of old runs are pruned after a week


@dataclass(frozen=True)
class Claim:
    owner: str
    state: str
    error: str | None


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether the claiming process still runs (a process on another host is assumed alive)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


class Claims:
    """This run's claims on response keys, shared by the run's workers through one SQLite file."""

    def __init__(self, path: Path, run: str, owner: str | None = None) -> None:
        self.run = run
        self.owner = owner or this_owner()
        self._db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM claims WHERE at < ?", (time.time() - STALE_S,))

    def _rows(self, keys: list[str]) -> dict[str, Claim]:
        found: dict[str, Claim] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, owner, state, error FROM claims WHERE run = ? AND key IN ({marks})",
                                    [self.run, *chunk])
            found.update((key, Claim(owner, state, error)) for key, owner, state, error in rows)
        return found

    def claim(self, keys: Iterable[str]) -> tuple[list[str], list[str]]:
        """Claim every key that is free (or whose claimer died): ``(mine, theirs)``."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return [], []
        mine: list[str] = []
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            existing = self._rows(keys)
            now = time.time()
            for key in keys:
                claim = existing.get(key)
                free = claim is None or (claim.state == RUNNING and not owner_alive(claim.owner))
                if free or (claim is not None and claim.owner == self.owner and claim.state == RUNNING):
                    mine.append(key)
            self._db.executemany("INSERT OR REPLACE INTO claims (run, key, owner, state, error, at) "
                                 "VALUES (?, ?, ?, ?, NULL, ?)",
                                 [(self.run, key, self.owner, RUNNING, now) for key in mine])
        taken = set(mine)
        return mine, [key for key in keys if key not in taken]

    def settle(self, done: Iterable[str] = (), failed: Mapping[str, str] | None = None) -> None:
        """Mark keys generated (their responses are in the store) or failed (with the error)."""
        rows: list[tuple[str, str | None, str, str, str]] = [(DONE, None, self.run, key, self.owner) for key in done]
        rows += [(ERROR, error, self.run, key, self.owner) for key, error in (failed or {}).items()]
        if not rows:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE claims SET state = ?, error = ? WHERE run = ? AND key = ? AND owner = ?", rows)

    def release(self, keys: Iterable[str]) -> None:
        """Give up claims that were not settled (this process failed): another worker may take them."""
        keys = list(keys)
        if not keys:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM claims WHERE run = ? AND key = ? AND owner = ? AND state = ?",
                                 [(self.run, key, self.owner, RUNNING) for key in keys])

    def status(self, keys: Iterable[str]) -> dict[str, Claim]:
        """The current claims on ``keys`` (absent: nobody claimed it, or its claim was released)."""
        return self._rows(list(keys))

    def others(self, keys: Iterable[str]) -> set[str]:
        """Keys another worker of this run claimed: responses it generated, not an older run."""
        return {key for key, claim in self._rows(list(keys)).items() if claim.owner != self.owner}

    def close(self) -> None:
        self._db.close()
