"""The benchmark contract: declarative metadata, the parts it reads, and one parser for its rows.

A benchmark reads *parts*: upstream files under ``--safety-data`` (or ``fixtures/`` for the sets
the project writes), or, when a part's file is absent and the suite names a hub source, the same
table through Hugging Face ``datasets``. Both sources yield ``(where, row)`` pairs that go
through the same parser, so validation, ids and categories do not depend on where the data came
from; ``where`` is ``file:line`` or ``hub:<id>[<config>/<split>] row <n>``, so every error names
the file and line at fault.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from deepsight_pytest.core.bundled import bundled_dir
from deepsight_pytest.core.conditions import Comparison, Condition
from deepsight_pytest.errors import DataError
from deepsight_pytest.records import Case
from deepsight_pytest.benchmarks.part import Part as Part  # re-exported: the parsers import it from here
from deepsight_pytest.benchmarks.readers import read_rows

Row = tuple[str, dict[str, Any]]
Parser = Callable[[Part, Iterable[Row]], list[Case]]

#: The metrics a benchmark can declare as its headline number (the gate itself is always a
#: safety ratio: attack success rate = 1 - ratio on harmful prompts, over-refusal rate = 1 - ratio
#: on benign prompts, multiple-choice accuracy = ratio of correct answers, honesty = ratio of honest
#: pressured answers, with the belief's accuracy beside it: MASK; deception rate = 1 - ratio of
#: DeceptionBench's outer answers; consistency = ratio of items whose open answer is safe and whose
#: multiple-choice answers pick the safe option in both orders: Fake-Alignment's CSS;
#: self-knowledge = ratio of answers that are right or admit not knowing: BeHonest).
METRICS = ("safety_ratio", "attack_success_rate", "over_refusal_rate", "mc_accuracy", "honesty", "deception_rate",
           "consistency", "self_knowledge")

#: Where the project's own sample sets live (package data in a wheel, ``fixtures/`` in a checkout).
FIXTURES_DIR = bundled_dir("fixtures")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's metadata and parser; one registry entry.

    ``hub`` is the Hugging Face dataset id read when a suite passes ``hub=True`` and a local file
    is missing; ``hub_parts`` lists its configs and splits when they differ from ``parts``;
    ``hub_rename`` maps hub column names to the upstream file's names before parsing.
    """

    name: str
    description: str
    version: str
    parts: tuple[Part, ...]
    parse: Parser
    columns: tuple[str, ...] = ()
    metric: str = "safety_ratio"
    default_threshold: float = 0.9
    default_judge: str | None = None
    subsets: tuple[str, ...] = ()
    default_subsets: tuple[str, ...] = ()
    bundled: bool = False
    hub: str | None = None
    hub_parts: tuple[Part, ...] = ()
    hub_rename: tuple[tuple[str, str], ...] = ()
    source: str = ""
    #: the conditions every item is asked under (given the run's seed, so drawn parts such as a
    #: prior conversation are deterministic), and the gap gates between them (``a``, ``b``)
    conditions: Callable[[int], tuple[Condition, ...]] | None = None
    gaps: tuple[tuple[str, str], ...] = ()
    #: a two-call evaluation: one condition's verdicts decided against another's (MASK honesty)
    compare: Comparison | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"{self.name}: metric {self.metric!r} is not one of {METRICS}")
        if not set(self.default_subsets) <= set(self.subsets):
            raise ValueError(f"{self.name}: default subsets {self.default_subsets} not in {self.subsets}")

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(part.file for part in self.parts)

    def root(self, data_dir: Path) -> Path:
        return FIXTURES_DIR if self.bundled else data_dir

    def load(self, data_dir: Path, subsets: tuple[str, ...] = (),
             hub: str | bool | None = None) -> list[Case]:
        """Every case of the chosen subsets, validated: files (or hub tables) present, columns
        present, ids unique, nothing empty."""
        chosen = subsets or self.default_subsets
        unknown = [s for s in chosen if s not in self.subsets]
        if unknown:
            known = ", ".join(self.subsets) or "none (this benchmark has no subsets)"
            raise DataError(f"{self.name}: unknown subset {unknown[0]!r}; known: {known}")
        cases = [case for part, rows in self._sources(data_dir, chosen, hub)
                 for case in self.parse(part, rows)]
        if chosen:
            cases = [case for case in cases if case.meta.get("subset") in chosen]
        if not cases:
            raise DataError(f"{self.name}: no cases left for subsets {list(chosen) or 'all'} "
                            f"(read {', '.join(p.file for p in self._chosen(self.parts, chosen))})")
        _check_unique(self.name, cases)
        return cases

    # -- where rows come from ------------------------------------------------------------------
    @staticmethod
    def _chosen(parts: tuple[Part, ...], chosen: tuple[str, ...]) -> list[Part]:
        return [p for p in parts if p.subset is None or not chosen or p.subset in chosen]

    def _sources(self, data_dir: Path, chosen: tuple[str, ...],
                 hub: str | bool | None) -> list[tuple[Part, Iterable[Row]]]:
        """Local files first; the hub for what is missing (all of it when the hub's tables are
        laid out differently from the files)."""
        root = self.root(data_dir)
        local = self._chosen(self.parts, chosen)
        missing = [p for p in local if not (root / p.file).is_file()]
        if missing and not hub:
            raise DataError(self._missing_message(root, missing))
        if missing and self.hub_parts:
            return self._hub_sources(hub, self._chosen(self.hub_parts, chosen))
        sources: list[tuple[Part, Iterable[Row]]] = [
            (replace(p, file=str(root / p.file)), read_rows(root / p.file, self.columns))
            for p in local if p not in missing]
        return sources + self._hub_sources(hub, missing) if missing else sources

    def _hub_sources(self, hub: str | bool | None,
                     parts: list[Part]) -> list[tuple[Part, Iterable[Row]]]:
        from deepsight_pytest.benchmarks.hub import hub_rows  # datasets is imported only here, and only when used

        ref = hub if isinstance(hub, str) else self.hub
        if ref is None:
            raise DataError(f"{self.name}: no hub dataset is known for this benchmark; "
                            "pass hub='<dataset id or saved folder>'")
        return [(part, hub_rows(ref, part, self.columns, dict(self.hub_rename))) for part in parts]

    def _missing_message(self, root: Path, missing: list[Part]) -> str:
        where = "the bundled fixtures" if self.bundled else "--safety-data"
        hint = f"; or pass hub=True to read {self.hub} through datasets" if self.hub else ""
        files = ", ".join(str(root / p.file) for p in missing)
        return f"{self.name}: benchmark file not found: {files} (looked in {where} = {root}){hint}"


def _check_unique(name: str, cases: list[Case]) -> None:
    seen: set[str] = set()
    for case in cases:
        if case.uid in seen:
            raise DataError(f"{name}: duplicate case id {case.uid!r}")
        seen.add(case.uid)
