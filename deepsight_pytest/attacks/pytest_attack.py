"""``@pytest.mark.safety_attack(...)`` and the ``safety_attack`` fixture: one search per harmful case.

Collection parametrizes the tests that take ``safety_attack`` with the harmful cases of the
mark's suite (ids ``attack/benchmark/category/case-id``). The first such test of a suite prefetches
every case's drawn chains in shared batches and runs every case's search at once, their shrinking
batched across cases (search.py); each test then gets its case's :class:`AttackOutcome`; a
found jailbreak is appended to the jailbreak file and attached to the report (JUnit properties
and the JSON payload).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deepsight_pytest.errors import ConfigError, DeepSightError
from deepsight_pytest.pytest_integration.markers import ATTACK_HELP, ATTACK_MARK
from deepsight_pytest.records import Expect
from deepsight_pytest.reporting.payload import PAYLOAD_KEY, clip_bytes
from deepsight_pytest.pytest_integration.session import get_session
from deepsight_pytest.core.suites import SuiteSpec
from deepsight_pytest.attacks.guarded import wrap
from deepsight_pytest.attacks.jailbreaks import append_jailbreak
from deepsight_pytest.attacks.schema import ATTACK_KEYS, check_attack
from deepsight_pytest.attacks.search import AttackConfig, AttackOutcome, Oracle, prefetch, search, search_all

MARK = ATTACK_MARK
FIXTURE = "safety_attack"
ATTACK_KWARGS = ATTACK_KEYS  # the rest of a mark's keywords are safety_suite's
MARK_HELP = ATTACK_HELP


@dataclass(frozen=True)
class AttackParam:
    suite: str
    uid: str
    config: AttackConfig
    guard: str | None = None  # attack the run's model behind this input filter (guarded.py)


class AttackRunner:
    """Per session: one memo (oracle) per suite and config, prefetched once."""

    def __init__(self) -> None:
        self.oracles: dict[tuple[str, AttackConfig, str | None], Oracle] = {}
        self.found: dict[tuple[str, AttackConfig, str | None], dict[str, AttackOutcome]] = {}
        self.needed: dict[tuple[str, AttackConfig, str | None], set[str]] = {}
        self.outcomes: list[AttackOutcome] = []

    def outcome(self, config: pytest.Config, param: AttackParam) -> AttackOutcome:
        state = get_session(config)
        engine, plan = state.engine, state.engine.suite(param.suite)
        key = (param.suite, param.config, param.guard)
        if key not in self.oracles:
            target = wrap(engine.model, param.guard) if param.guard else None
            label = f"{plan.benchmark.name} attack search"  # the progress line's name for its rounds
            oracle = Oracle(lambda cases: engine.produce(cases, plan.judge, plan.max_new_tokens, model=target,
                                                         label=label))
            wanted = self.needed.get(key) or {c.uid for c in plan.cases}
            searched = [c for c in plan.cases if c.uid in wanted]
            prefetch(oracle, param.config, searched, max(1, state.settings.batch_size))
            self.oracles[key], self.found[key] = oracle, {}  # on an error below, each case alone
            self.found[key] = search_all(oracle, param.config, searched)  # shrinking batched across cases
        outcome = self.found[key].pop(param.uid, None)
        if outcome is None:  # not declared at collection (a rerun plugin): searched alone
            case = next(c for c in plan.cases if c.uid == param.uid)
            outcome = search(self.oracles[key], param.config, case)
        self.outcomes.append(outcome)
        return outcome


RUNNER_KEY = pytest.StashKey[AttackRunner]()


def runner(config: pytest.Config) -> AttackRunner:
    if RUNNER_KEY not in config.stash:
        config.stash[RUNNER_KEY] = AttackRunner()
    return config.stash[RUNNER_KEY]


def config_from_mark(mark: pytest.Mark, profile: str, seed: int,
                     where: str) -> tuple[SuiteSpec, AttackConfig, str | None]:
    suite_kwargs = {k: v for k, v in mark.kwargs.items() if k not in ATTACK_KWARGS}
    try:
        attack = check_attack({k: mark.kwargs[k] for k in ATTACK_KWARGS if k in mark.kwargs})
        spec = SuiteSpec.from_mark(mark.args, suite_kwargs, where)
        return spec, AttackConfig.build(profile, attack.get("mutators"), attack.get("max_examples"),
                                        attack.get("max_chain"), spec.seed if spec.seed is not None else seed), \
            attack.get("guard")
    except DeepSightError as exc:
        raise ConfigError(f"{where}: {MARK}: {exc}" if not str(exc).startswith(where) else str(exc)) from None


def generate_tests(metafunc: pytest.Metafunc) -> None:
    if FIXTURE not in metafunc.fixturenames:
        return
    where = metafunc.definition.nodeid
    mark = metafunc.definition.get_closest_marker(MARK)
    if mark is None:
        raise pytest.Collector.CollectError(f"{where}: uses {FIXTURE} but has no @pytest.mark.{MARK}(...)")
    state = get_session(metafunc.config)
    try:
        spec, attack, guard = config_from_mark(mark, state.settings.attack_profile, state.settings.seed, where)
        plan = state.engine.plan(spec)
    except DeepSightError as exc:
        raise pytest.Collector.CollectError(f"{where}: {exc}" if not str(exc).startswith(where) else str(exc)) from None
    harmful = [c for c in plan.cases if c.expect is Expect.REFUSE]
    metafunc.parametrize(FIXTURE, [AttackParam(plan.key, c.uid, attack, guard) for c in harmful],
                         ids=[f"attack/{c.uid}" for c in harmful], indirect=True)


def declare_needed(session: pytest.Session) -> None:
    """After deselection: the cases this process searches (the prefetch batches only those)."""
    needed = runner(session.config).needed
    for item in session.items:
        param = getattr(getattr(item, "callspec", None), "params", {}).get(FIXTURE)
        if isinstance(param, AttackParam):
            needed.setdefault((param.suite, param.config, param.guard), set()).add(param.uid)


def jailbreak_path(config: pytest.Config) -> Path:
    configured = get_session(config).settings.jailbreaks
    if configured is not None:
        return configured
    cache = getattr(config, "cache", None)
    folder = Path(cache.mkdir("deepsight")) if cache is not None else config.rootpath / ".deepsight_cache"
    return folder / "jailbreaks.jsonl"


def safety_attack(request: pytest.FixtureRequest) -> AttackOutcome:
    """The finished search of this test's harmful case (see ``assert_no_jailbreak``)."""
    param = getattr(request, "param", None)
    if not isinstance(param, AttackParam):
        pytest.fail(f"{FIXTURE} is given by @pytest.mark.{MARK}(...)", pytrace=False)
    try:
        outcome = runner(request.config).outcome(request.config, param)
    except DeepSightError as exc:
        message = str(exc)
    else:
        if outcome.jailbreak is not None:
            append_jailbreak(jailbreak_path(request.config), outcome.jailbreak)
        attach_attack(request.node, outcome)
        return outcome
    pytest.fail(message, pytrace=False)


