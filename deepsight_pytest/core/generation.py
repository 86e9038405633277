"""The engine's generation step: fill in what the store lacks, commit as responses arrive.

The backend decides the chunk size (``ModelBackend.chunk_size``: a batch for in-process models,
the whole suite for vLLM and servers) and streams ``(index, response)`` pairs as they finish; they
are committed every :data:`COMMIT_EVERY` responses or :data:`COMMIT_AFTER_S` seconds, and whatever
finished is committed even when the backend raises half way. A failed request (``error`` set) is
never stored, so the next run retries it. Under xdist, :class:`~deepsight_pytest.core.claims.Claims`
makes each response come from exactly one worker.
"""
from __future__ import annotations

import time
from typing import Mapping, Protocol

from deepsight_pytest.core.claims import DONE, ERROR, RUNNING, Claims, owner_alive
from deepsight_pytest.errors import BackendError
from deepsight_pytest.models import GenerationSettings, ModelBackend
from deepsight_pytest.core.progress import NO_PROGRESS, Progress, Tracker
from deepsight_pytest.records import Response
from deepsight_pytest.core.store import RecordStore
from deepsight_pytest.core.sanitize import mask_spec

COMMIT_EVERY = 64
COMMIT_AFTER_S = 1.0
POLL_S = 0.2
DONE_BUT_MISSING_POLLS = 50  # a settled claim whose response never shows up: generate it here


class GenerationCounters(Protocol):
    """The counters generation adds to (the engine's ``EngineStats``; a Protocol so that this module
    does not import the engine that drives it)."""

    generated: int
    errors: int
    batches: int
    cached_responses: int
    from_other_workers: int
    startup_s: float
    generation_s: float


class _Committer:
    """Buffers finished responses and commits them (and settles their claims) in small groups."""

    def __init__(self, store: RecordStore, claims: Claims | None, stats: GenerationCounters) -> None:
        self.store, self.claims, self.stats = store, claims, stats
        self.pending: dict[str, Response] = {}
        self.last = time.monotonic()
        self.spent_s = 0.0

    def add(self, key: str, response: Response) -> None:
        self.pending[key] = response
        if len(self.pending) >= COMMIT_EVERY or time.monotonic() - self.last >= COMMIT_AFTER_S:
            self.flush()

    def flush(self) -> None:
        started = time.perf_counter()
        ok = {k: r for k, r in self.pending.items() if r.error is None}
        failed = {k: r.error for k, r in self.pending.items() if r.error is not None}
        self.store.put_responses(ok)
        if self.claims is not None:
            self.claims.settle(ok, failed)
        self.stats.generated += len(ok)
        self.stats.errors += len(failed)
        self.pending.clear()
        self.last = time.monotonic()
        self.spent_s += time.perf_counter() - started


class _StartedTracker:
    """Opens the progress tracker once the model is ready, so its clock leaves out start-up."""

    def __init__(self, progress: Progress, label: str, total: int) -> None:
        self.progress, self.label, self.total = progress, label, total
        self.tracker: Tracker | None = None

    def start(self) -> None:
        if self.tracker is None:
            self.tracker = self.progress.track(self.label, "generating", self.total)

    def advance(self, cases: int = 1, tokens: int = 0) -> None:
        if self.tracker is not None:
            self.tracker.advance(cases, tokens)

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.close()


def _run_chunk(model: ModelBackend, store: RecordStore, stats: GenerationCounters, keys: list[str], prompts: Mapping[str, str],
               settings: GenerationSettings, batch_size: int, claims: Claims | None,
               tracker: "_StartedTracker") -> dict[str, Response]:
    committer = _Committer(store, claims, stats)
    seen: dict[str, Response] = {}
    started = time.perf_counter()
    try:
        model.ready()  # weights or server: start-up is counted apart from generation
        stats.startup_s += time.perf_counter() - started
        tracker.start()  # the rate and time left count from here, not from loading the weights
        started = time.perf_counter()
        for index, response in model.generate_stream([prompts[k] for k in keys], settings, batch_size):
            seen[keys[index]] = response
            committer.add(keys[index], response)
            tracker.advance(1, response.tokens)
    finally:
        committer.flush()
        if claims is not None:
            claims.release(k for k in keys if k not in seen)
        stats.batches += 1
        stats.generation_s += time.perf_counter() - started - committer.spent_s
    if len(seen) != len(keys):
        raise BackendError(f"{mask_spec(model.spec)}: the backend returned {len(seen)} responses for {len(keys)} prompts")
    return seen


