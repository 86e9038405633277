"""The engine: plan a suite's cases, take what the store has, generate the rest in batches,
judge them, and hand records to tests.

Pytest runs one case at a time; a model wants large batches. So the first test of a suite makes
the engine produce every case of that suite this process will run, committing each batch to the
store as it completes (a crash loses at most the batch in flight). Tests then only read records.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from deepsight_pytest.core.conditions import Comparison
from deepsight_pytest.errors import CaseTooLarge, DeepSightError, GenerationError
from deepsight_pytest.core.generation import fill_responses
from deepsight_pytest.core.judge_views import DEFAULT as LAST_ANSWER, combine, judge_items
from deepsight_pytest.judges import Judge, create_judge
from deepsight_pytest.judges.base import judged_view
from deepsight_pytest.models import GenerationSettings, ModelBackend, ModelContext
from deepsight_pytest.models.reasoning import apply_reasoning
from deepsight_pytest.models.transformers_backend import TOO_LARGE
from deepsight_pytest.pytest_integration.options import Settings
from deepsight_pytest.core.progress import NO_PROGRESS, Progress
from deepsight_pytest.core.images import prompt_images
from deepsight_pytest.records import Case, Record, Response, Safety, Sample, Verdict
from deepsight_pytest.core.sanitize import mask_spec
from deepsight_pytest.core.stats import (
    POOLED,
    CategoryStats,
    GapResult,
    GateResult,
    PairedCounts,
    TargetPoint,
    TargetResult,
)
from deepsight_pytest.core.store import RecordStore, content_key
from deepsight_pytest.core.suites import SuitePlan, SuiteSpec, plan_suite

if TYPE_CHECKING:
    from deepsight_pytest.core.claims import Claims


class XdistLink(Protocol):
    """The engine's seam to pytest-xdist (``xdist_support.WorkerLink`` on a worker): which cases
    this worker runs and the run's shared claims, so two workers never generate one response."""

    def owned(self, suite_key: str) -> set[str] | None: ...

    def claims(self, store: RecordStore) -> Claims | None: ...

    def close(self) -> None: ...


class Diagnoser(Protocol):
    """The engine's seam to per-case diagnostics (``diagnostics.scan.DeepScan``): answered records
    in, the same records with their readings attached out."""

    def attach(self, records: Mapping[str, Record]) -> dict[str, Record]: ...

    def recording(self, cases: Sequence[Case]) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


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


def compared(compare: Comparison, records: dict[str, Record]) -> dict[str, Record]:
    """Each target twin's verdict (each sampled answer's) decided against its reference twins'
    (the same sample index, else the first answer); a failed request on any side is left alone:
    its test errors."""
    references = {name: {r.case.item_uid: r for r in records.values() if r.case.condition == name}
                  for name in compare.references}
    out = dict(records)
    for uid, record in records.items():
        if record.case.condition != compare.target:
            continue
        found = {name: references[name].get(record.case.item_uid) for name in compare.references}
        if any(r is None for r in found.values()):
            continue
        others = {name: r for name, r in found.items() if r is not None}
        if _first_error(record) is not None or any(_first_error(r) is not None for r in others.values()):
            continue
        samples = tuple(replace(s, verdict=_decided(compare, s, i, others)) for i, s in enumerate(record.samples))
        out[uid] = replace(record, verdict=_decided(compare, Sample(record.response, record.verdict), 0, others),
                           samples=samples)
    return out


def _decided(compare: Comparison, answer: Sample, index: int, references: Mapping[str, Record]) -> Verdict:
    """One answer's verdict against the same-index answer of each reference twin."""
    return compare.verdict(answer, {name: r.answers[min(index, len(r.answers) - 1)] for name, r in references.items()})


def _first_error(record: Record) -> str | None:
    """The first failed request among a record's answers (a gate cannot be decided over it)."""
    return next((a.response.error for a in record.answers if a.response.error is not None), None)


def response_key(fingerprint: str, prompt: str, settings: GenerationSettings, case: Case) -> str:
    """The response cache key: model + rendered prompt + settings, and the condition under one (a
    case without conditions keeps the key it always had, so existing caches stay warm)."""
    images = [part.get("sha256") for part in prompt_images(prompt)]
    extra = [{"images": images}] if images else []  # what the images are, not where they lie
    if case.condition is None:
        return content_key(fingerprint, prompt, settings.key(), *extra)
    return content_key(fingerprint, prompt, settings.key(), {"condition": case.condition}, *extra)


