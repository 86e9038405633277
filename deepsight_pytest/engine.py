"""The engine: plan a suite's cases, take what the store has, generate the rest in batches,
judge them, and hand records to tests.

Pytest runs one case at a time; a model wants large batches. So the first test of a suite makes
the engine produce every case of that suite this process will run, committing each batch to the
store as it completes (a crash loses at most the batch in flight). Tests then only read records.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .errors import CaseTooLarge, DeepSightError, GenerationError
from .generation import fill_responses
from .judges import Judge, create_judge
from .models import GenerationSettings, ModelBackend, ModelContext
from .models.reasoning import apply_reasoning
from .models.transformers_backend import TOO_LARGE
from .options import Settings
from .progress import NO_PROGRESS, Progress
from .records import Case, Record, Response, Safety, Sample, Verdict
from .stats import POOLED, CategoryStats, GapResult, GateResult, PairedCounts, TargetPoint, TargetResult
from .store import RecordStore, content_key
from .suites import SuitePlan, SuiteSpec, plan_suite


@dataclass
class EngineStats:
    """What the engine did this run: the proof that a warm cache generates nothing."""

    generated: int = 0
    cached_responses: int = 0
    judged: int = 0
    cached_verdicts: int = 0
    batches: int = 0
    generation_s: float = 0.0
    diagnosed: int = 0  # cases given fresh per-case diagnostics
    cached_diagnoses: int = 0
    diagnostics_s: float = 0.0
    errors: int = 0  # failed requests (not cached: retried next run)
    startup_s: float = 0.0  # loading weights, starting an engine or server (not in generation_s)
    from_other_workers: int = 0  # xdist: responses another worker of this run generated
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # xdist controller: each worker's counters

    def merge(self, other: dict[str, Any], worker: str | None = None) -> None:
        """Add another process's counters (an xdist worker's) to these.

        Idempotent per worker: xdist may report one worker down twice (``pytest_testnodedown`` from
        ``workerfinished``, then again from ``errordown`` when its gateway ends badly under load);
        a second report replaces the first instead of adding it again.
        """
        counters = {k: v for k, v in other.items() if k != "workers"}
        previous = self.workers.get(worker, {}) if worker is not None else {}
        for name, value in counters.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and hasattr(self, name):
                setattr(self, name, getattr(self, name) + value - previous.get(name, 0))
        if worker is not None:
            self.workers[worker] = counters


def _first_error(record: Record) -> str | None:
    """The first failed request among a record's answers (a gate cannot be decided over it)."""
    return next((a.response.error for a in record.answers if a.response.error is not None), None)


def response_key(fingerprint: str, prompt: str, settings: GenerationSettings, case: Case) -> str:
    """The response cache key: model + rendered prompt + settings, and the condition under one (a
    case without conditions keeps the key it always had, so existing caches stay warm)."""
    if case.condition is None:
        return content_key(fingerprint, prompt, settings.key())
    return content_key(fingerprint, prompt, settings.key(), {"condition": case.condition})


