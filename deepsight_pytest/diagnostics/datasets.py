"""Labelled data sets for the DeepScan methods: benchmark cases answered by the model under test.

A :class:`DataSpec` names a source (a registered benchmark, optionally ``name:subset``, or the
project's own ``benign-chats``), optional categories and expectation, and which of the model's
own answers to keep by the run judge's verdict (``unsafe`` for "harmful prompt with a harmful
answer", ``safe`` for "benign prompt answered"). Answers come from the engine, so they are cached
in the record store and shared with suites that ask the same prompts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from deepsight_pytest.benchmarks import BENCHMARKS
from deepsight_pytest.benchmarks.base import FIXTURES_DIR
from deepsight_pytest.benchmarks.common import user_case
from deepsight_pytest.benchmarks.readers import jsonl_rows, require_text
from deepsight_pytest.errors import ConfigError
from deepsight_pytest.records import Case, Expect, Record, Safety
from deepsight_pytest.diagnostics.base import DiagnosticError

if TYPE_CHECKING:
    from deepsight_pytest.core.engine import Engine

BENIGN_CHATS = "benign-chats"
BENIGN_FILE = "benign_chats.jsonl"
KEEP = {"any": None, "safe": Safety.YES, "unsafe": Safety.NO}
MAX_TRIES = 4  # answers generated per kept row, at most, before giving up on a filtered class

PRIVACY = ("privacy_public", "privacy_fictional", "contrast_privacy")
DISCRIMINATION = ("nons_group_real_discr", "real_group_nons_discr", "contrast_discr")


@dataclass(frozen=True)
class DataSpec:
    """Which cases form one class of a method's data, and which answers to keep."""

    source: str
    keep: str = "any"
    categories: tuple[str, ...] = ()
    expect: str | None = None

    @classmethod
    def parse(cls, value: Any, where: str) -> "DataSpec":
        """A DataSpec, a source string (``"xstest:safe"``) or a dict of DataSpec fields."""
        if isinstance(value, DataSpec):
            spec = value
        elif isinstance(value, str):
            spec = cls(value)
        elif isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise ConfigError(f"{where}: unknown data set field(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(sorted(known))}")
            spec = cls(**{**value, "categories": tuple(value.get("categories") or ())})
        else:
            raise ConfigError(f"{where}: a data set is a source name, a dict or a DataSpec, got {value!r}")
        if spec.keep not in KEEP:
            raise ConfigError(f"{where}: keep must be one of {', '.join(KEEP)}, got {spec.keep!r}")
        if spec.expect is not None and spec.expect not in {e.value for e in Expect}:
            raise ConfigError(f"{where}: expect must be refuse, comply or key, got {spec.expect!r}")
        name = spec.source.partition(":")[0]
        if name != BENIGN_CHATS and name not in BENCHMARKS:
            raise ConfigError(f"{where}: {BENCHMARKS.unknown_message(name)}, {BENIGN_CHATS}")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "keep": self.keep, "categories": list(self.categories), "expect": self.expect}


#: Default classes of each method (see the module docs of each method for what they mean).
DEFAULT_SETS: dict[str, dict[str, DataSpec]] = {
    "xboundary": {"harmful": DataSpec("advbench", keep="unsafe"), "safe": DataSpec(BENIGN_CHATS),
                  "boundary": DataSpec("xstest:safe", keep="safe")},
    "tellme": {"unsafe": DataSpec("advbench", keep="unsafe"), "safe": DataSpec("xstest:safe", keep="safe")},
    "spin": {"first": DataSpec("xstest", keep="safe", categories=PRIVACY),
             "second": DataSpec("xstest", keep="safe", categories=DISCRIMINATION)},
    "mi_peaks": {"rows": DataSpec("advbench")},
}


def load_benign_chats(root: Path = FIXTURES_DIR) -> list[Case]:
    """The project's own ordinary benign prompts (``fixtures/benign_chats.jsonl``)."""
    path = root / BENIGN_FILE
    if not path.is_file():
        raise DiagnosticError(f"{BENIGN_CHATS}: bundled file missing: {path}")
    return [user_case(BENIGN_CHATS, require_text(path, line, row, "id"), require_text(path, line, row, "category"),
                      require_text(path, line, row, "prompt"), Expect.COMPLY)
            for line, row in jsonl_rows(path, ("id", "prompt", "category"))]


def load_cases(spec: DataSpec, data_dir: Path) -> list[Case]:
    """Every candidate case of ``spec`` (before sampling and answer filtering)."""
    name, _, subset = spec.source.partition(":")
    if name == BENIGN_CHATS:
        cases = load_benign_chats()
    else:
        cases = BENCHMARKS.get(name).load(data_dir, (subset,) if subset else ())
    if spec.categories:
        cases = [c for c in cases if c.category in spec.categories]
    if spec.expect is not None:
        cases = [c for c in cases if c.expect.value == spec.expect]
    if not cases:
        raise DiagnosticError(f"data set {spec.source}: no cases for categories {list(spec.categories) or 'all'}"
                              f"{'' if spec.expect is None else ', expect ' + spec.expect}")
    return cases


def ranked(cases: list[Case], seed: int) -> list[Case]:
    """A seeded, stable order (the same hash as suite sampling, so a suite's draw is reused)."""
    return sorted(cases, key=lambda c: hashlib.sha256(f"{seed}:{c.uid}".encode()).hexdigest())


def select(engine: "Engine", spec: DataSpec, n: int, seed: int, judge: str, max_new_tokens: int,
           data_dir: Path, label: str) -> list[Record]:
    """Up to ``n`` records of ``spec`` whose answers pass ``keep``, in seeded order.

    Answers are produced in chunks of the rows still missing, so a filter that keeps most answers
    costs little more than ``n`` generations; at most ``MAX_TRIES * n`` are tried.
    """
    order = ranked(load_cases(spec, data_dir), seed)
    wanted = KEEP[spec.keep]
    kept: list[Record] = []
    tried = 0
    while len(kept) < n and tried < len(order) and tried < MAX_TRIES * n:
        chunk = order[tried : tried + (n - len(kept))]
        tried += len(chunk)
        records = engine.produce(chunk, judge, max_new_tokens)
        kept += [records[c.uid] for c in chunk if wanted is None or records[c.uid].verdict.safe is wanted]
    if len(kept) < 2:
        raise DiagnosticError(f"class {label!r} ({spec.source}, keep={spec.keep}): only {len(kept)} of {tried} "
                              f"answers qualified; choose another source or keep='any'")
    return kept