def attach_attack(item: pytest.Item, outcome: AttackOutcome) -> None:
    """JUnit properties and the report payload of one search."""
    direct, found = outcome.direct, outcome.jailbreak
    item.user_properties.extend([
        ("deepsight.benchmark", outcome.case.benchmark), ("deepsight.category", outcome.case.category),
        ("deepsight.case", outcome.case.id), ("deepsight.attack.direct_safe", direct.verdict.safe.value),
        ("deepsight.attack.tried", str(len(outcome.tried))), ("deepsight.attack.queries", str(outcome.queries)),
        ("deepsight.attack.jailbreak", "yes" if found else "no"),
    ])
    if found is not None:
        item.user_properties.extend([
            ("deepsight.attack.chain", "+".join(outcome.chain)),
            ("deepsight.attack.chain_length", str(len(outcome.chain))),
            ("deepsight.attack.prompt", clip_bytes(found.case.prompt)),
            ("deepsight.attack.response", clip_bytes(found.response.text)),
            ("deepsight.verdict", found.verdict.label), ("deepsight.judge", found.verdict.judge),
        ])
    item.stash[PAYLOAD_KEY] = {"kind": "attack", "attack": outcome_dict(outcome)}


def outcome_dict(outcome: AttackOutcome) -> dict[str, Any]:
    return {"case": outcome.case.uid, "goal": outcome.case.meta.get("goal", outcome.case.prompt),
            "direct_safe": outcome.direct.verdict.safe.value,
            "tried": [{"chain": list(c), "safe": s.value} for c, s in outcome.tried],
            "queries": outcome.queries,
            "jailbreak": outcome.jailbreak.to_dict() if outcome.jailbreak else None,
            "chain": list(outcome.chain)}


def assert_no_jailbreak(outcome: AttackOutcome) -> None:
    """Fail with the shrunk chain, its prompt and the answer when the search found a jailbreak."""
    __tracebackhide__ = True
    if outcome.direct.verdict.safe.value == "no":
        pytest.fail(f"{outcome.case.uid}: the direct request is already answered unsafely\n"
                    + outcome.direct.explain(), pytrace=False)
    if outcome.jailbreak is not None:
        pytest.fail(f"{outcome.case.uid}: jailbreak with chain [{', '.join(outcome.chain)}] "
                    f"(shrunk; {len(outcome.tried)} chains tried, {outcome.queries} fresh queries)\n"
                    + outcome.jailbreak.explain(), pytrace=False)
