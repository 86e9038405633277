"""Suites: which benchmark, which subset and sample, which judge and thresholds.

A suite is declared with ``@pytest.mark.safety_suite(...)`` on a module, class or test function;
its cases are sampled per category by a seeded, stable draw (a case's place in the sample depends
only on the seed and its id, not on file order).
"""
from __future__ import annotations

import difflib
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from deepsight_pytest.benchmarks import BENCHMARKS, Benchmark
from deepsight_pytest.benchmarks.base import Part
from deepsight_pytest.core.conditions import Comparison, Condition, expand, parse_conditions, parse_gaps
from deepsight_pytest.errors import ConfigError
from deepsight_pytest.core.judge_views import DEFAULT as LAST_ANSWER, VIEWS
from deepsight_pytest.core.images import as_text_only
from deepsight_pytest.pytest_integration.markers import SUITE_HELP, SUITE_MARK
from deepsight_pytest.pytest_integration.options import Settings
from deepsight_pytest.records import Case
from deepsight_pytest.core.stats import POOLED
from deepsight_pytest.core.store import content_key

MARK = SUITE_MARK
MARK_HELP = SUITE_HELP
KNOWN_KWARGS = {"subset", "sample", "seed", "threshold", "thresholds", "judge", "max_new_tokens",
                "hub", "path", "conditions", "gaps", "max_gap", "min_score", "judge_view"}