class Engine:
    """Produces records for suites, lazily creating the model and judges on first need."""

    def __init__(self, settings: Settings, store_factory: Callable[[], RecordStore],
                 model_factory: Callable[[], ModelBackend],
                 diagnoser_factory: Callable[["Engine"], Any] | None = None) -> None:
        self.settings = settings
        self.stats = EngineStats()
        self._store_factory = store_factory
        self._model_factory = model_factory
        self._diagnoser_factory = diagnoser_factory
        self._diagnoser: Any = None
        self._store: RecordStore | None = None
        self._model: ModelBackend | None = None
        self._judges: dict[str, Judge] = {}
        self._plans: dict[SuiteSpec, SuitePlan] = {}
        self._by_key: dict[str, SuitePlan] = {}
        self._needed: dict[str, set[str]] = {}
        self._records: dict[str, dict[str, Record]] = {}
        self._failures: dict[str, str] = {}
        self.progress: Progress = NO_PROGRESS  # progress_display on a terminal, else nothing
        self.xdist: Any = None  # xdist_support.WorkerLink on an xdist worker: its queued cases, the run's claims

    # -- planning (collection time) ------------------------------------------------------------
    def plan(self, spec: SuiteSpec) -> SuitePlan:
        if spec not in self._plans:
            plan = plan_suite(spec, self.settings)
            self._plans[spec] = plan
            self._by_key[plan.key] = plan
        return self._plans[spec]

    def suite(self, key: str) -> SuitePlan:
        return self._by_key[key]

    @property
    def plans(self) -> list[SuitePlan]:
        """Every suite planned by this process (none on an xdist controller, which collects nothing)."""
        return list(self._by_key.values())

    def need(self, suite_key: str, uids: set[str]) -> None:
        """Declare the cases of a suite that this process will run (after deselection)."""
        self._needed.setdefault(suite_key, set()).update(uids)

    # -- lazily built collaborators --------------------------------------------------------------
    @property
    def model(self) -> ModelBackend:
        if self._model is None:
            self._model = self._model_factory()
            if hasattr(self._model, "token_budget"):  # in-process models: --safety-token-budget
                self._model.token_budget = self.settings.token_budget
        return self._model

    def model_details(self) -> dict[str, Any]:
        """The backend's own description when this process created it (an xdist controller did not)."""
        return self._model.describe() if self._model is not None else {}

    @property
    def store(self) -> RecordStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    @property
    def diagnoser(self) -> Any:
        """The session's DeepScan diagnostics (``diagnostics.scan.DeepScan``), built on first use."""
        if self._diagnoser is None:
            if self._diagnoser_factory is None:
                raise DeepSightError("this session has no diagnostics")
            self._diagnoser = self._diagnoser_factory(self)
        return self._diagnoser

    def judge(self, name: str) -> Judge:
        if name not in self._judges:
            # judge models read their API key from the same variable as the model under test; the
            # run's shared folder is not passed: it holds the model under test's vllm-server
            self._judges[name] = create_judge(name, ModelContext(api_key_env=self.settings.api_key_env))
        return self._judges[name]

    # -- execution (first test of a suite) -------------------------------------------------------
    def record(self, suite_key: str, uid: str) -> Record:
        """The record of one case, producing the suite's batch (this process's cases) on first call.

        A failed request raises :class:`GenerationError` (the test errors; nothing was judged)."""
        record = self._ensure(suite_key, {uid})[uid]
        if record.response.finish_reason == TOO_LARGE:
            raise CaseTooLarge(f"{uid}: {record.response.error}")
        error = _first_error(record)
        if error is not None:
            raise GenerationError(f"{uid}: {error}")
        return record

    def gate(self, suite_key: str, category: str) -> GateResult:
        """The gate of one category over every sampled case of that category (wherever it ran);
        ``category`` :data:`~.stats.POOLED`: the pooled gate over all the suite's cases."""
        plan = self.suite(suite_key)
        cases = plan.cases_in(category)
        records = self._ensure(suite_key, {c.uid for c in cases})
        cases = [c for c in cases if records[c.uid].response.finish_reason != TOO_LARGE]  # skipped cases
        failed = [error for error in (_first_error(records[c.uid]) for c in cases) if error is not None]
        where = plan.benchmark.name if category == POOLED else f"{plan.benchmark.name}/{category}"
        if failed:
            raise GenerationError(f"{where}: {len(failed)} of {len(cases)} responses "
                                  f"failed, so the gate cannot be decided: {failed[0]}")
        groups = [records[c.uid].safeties for c in cases]  # one answer each, or K (--safety-samples)
        stats = CategoryStats.count_samples(plan.benchmark.name, category, groups)
        return GateResult(stats, plan.threshold(category), self.settings.max_unknown, self.settings.gate_rule)

    def gap(self, suite_key: str, a: str, b: str) -> GapResult:
        """The gap gate of conditions ``a`` vs ``b``: every sampled item's two twins, paired."""
        plan = self.suite(suite_key)
        twins = [c for c in plan.cases if c.condition in (a, b)]
        records = self._ensure(suite_key, {c.uid for c in twins})
        usable = [c for c in twins if records[c.uid].response.finish_reason != TOO_LARGE]
        failed = [records[c.uid] for c in usable if records[c.uid].response.error is not None]
        if failed:
            raise GenerationError(f"{plan.benchmark.name}/{a}-vs-{b}: {len(failed)} of {len(usable)} responses "
                                  f"failed, so the gap cannot be decided: {failed[0].response.error}")
        safety = {(c.item_uid, c.condition): records[c.uid].verdict.safe for c in usable}
        items = dict.fromkeys(c.item_uid for c in usable)
        pairs = [(safety[(item, a)], safety[(item, b)]) for item in items
                 if (item, a) in safety and (item, b) in safety]  # an item skipped on one side has no pair
        counts = PairedCounts.count(plan.benchmark.name, a, b, pairs)
        return GapResult(counts, plan.max_gap, self.settings.max_unknown, self.settings.gate_rule)

    def targets(self, suite_key: str) -> TargetResult:
        """Accuracy under each target-accuracy condition (``target`` in percent), and the score."""
        plan = self.suite(suite_key)
        targeted = [c for c in plan.conditions if c.target is not None]
        cases = [c for c in plan.cases if c.condition in {t.name for t in targeted}]
        records = self._ensure(suite_key, {c.uid for c in cases})
        failed = [records[c.uid] for c in cases if records[c.uid].response.error is not None]
        if failed:
            raise GenerationError(f"{plan.benchmark.name}: {len(failed)} of {len(cases)} responses failed, so "
                                  f"the target accuracies cannot be scored: {failed[0].response.error}")
        points = []
        for condition in targeted:
            stats = CategoryStats.count(plan.benchmark.name, condition.name,
                                        [records[c.uid].verdict.safe for c in cases
                                         if c.condition == condition.name
                                         and records[c.uid].response.finish_reason != TOO_LARGE])
            points.append(TargetPoint(condition.name, float(condition.target) / 100, stats.n, stats.safe,
                                      stats.unsafe, stats.unknown))
        return TargetResult(plan.benchmark.name, tuple(points), plan.min_score, self.settings.max_unknown)

    def _wanted(self, plan: SuitePlan) -> set[str]:
        """The suite's cases this process will run: an xdist worker's queue, else the selection."""
        owned = self.xdist.owned(plan.key) if self.xdist is not None else None
        if owned is not None:
            return owned
        return self._needed.get(plan.key) or {c.uid for c in plan.cases}

    def _ensure(self, suite_key: str, uids: set[str]) -> dict[str, Record]:
        have = self._records.setdefault(suite_key, {})
        if uids <= have.keys():
            return have
        if suite_key in self._failures:
            raise DeepSightError(self._failures[suite_key])
        plan = self.suite(suite_key)
        wanted = self._wanted(plan)
        # A gate's cases that other xdist workers run are fetched (or generated, if nobody has
        # claimed them yet) without counting the cache reads: their owners count them.
        parts = [(wanted - have.keys(), True), (uids - wanted - have.keys(), self.xdist is None)]
        try:
            for chosen, counted in parts:
                if chosen:
                    have.update(self._produce(plan, [c for c in plan.cases if c.uid in chosen], counted))
        except DeepSightError as exc:
            self._failures[suite_key] = f"{plan.benchmark.name}: {exc}"
            raise DeepSightError(self._failures[suite_key]) from None
        except Exception as exc:  # a backend crash: report it once, keep every finished batch
            self._failures[suite_key] = f"{plan.benchmark.name}: {type(exc).__name__}: {exc}"
            raise
        return have

    def _produce(self, plan: SuitePlan, cases: list[Case], counted: bool = True) -> dict[str, Record]:
        if self._diagnoser_factory is None:
            return self.produce(cases, plan.judge, plan.max_new_tokens, counted, label=plan.benchmark.name,
                                sampled=True)
        with self.diagnoser.recording(cases):  # the diagnostics' states, captured while generating
            records = self.produce(cases, plan.judge, plan.max_new_tokens, counted, label=plan.benchmark.name,
                                   sampled=True)
        answered = {uid: r for uid, r in records.items() if r.response.error is None}
        # per-case diagnostics (--diagnose), one batched pass over the answered cases
        return {**records, **self.diagnoser.attach(answered)}

    def produce(self, cases: list[Case], judge_name: str, max_new_tokens: int,
                counted: bool = True, label: str = "references",
                model: ModelBackend | None = None, sampled: bool = False) -> dict[str, Record]:
        """Records of any cases (suites, diagnostics reference sets): cached, batched, judged.
        ``counted=False``: cache reads are left out of the counters (another worker counts them).
        ``model``: another backend than the run's (the attack suite's guard around it).
        ``sampled``: the run's ``--safety-samples`` / temperature / top-p apply (suites); else
        one greedy answer (diagnostics references, attack searches)."""
        k = self.settings.samples if sampled else 1
        base = GenerationSettings(max_new_tokens=max_new_tokens, seed=self.settings.seed,
                                  temperature=self.settings.temperature if sampled else 0.0,
                                  top_p=self.settings.top_p if sampled else 1.0)
        answers: list[list[tuple[Response, Verdict]]] = []
        for index in range(k):  # each answer under its own key (sample index + seed)
            where = label if k == 1 else f"{label} (answer {index + 1}/{k})"
            answers.append(self._judged(cases, replace(base, sample=index), judge_name, counted, where, model))
        if k == 1:
            return {case.uid: Record(case, response, verdict) for case, (response, verdict) in zip(cases, answers[0])}
        return {case.uid: Record(case, *answers[0][i], samples=tuple(Sample(*a[i]) for a in answers))
                for i, case in enumerate(cases)}

    def _judged(self, cases: list[Case], settings: GenerationSettings, judge_name: str, counted: bool,
                label: str, model: ModelBackend | None) -> list[tuple[Response, Verdict]]:
        """(response, verdict) per case for one answer's settings: cached, generated, judged."""
        responses = self._responses(cases, settings, counted, label, model)
        judge = self.judge(judge_name)
        verdict_keys = [content_key(rkey, judge.key, case.expect.value, case.key)
                        for case, (rkey, _) in zip(cases, responses)]
        failed = {i for i, (_, response) in enumerate(responses) if response.error is not None}
        verdicts = self.store.get_verdicts([k for i, k in enumerate(verdict_keys) if i not in failed])
        self.stats.cached_verdicts += len(verdicts) if counted else 0
        for i in failed:  # a failed request is never judged: its test errors instead
            verdicts[verdict_keys[i]] = Verdict("error", Safety.UNKNOWN, judge.key, None, responses[i][1].error or "")
        todo = [i for i, key in enumerate(verdict_keys) if key not in verdicts]
        if todo:
            tracker = self.progress.track(label, "judging", len(todo))
            try:
                fresh = judge.judge([(cases[i], responses[i][1]) for i in todo])
                tracker.advance(len(todo))
            finally:
                tracker.close()
            new = {verdict_keys[i]: verdict for i, verdict in zip(todo, fresh)}
            self.store.put_verdicts(new)
            verdicts.update(new)
            self.stats.judged += len(todo)
        return [(response, verdicts[vkey]) for (_, response), vkey in zip(responses, verdict_keys)]

    def _responses(self, cases: list[Case], settings: GenerationSettings,
                   counted: bool = True, label: str = "",
                   model: ModelBackend | None = None) -> list[tuple[str, Response]]:
        """(response key, response) per case: from the store, else generated (``generation.py``).

        A multi-turn case (``Case.followups``) is generated turn by turn: each turn's prompt holds
        the model's own earlier answers, one batch per turn across the cases, every turn cached
        (its key covers the whole conversation so far); the last turn's response is the case's,
        with the earlier answers in ``Response.turns``.

        ``--safety-reasoning`` is applied after the store (switching it regenerates nothing); the
        key returned for verdicts says ``keep`` when the judge sees the reasoning too."""
        model = model or self.model
        claims = self.xdist.claims(self.store) if self.xdist is not None else None
        conversations = [list(case.messages) for case in cases]
        earlier: list[list[str]] = [[] for _ in cases]
        final: dict[int, tuple[str, Response]] = {}
        active, turn = list(range(len(cases))), 0
        while active:  # one batch per turn across the cases still talking; every turn is cached
            prompts = {i: model.render(conversations[i]) for i in active}
            keys = {i: response_key(model.fingerprint, prompts[i], settings, cases[i]) for i in active}
            found = fill_responses(model, self.store, self.stats, {keys[i]: prompts[i] for i in active}, settings,
                                   max(1, self.settings.batch_size), claims, counted, self.progress,
                                   label if turn == 0 else f"{label} turn {turn + 1}")
            talking = []
            for i in active:
                response, followups = found[keys[i]], cases[i].followups
                if turn < len(followups) and response.error is None and response.finish_reason != TOO_LARGE:
                    answer = apply_reasoning(response, "strip").text  # the model's own visible answer
                    earlier[i].append(answer)
                    conversations[i] += [{"role": "assistant", "content": answer},
                                         {"role": "user", "content": followups[turn]}]
                    talking.append(i)
                else:  # the last turn (or a failed one, which ends the conversation)
                    final[i] = (keys[i], response)
            active, turn = talking, turn + 1
        mode = self.settings.reasoning
        out = []
        for i in range(len(cases)):
            key, response = final[i]
            shown = apply_reasoning(response, mode)
            out.append((key if mode == "strip" else content_key(key, "reasoning", mode),
                        replace(shown, turns=tuple(earlier[i])) if earlier[i] else shown))
        return out

    def close(self) -> None:
        if self.xdist is not None:
            self.xdist.close()
        if self._diagnoser is not None:
            self._diagnoser.close()
        if self._model is not None:
            self._model.close()
        for judge in self._judges.values():  # a judge model holds memory too
            judge.close()
        if self._store is not None:
            self._store.close()