def generate(model: ModelBackend, store: RecordStore, stats: GenerationCounters, prompts: Mapping[str, str],
             settings: GenerationSettings, batch_size: int, claims: Claims | None,
             progress: Progress = NO_PROGRESS, label: str = "") -> dict[str, Response]:
    """Generate ``prompts`` (key -> rendered prompt): longest first, in backend-sized chunks."""
    keys = sorted(prompts, key=lambda k: -len(prompts[k]))  # similar lengths share a batch
    chunk = max(1, model.chunk_size(batch_size))
    out: dict[str, Response] = {}
    if not keys:
        return out
    tracker = _StartedTracker(progress, label, len(keys))
    try:
        for start in range(0, len(keys), chunk):
            out.update(_run_chunk(model, store, stats, keys[start:start + chunk], prompts, settings, batch_size,
                                  claims, tracker))
    finally:
        tracker.close()
    return out


def _await_others(model: ModelBackend, store: RecordStore, stats: GenerationCounters, prompts: Mapping[str, str],
                  settings: GenerationSettings, batch_size: int, claims: Claims, counted: bool) -> dict[str, Response]:
    """Wait for responses other workers are generating; take over those whose worker died."""
    remaining = set(prompts)
    out: dict[str, Response] = {}
    missing_polls: dict[str, int] = {}
    while remaining:
        got = store.get_responses(remaining)
        out.update(got)
        remaining -= got.keys()
        stats.from_other_workers += len(got) if counted else 0
        if not remaining:
            break
        takeover, orphans = [], []
        status = claims.status(remaining)
        for key, claim in ((k, status.get(k)) for k in sorted(remaining)):
            if claim is None or (claim.state == RUNNING and not owner_alive(claim.owner)):
                takeover.append(key)
            elif claim.state == ERROR:
                out[key] = Response("", 0, "error", 0.0, model.fingerprint, error=claim.error)
                remaining.discard(key)
            elif claim.state == DONE:
                missing_polls[key] = missing_polls.get(key, 0) + 1
                if missing_polls[key] > DONE_BUT_MISSING_POLLS:
                    orphans.append(key)
        mine = claims.claim(takeover)[0] + orphans
        if mine:
            out.update(generate(model, store, stats, {k: prompts[k] for k in mine}, settings, batch_size, claims))
            remaining -= set(mine)
        else:
            time.sleep(POLL_S)
    return out


def fill_responses(model: ModelBackend, store: RecordStore, stats: GenerationCounters, prompts: Mapping[str, str],
                   settings: GenerationSettings, batch_size: int, claims: Claims | None,
                   counted: bool = True, progress: Progress = NO_PROGRESS, label: str = "") -> dict[str, Response]:
    """Every key's response: from the store, generated here, or (xdist) from the worker generating it.

    ``counted=False`` leaves reads out of the counters (a gate's cases that another worker owns
    and counts); whatever is generated here is always counted."""
    found = store.get_responses(prompts)
    missing = [k for k in prompts if k not in found]
    shared = claims.others(found) if claims is not None and counted else set()
    stats.cached_responses += len(found) - len(shared) if counted else 0
    stats.from_other_workers += len(shared)
    mine, theirs = claims.claim(missing) if claims is not None else (missing, [])
    found.update(generate(model, store, stats, {k: prompts[k] for k in mine}, settings, batch_size, claims,
                          progress, label))
    if theirs and claims is not None:
        found.update(_await_others(model, store, stats, {k: prompts[k] for k in theirs}, settings, batch_size,
                                   claims, counted))
    return found