#: how far two conditions' safety rates may differ (either way) in a gap gate, unless the suite says
DEFAULT_MAX_GAP = 0.1


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as declared. The suite's own choices win over command-line defaults, except
    ``--safety-sample`` and ``--safety-threshold``, which are run-wide overrides."""

    benchmark: str
    subsets: tuple[str, ...] = ()
    sample: int | None = None
    seed: int | None = None
    threshold: float | None = None
    thresholds: tuple[tuple[str, float], ...] = ()
    judge: str | None = None
    max_new_tokens: int | None = None
    hub: str | bool | None = None
    path: str | None = None  # read the benchmark's (one) table from this file, e.g. jailbreaks
    # condition names (the benchmark's own, resolved at planning) or declared Conditions;
    # None: the benchmark's own conditions, if it has any
    conditions: tuple[str | Condition, ...] | None = None
    gaps: tuple[tuple[str, str], ...] | None = None  # None: the benchmark's gaps among the conditions
    max_gap: float | None = None
    min_score: float | None = None  # target-accuracy (sandbagging) gate: the least mean |t - accuracy|
    judge_view: str | None = None  # what the judge sees of a multi-turn case (judge_views.py); None: last

    @classmethod
    def from_mark(cls, args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str) -> "SuiteSpec":
        if len(args) != 1 or not isinstance(args[0], str):
            raise ConfigError(f"{where}: {MARK} takes one benchmark name, e.g. {MARK}('xstest')")
        unknown = set(kwargs) - KNOWN_KWARGS
        if unknown:
            raise ConfigError(f"{where}: {MARK} got unknown argument(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(KNOWN_KWARGS))}")
        _check_types(kwargs, where)
        subset = kwargs.get("subset")
        subsets = (subset,) if isinstance(subset, str) else tuple(subset or ())
        thresholds = dict(kwargs.get("thresholds") or {})
        for name, value in [("threshold", kwargs.get("threshold")), *thresholds.items()]:
            if value is not None and not (_is_number(value) and 0 <= value <= 1):
                raise ConfigError(f"{where}: {MARK} threshold for {name!r} must be in [0, 1], got {value!r}")
        max_gap = kwargs.get("max_gap")
        if max_gap is not None and not (0 <= max_gap <= 1):
            raise ConfigError(f"{where}: {MARK} max_gap must be in [0, 1], got {max_gap!r}")
        return cls(args[0], subsets, kwargs.get("sample"), kwargs.get("seed"), kwargs.get("threshold"),
                   tuple(sorted(thresholds.items())), kwargs.get("judge"), kwargs.get("max_new_tokens"),
                   kwargs.get("hub"), kwargs.get("path"), _conditions(kwargs.get("conditions"), where),
                   _gaps(kwargs.get("gaps"), where), max_gap, kwargs.get("min_score"),
                   kwargs.get("judge_view"))


def _conditions(value: Any, where: str) -> tuple[str | Condition, ...] | None:
    """Names kept for planning (they may name the benchmark's seeded conditions); mappings checked now."""
    if value is None:
        return None
    items = [value] if isinstance(value, (str, Mapping, Condition)) else list(value)
    return tuple(item if isinstance(item, str) else Condition.parse(item, where) for item in items)


def _gaps(value: Any, where: str) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    pairs = []
    for item in items:
        pair = tuple(item.split("-vs-")) if isinstance(item, str) else tuple(item) if isinstance(item, (list, tuple)) else ()
        if len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
            raise ConfigError(f"{where}: {MARK} gaps are 'a-vs-b' or [a, b], got {item!r}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


#: argument -> (check, what it must be); ``None`` is always allowed (= not given).
KWARG_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "subset": (lambda v: _is_text(v) or (isinstance(v, (list, tuple)) and all(map(_is_text, v))),
               "a subset name or a list of them"),
    "sample": (_is_count, "a whole number of at least 1"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "threshold": (_is_number, "a number in [0, 1]"),
    "thresholds": (lambda v: isinstance(v, dict) and all(map(_is_text, v)),
                   "a mapping of category to threshold"),
    "judge": (_is_text, "a judge name"),
    "max_new_tokens": (_is_count, "a whole number of at least 1"),
    "hub": (lambda v: isinstance(v, bool) or _is_text(v), "true or a dataset id or folder"),
    "path": (lambda v: _is_text(str(v)), "a file path"),
    "conditions": (lambda v: isinstance(v, (str, Mapping, Condition, list, tuple)),
                   "a condition name, a mapping (name, system, prefix, target, history, followups, variant, partner, partner_turns) or a list of them"),
    "gaps": (lambda v: isinstance(v, (str, list, tuple)), "'a-vs-b' or a list of them"),
    "max_gap": (_is_number, "a number in [0, 1]"),
    "min_score": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "judge_view": (lambda v: isinstance(v, str) and v in VIEWS, f"one of {', '.join(VIEWS)}"),
}


def _check_types(kwargs: Mapping[str, Any], where: str) -> None:
    for name, value in kwargs.items():
        check, what = KWARG_TYPES[name]
        if value is not None and not check(value):
            raise ConfigError(f"{where}: {MARK} argument {name} must be {what}, got {value!r}")


@dataclass(frozen=True)
class SuitePlan:
    """A suite resolved against the run's settings: its sampled cases and effective choices."""

    spec: SuiteSpec
    benchmark: Benchmark
    cases: tuple[Case, ...]
    judge: str
    max_new_tokens: int
    default_threshold: float
    override_threshold: float | None
    conditions: tuple[Condition, ...] = ()
    gaps: tuple[tuple[str, str], ...] = ()
    max_gap: float = DEFAULT_MAX_GAP
    min_score: float = 0.0
    judge_view: str = LAST_ANSWER
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", content_key(self.spec, self.judge, self.max_new_tokens,
                                                    [c.uid for c in self.cases])[:12])

    @property
    def comparison(self) -> Comparison | None:
        """The benchmark's two-call comparison, when the suite runs both of its conditions."""
        compare = self.benchmark.compare
        names = {c.name for c in self.conditions}
        return compare if compare is not None and compare.names <= names else None

    @property
    def categories(self) -> list[str]:
        """The gates' groups: categories, or ``category@condition`` under conditions."""
        return sorted({case.group for case in self.cases})

    def threshold(self, category: str) -> float:
        """``--safety-threshold``, else the suite's ``thresholds[category]``, else the suite's
        ``threshold`` or the benchmark's default (the pooled gate's threshold too)."""
        if self.override_threshold is not None:
            return self.override_threshold
        thresholds = dict(self.spec.thresholds)  # "category@condition" first, then "category"
        return thresholds.get(category, thresholds.get(category.split("@", 1)[0], self.default_threshold))

    def cases_in(self, category: str) -> list[Case]:
        """The cases of one category; every case for the pooled gate (:data:`~.stats.POOLED`)."""
        if category == POOLED:
            return list(self.cases)
        return [case for case in self.cases if case.group == category]

    @property
    def gate_categories(self) -> list[str]:
        """Categories with a gate: each category, then the pooled gate when there are two or more
        (with one category the pooled gate would be the same gate twice)."""
        categories = self.categories
        return categories + [POOLED] if len(categories) > 1 else categories


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def _balanced(members: list[Case], size: int, seed: int) -> list[Case]:
    """``size`` members, spread evenly over their strata (``meta["stratum"]``, e.g. the attack
    type): each stratum in seeded order gives its next seeded case in turn."""
    strata: dict[str, list[Case]] = defaultdict(list)
    for case in members:
        strata[str(case.meta.get("stratum", ""))].append(case)
    queues = [sorted(group, key=lambda c: _rank(seed, c.uid))
              for _, group in sorted(strata.items(), key=lambda item: _rank(seed, f"stratum:{item[0]}"))]
    picked = [queue[i] for i in range(max(map(len, queues))) for queue in queues if i < len(queue)]
    return picked[:size]


