"""``--safety-shard=I/N``: this run takes a deterministic 1/N of every suite's cases.

A case belongs to shard ``sha256(uid) mod N``: the choice depends on the case id alone, not on
sampling order, file order or the other cases, so the N shards of one evaluation are disjoint and
together hold every sampled case. A shard's gates see only part of their category, so they are
recorded (threshold, max unknown, the shard's counts) and skipped; ``deepsight merge`` of the
shards' JSON results recomputes every gate over all cases and decides it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, uid: str) -> bool:
        digest = hashlib.sha256(f"deepsight-shard:{uid}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def select(self, cases: Iterable[T], uid_of=lambda case: case.uid) -> list[T]:  # type: ignore[no-untyped-def]
        return [case for case in cases if self.holds(uid_of(case))]


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N; a ValueError says what is wrong (options.py makes it a UsageError)."""
    index_text, slash, count_text = str(text).strip().partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ValueError("must be I/N, e.g. 2/4 (shard 2 of 4)") from None
    if not slash or count < 1 or not 1 <= index <= count:
        raise ValueError(f"must be I/N with 1 <= I <= N, e.g. 2/4; got shard {index} of {count}")
    return Shard(index, count)


def gate_skip_reason(shard: Shard) -> str:
    return (f"shard {shard}: partial gate over this shard's cases only; "
            "`deepsight merge` of every shard's --safety-json decides it")