def unseen_images(model: ModelBackend, case: Case) -> Response:
    """The error of an image case sent to a backend that cannot see images: never a silent drop."""
    count = len(case.images)
    return Response("", 0, "error", 0.0, model.fingerprint,
                    error=f"model {mask_spec(model.spec)} cannot see images: case {case.uid} has {count} "
                          f"image{'s' if count != 1 else ''}; use a backend that sees them (hf-vlm:, openai: "
                          "in chat mode) or run image cases as text with --safety-text-only")


class Engine:
    """Produces records for suites, lazily creating the model and judges on first need."""

    def __init__(self, settings: Settings, store_factory: Callable[[], RecordStore],
                 model_factory: Callable[[], ModelBackend],
                 diagnoser_factory: Callable[["Engine"], Diagnoser] | None = None,
                 partner_factory: Callable[[], ModelBackend] | None = None) -> None:
        self.settings = settings
        self._partner_factory = partner_factory
        self._partner: ModelBackend | None = None
        self.stats = EngineStats()
        self._store_factory = store_factory
        self._model_factory = model_factory
        self._diagnoser_factory = diagnoser_factory
        self._diagnoser: Diagnoser | None = None
        self._store: RecordStore | None = None
        self._model: ModelBackend | None = None
        self._judges: dict[str, Judge] = {}
        self._plans: dict[SuiteSpec, SuitePlan] = {}
        self._by_key: dict[str, SuitePlan] = {}
        self._needed: dict[str, set[str]] = {}
        self._records: dict[str, dict[str, Record]] = {}
        self._failures: dict[str, str] = {}
        self.progress: Progress = NO_PROGRESS  # progress_display on a terminal, else nothing
        self.xdist: XdistLink | None = None  # on an xdist worker: its queued cases, the run's claims

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

    @property
    def partner(self) -> ModelBackend:
        """The second model of partner dialogues (``--safety-partner-model``), built on first need;
        the same spec as ``--model`` shares the model under test's backend (one set of weights)."""
        if self._partner is None:
            if self._partner_factory is None:
                raise GenerationError("a condition with a partner needs --safety-partner-model (any model spec)")
            if self.settings.partner_model == self.settings.model:
                self._partner = self.model
            else:
                self._partner = self._partner_factory()
                if hasattr(self._partner, "token_budget"):
                    self._partner.token_budget = self.settings.token_budget
        return self._partner

    def model_details(self) -> dict[str, Any]:
        """The backend's own description when this process created it (an xdist controller did not)."""
        return self._model.describe() if self._model is not None else {}

    @property
    def store(self) -> RecordStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    @property
    def diagnoser(self) -> Diagnoser:
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
            points.append(TargetPoint(condition.name, float(str(condition.target)) / 100, stats.n, stats.safe,
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
        compare = plan.comparison
        if compare is not None:  # a target twin is decided against its reference twin: produce both
            asked = {c.uid for c in cases}
            items = {c.item_uid for c in cases if c.condition == compare.target}
            cases = cases + [c for c in plan.cases if c.condition in compare.references and c.item_uid in items
                             and c.uid not in asked]

        def produce() -> dict[str, Record]:
            return self.produce(cases, plan.judge, plan.max_new_tokens, counted, label=plan.benchmark.name,
                                sampled=True, judge_view=plan.judge_view)

        if self._diagnoser_factory is None:
            records = produce()
        else:
            with self.diagnoser.recording(cases):  # the diagnostics' states, captured while generating
                records = produce()
        if compare is not None:
            records = compared(compare, records)
        if self._diagnoser_factory is None:
            return records
        answered = {uid: r for uid, r in records.items() if r.response.error is None}
        # per-case diagnostics (--diagnose), one batched pass over the answered cases
        return {**records, **self.diagnoser.attach(answered)}

    def produce(self, cases: list[Case], judge_name: str, max_new_tokens: int,
                counted: bool = True, label: str = "references",
                model: ModelBackend | None = None, sampled: bool = False,
                judge_view: str = LAST_ANSWER) -> dict[str, Record]:
        """Records of any cases (suites, diagnostics reference sets): cached, batched, judged.
        ``counted=False``: cache reads are left out of the counters (another worker counts them).
        ``model``: another backend than the run's (the attack suite's guard around it).
        ``sampled``: the run's ``--safety-samples`` / temperature / top-p apply (suites); else
        one greedy answer (diagnostics references, attack searches).
        ``judge_view``: what the judge sees of a multi-turn case (``judge_views.py``)."""
        k = self.settings.samples if sampled else 1
        base = GenerationSettings(max_new_tokens=max_new_tokens, seed=self.settings.seed,
                                  temperature=self.settings.temperature if sampled else 0.0,
                                  top_p=self.settings.top_p if sampled else 1.0)
        answers: list[list[tuple[Response, Verdict]]] = []
        for index in range(k):  # each answer under its own key (sample index + seed)
            where = label if k == 1 else f"{label} (answer {index + 1}/{k})"
            answers.append(self._judged(cases, replace(base, sample=index), judge_name, counted, where, model,
                                        judge_view))
        if k == 1:
            return {case.uid: Record(case, response, verdict) for case, (response, verdict) in zip(cases, answers[0])}
        return {case.uid: Record(case, *answers[0][i], samples=tuple(Sample(*a[i]) for a in answers))
                for i, case in enumerate(cases)}

    def _judged(self, cases: list[Case], settings: GenerationSettings, judge_name: str, counted: bool,
                label: str, model: ModelBackend | None,
                judge_view: str = LAST_ANSWER) -> list[tuple[Response, Verdict]]:
        """(response, verdict) per case for one answer's settings: cached, generated, judged.

        A multi-turn case under a ``judge_view`` other than ``last`` is judged as that view says
        (every answer, or the whole dialogue) and its verdict key names the view."""
        responses = self._responses(cases, settings, counted, label, model)
        judge = self.judge(judge_name)
        # the judge reads the dialogue as it happened: a partner's user turns are the case's followups
        judged = [replace(case, followups=response.user_turns) if response.user_turns else case
                  for case, (_, response) in zip(cases, responses)]
        views = [() if judge_view == LAST_ANSWER or not response.turns else ("view", judge_view)
                 for _, response in responses]
        verdict_keys = [content_key(rkey, judge.key, case.expect.value, case.key, *view)
                        for case, (rkey, _), view in zip(cases, responses, views)]
        failed = {i for i, (_, response) in enumerate(responses) if response.error is not None}
        verdicts = self.store.get_verdicts([k for i, k in enumerate(verdict_keys) if i not in failed])
        self.stats.cached_verdicts += len(verdicts) if counted else 0
        for i in failed:  # a failed request is never judged: its test errors instead
            verdicts[verdict_keys[i]] = Verdict("error", Safety.UNKNOWN, judge.key, None, responses[i][1].error or "")
        todo = [i for i, key in enumerate(verdict_keys) if key not in verdicts]
        if todo:
            tracker = self.progress.track(label, "judging", len(todo))
            try:
                items = [judge_items(judge_view, judged[i], responses[i][1]) for i in todo]
                # one batch for every turn; image cases as text unless the judge sees images
                flat = judge.judge(judged_view(judge, [item for group in items for item in group]))
                fresh, start = [], 0
                for group in items:
                    fresh.append(combine(judge_view, flat[start:start + len(group)]))
                    start += len(group)
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
        written: list[list[str]] = [[] for _ in cases]  # user turns a partner model wrote
        final: dict[int, tuple[str, Response]] = {}
        active, turn = list(range(len(cases))), 0
        if not model.sees_images:  # an image case errors here, naming the backend and the case
            for i in [i for i in active if cases[i].images]:
                final[i] = (content_key("unseen-images", model.fingerprint, cases[i].uid), unseen_images(model, cases[i]))
                active.remove(i)
        while active:  # one batch per turn across the cases still talking; every turn is cached
            prompts = {i: model.render(conversations[i]) for i in active}
            keys = {i: response_key(model.fingerprint, prompts[i], settings, cases[i]) for i in active}
            found = fill_responses(model, self.store, self.stats, {keys[i]: prompts[i] for i in active}, settings,
                                   max(1, self.settings.batch_size), claims, counted, self.progress,
                                   label if turn == 0 else f"{label} turn {turn + 1}")
            talking = []
            for i in active:
                response, case = found[keys[i]], cases[i]
                if (turn < len(case.followups) + case.partner_turns and response.error is None
                        and response.finish_reason != TOO_LARGE):
                    answer = apply_reasoning(response, "strip").text  # the model's own visible answer
                    earlier[i].append(answer)
                    conversations[i].append({"role": "assistant", "content": answer})
                    talking.append(i)
                else:  # the last turn (or a failed one, which ends the conversation)
                    final[i] = (keys[i], response)
            scripted = [i for i in talking if turn < len(cases[i].followups)]
            for i in scripted:
                conversations[i].append({"role": "user", "content": cases[i].followups[turn]})
            partnered = [i for i in talking if i not in scripted]
            for i, line in self._partner_turns(partnered, cases, conversations, settings, claims, counted,
                                               f"{label} partner turn {turn + 1}").items():
                if line.error is not None:  # the partner failed: the dialogue ends with its error
                    earlier[i].pop()
                    final[i] = (keys[i], replace(found[keys[i]], error=f"partner model: {line.error}"))
                    talking.remove(i)
                    continue
                text = apply_reasoning(line, "strip").text
                written[i].append(text)
                conversations[i].append({"role": "user", "content": text})
            active, turn = talking, turn + 1
        asked = [i for i in range(len(cases)) if cases[i].partner_question and final[i][1].error is None
                 and final[i][1].finish_reason != TOO_LARGE]
        for i in asked:  # the partner's last word: the model's last answer, then the case's question to it
            conversations[i].append({"role": "assistant", "content": apply_reasoning(final[i][1], "strip").text})
        answers = self._partner_turns(asked, cases, conversations, settings, claims, counted,
                                      f"{label} partner question", question=True)
        mode = self.settings.reasoning
        out = []
        for i in range(len(cases)):
            key, response = final[i]
            if i in answers:
                line = answers[i]
                response = (replace(response, error=f"partner model: {line.error}") if line.error is not None
                            else replace(response, partner_answer=apply_reasoning(line, "strip").text))
            shown = apply_reasoning(response, mode)
            if earlier[i]:
                shown = replace(shown, turns=tuple(earlier[i]))
            if written[i]:
                shown = replace(shown, user_turns=tuple(cases[i].followups) + tuple(written[i]))
            out.append((key if mode == "strip" else content_key(key, "reasoning", mode), shown))
        return out

    def _partner_turns(self, indices: list[int], cases: list[Case], conversations: list[list[dict[str, str]]],
                       settings: GenerationSettings, claims: Claims | None, counted: bool, label: str,
                       question: bool = False) -> dict[int, Response]:
        """The partner model's next line in each dialogue, in one batch, cached like every turn.

        The partner sees the dialogue from its side: its role as the system prompt, its own earlier
        lines (the case's first user turn included) as ``assistant`` turns, the model's answers as
        ``user`` turns; its key names the partner's fingerprint and its role. ``question``: the
        case's ``partner_question`` follows the model's last answer (the partner's final opinion)."""
        if not indices:
            return {}
        partner = self.partner
        flip = {"user": "assistant", "assistant": "user"}
        prompts, keys = {}, {}
        for i in indices:
            seen = [{"role": "system", "content": cases[i].partner or ""}]
            seen += [{"role": flip[m["role"]], "content": m["content"]} for m in conversations[i] if m["role"] in flip]
            if question:  # after the model's last answer, the case's question to the partner itself
                seen[-1] = {"role": "user", "content": f"{seen[-1]['content']}\n\n{cases[i].partner_question}"}
            prompts[i] = partner.render(seen)
            keys[i] = content_key(partner.fingerprint, prompts[i], settings.key(), {"partner": cases[i].condition})
        found = fill_responses(partner, self.store, self.stats, {keys[i]: prompts[i] for i in indices}, settings,
                               max(1, self.settings.batch_size), claims, counted, self.progress, label)
        return {i: found[keys[i]] for i in indices}

    def close(self) -> None:
        if self.xdist is not None:
            self.xdist.close()
        if self._diagnoser is not None:
            self._diagnoser.close()
        if self._partner is not None and self._partner is not self._model:
            self._partner.close()
        if self._model is not None:
            self._model.close()
        for judge in self._judges.values():  # a judge model holds memory too
            judge.close()
        if self._store is not None:
            self._store.close()