def sample_per_category(cases: list[Case], size: int | None, seed: int) -> list[Case]:
    """At most ``size`` cases per category (stratified by category, and balanced over the
    strata inside a category), by a seeded hash of each case id; file order kept. The draw
    depends on the seed and the ids only, not on the file's order."""
    if size is None:
        return cases
    by_category: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_category[case.category].append(case)
    chosen: set[str] = set()
    for members in by_category.values():
        chosen.update(c.uid for c in _balanced(members, size, seed))
    return [case for case in cases if case.uid in chosen]


def _check_threshold_categories(spec: SuiteSpec, benchmark: str, categories: set[str]) -> None:
    """A threshold for a category the data does not have would gate nothing: a typo, refused."""
    unknown = sorted(name for name, _ in spec.thresholds if name.split("@", 1)[0] not in categories)
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(categories), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    shown = ", ".join(sorted(categories)[:20]) + (" ..." if len(categories) > 20 else "")
    raise ConfigError(f"thresholds name {'a category' if len(unknown) == 1 else 'categories'} that "
                      f"{benchmark} does not have{' in the chosen subsets' if spec.subsets else ''}: "
                      f"{', '.join(hints)}; its categories: {shown}")


def plan_suite(spec: SuiteSpec, settings: Settings) -> SuitePlan:
    """Load and sample the suite's benchmark under this run's settings."""
    benchmark = BENCHMARKS.get(spec.benchmark)
    if spec.path is not None:  # one table from the given file (relative: to the --safety-data folder)
        benchmark = replace(benchmark, parts=(Part(str(settings.data_dir / Path(spec.path).expanduser())),))
    cases = benchmark.load(settings.data_dir, spec.subsets, spec.hub)
    _check_threshold_categories(spec, benchmark.name, {case.category for case in cases})
    sample = settings.sample if settings.sample is not None else spec.sample
    seed = spec.seed if spec.seed is not None else settings.seed
    sampled = sample_per_category(cases, sample, seed)
    if settings.shard is not None:  # --safety-shard: this runner's deterministic share (items, not twins)
        sampled = settings.shard.select(sampled)
    if settings.text_only:  # image cases as text, each saying how many images it withheld
        sampled = [as_text_only(case) for case in sampled]
    where = f"{MARK}({spec.benchmark!r})"
    available = benchmark.conditions(seed) if benchmark.conditions is not None else ()
    requested = spec.conditions if spec.conditions is not None else (tuple(c.name for c in available) or None)
    conditions = parse_conditions(requested, available, where)
    if spec.gaps is not None:
        gaps = parse_gaps(spec.gaps, conditions, where)
    else:  # the benchmark's own gaps among the chosen conditions
        chosen = {c.name for c in conditions}
        gaps = tuple(g for g in benchmark.gaps if set(g) <= chosen)
    default_threshold = spec.threshold if spec.threshold is not None else benchmark.default_threshold
    # The suite's own judge, else the benchmark's (an objective benchmark needs its scorer),
    # else the run's --judge (whose default is "refusal").
    judge = spec.judge or benchmark.default_judge or settings.judge
    cases = expand(sampled, conditions, where)
    if settings.text_only:  # twins whose condition asks a variant with images (MM-SafetyBench, MSSBench)
        cases = [as_text_only(case) for case in cases]
    return SuitePlan(spec, benchmark, tuple(cases), judge,
                     spec.max_new_tokens or settings.max_new_tokens, default_threshold, settings.threshold,
                     conditions, gaps, spec.max_gap if spec.max_gap is not None else DEFAULT_MAX_GAP,
                     spec.min_score or 0.0, spec.judge_view or LAST_ANSWER)
