"""DeepScan, the session's diagnostics object: the model's internals, reference sets, method runs
and the per-failure trigger, all cached.

One instance per pytest process, created by the engine on first need (the ``deepscan`` fixture
returns the same one). It never loads the model's weights unless something misses the cache:
a warm re-run reads entries and results from ``deepscan.sqlite`` and the files in place.
"""
from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import pytest

from deepsight_pytest.errors import DeepSightError
from deepsight_pytest.records import Case, Record, Safety
from deepsight_pytest.core.sanitize import mask_spec
from deepsight_pytest.core.store import content_key
from deepsight_pytest.diagnostics import DIAGNOSTICS, CASE_METHODS
from deepsight_pytest.diagnostics.artifacts import Artifacts
from deepsight_pytest.diagnostics.base import DiagnosticError, MethodResult, entry, is_entry, skipped_entry
from deepsight_pytest.diagnostics.cache import ResultCache
from deepsight_pytest.diagnostics.datasets import select
from deepsight_pytest.diagnostics.params import method_params

if TYPE_CHECKING:
    from deepsight_pytest.core.engine import Engine
    from deepsight_pytest.diagnostics.generation_states import CaseStates
    from deepsight_pytest.diagnostics.references import ReferenceBundle

SKIP_METHOD = "deepscan"
CASE_VERSIONS = tuple((name, DIAGNOSTICS.get(name).version) for name in CASE_METHODS)
SOLUTION_KEYS = ("solution", "target")


class DeepScan:
    """White-box diagnostics for the model under test (see the package docs for the layer convention)."""

    #: per-failure readings captured while generating (False: the separate prompt and conversation
    #: passes, as before; ``bench/diagnostics.py`` and ``bench/main_job.py`` compare both)
    from_generation: bool = True

    def __init__(self, engine: "Engine", cache_dir: Path | None, artifacts_root: Path) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.cache_dir = cache_dir
        self.artifacts = Artifacts(artifacts_root, self.settings.plot_workers)
        self._cache: ResultCache | None = None
        self._bundle: "ReferenceBundle | None" = None
        self._blocks: int | None = None
        self._sets: dict[str, dict[str, list[Record]]] = {}
        self._states: dict[tuple[str, str], "CaseStates"] = {}

    # -- the model ---------------------------------------------------------------------------
    @property
    def backend(self) -> Any:
        return self.engine.model

    @property
    def has_weights(self) -> bool:
        return bool(getattr(self.backend, "has_weights", False))

    @property
    def skip_reason(self) -> str:
        backend = self.backend
        return (f"model {mask_spec(getattr(backend, 'spec', '?'))!r} ({type(backend).__name__}) has no weights in this "
                "process (an API or scripted backend); white-box diagnostics need a transformers model "
                "(smollm2, hf:, gguf:, hf-vlm:)")

    @property
    def model(self) -> Any:
        self._require_weights()
        return self.backend.model

    @property
    def tokenizer(self) -> Any:
        self._require_weights()
        return self.backend.tokenizer

    @property
    def blocks(self) -> int:
        if self._blocks is None:
            from deepsight_pytest.diagnostics.capture import block_count

            self._blocks = block_count(self.model)
        return self._blocks

    @property
    def batch_size(self) -> int:
        return max(1, self.settings.batch_size)

    @property
    def token_budget(self) -> int | None:
        """Padded tokens per forward batch (the backend's budget: the option, else free memory)."""
        budget = getattr(self.backend, "budget", None)
        return budget() if callable(budget) else None

    def _require_weights(self) -> None:
        if not self.has_weights:
            raise DiagnosticError(self.skip_reason)

    def stop_ids(self) -> set[int]:
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids = set(eos if isinstance(eos, (list, tuple)) else [eos])
        ids |= {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        return {i for i in ids if i is not None}

    @property
    def cache(self) -> ResultCache:
        if self._cache is None:
            self._cache = ResultCache(self.cache_dir)
        return self._cache

    # -- data sets -------------------------------------------------------------------------------
    def params(self, method: str, given: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        return method_params(method, given, where)

    def datasets(self, method: str, params: Mapping[str, Any]) -> dict[str, list[Record]]:
        """Each class's records (the model's own answers, judged, filtered), memoised per run."""
        key = content_key(method, _jsonable(params))
        if key not in self._sets:
            seed = params["seed"] if params["seed"] is not None else self.settings.seed
            max_new = int(params["max_new_tokens"] or self.settings.max_new_tokens)
            self._sets[key] = {name: select(self.engine, spec, int(params["n"]), seed, self.settings.judge,
                                            max_new, self.settings.data_dir, name)
                               for name, spec in params["sets"].items()}
        return self._sets[key]

    @staticmethod
    def solution(record: Record) -> str:
        """The reference answer of a (problem, solution) row (``meta["solution"]`` or ``["target"]``)."""
        for key in SOLUTION_KEYS:
            text = str(record.case.meta.get(key) or "").strip()
            if text:
                return text
        raise DiagnosticError(f"{record.case.uid}: no reference solution (meta {' or '.join(SOLUTION_KEYS)})")

    # -- the four methods ------------------------------------------------------------------------
    def run(self, method: str, **given: Any) -> MethodResult:
        """Run one DeepScan method (cached by its parameters and the exact rows it reads)."""
        spec = DIAGNOSTICS.get(method)
        params = self.params(method, given)
        sets = self.datasets(method, params)
        rows = {name: [(r.case.uid, r.response.text) for r in records] for name, records in sets.items()}
        key = content_key("deepscan-method", method, spec.version, self.backend.fingerprint, _jsonable(params),
                          rows, self.settings.judge)
        cached = self.cache.get([key]).get(key)
        if cached is not None:
            result = MethodResult.from_dict(cached)
            result.plot, result.data = self.artifacts.absolute(result.plot), self.artifacts.absolute(result.data)
            if self.artifacts.present(result.plot) and self.artifacts.present(result.data):
                return result
        result = spec.load_runner()(self, params, self.artifacts.method_sink(method, key))
        stored = MethodResult.from_dict(result.to_dict())
        stored.plot, stored.data = self.artifacts.relative(result.plot), self.artifacts.relative(result.data)
        self.cache.put({key: stored.to_dict()})
        return result

    # -- reference sets --------------------------------------------------------------------------
    def reference_key(self) -> str:
        from deepsight_pytest.diagnostics.references import reference_key

        s = self.settings
        return reference_key(self.backend.fingerprint, s.judge, s.max_new_tokens, s.seed, s.data_dir,
                             s.diagnose_references)

    def references(self) -> "ReferenceBundle":
        """The reference bundle of this model: from memory, from disk, or built once."""
        if self._bundle is None:
            from deepsight_pytest.diagnostics import references

            key = self.reference_key()
            path = None if self.cache_dir is None else self.cache_dir / "deepscan" / f"refs-{key[:16]}.pt"
            bundle = references.load(path) if path is not None else None
            if bundle is None or bundle.key != key:
                bundle = references.build(self, key)
                if path is not None:
                    references.save(bundle, path)
            self._bundle = bundle
        return self._bundle

    # -- states captured while generating ------------------------------------------------------
    @contextmanager
    def recording(self, cases: Sequence[Case]) -> Iterator[None]:
        """While a suite's cases generate, capture what their per-case diagnostics read (the
        prompt's last-token states, the conversation's pooled states) with hooks on the in-process
        model, so diagnosing a failure needs no forward pass of its own besides the attribution.
        Does nothing with ``--diagnose=off`` or a backend without weights in this process. The
        states of earlier suites are dropped here, and this suite's after :meth:`attach`."""
        self._states.clear()
        backend = self.backend
        if (not self.from_generation or self.settings.diagnose == "off" or not self.has_weights
                or not hasattr(backend, "recorder")):
            yield
            return
        from deepsight_pytest.diagnostics.generation_states import StateRecorder

        recorder = StateRecorder({backend.render(c.messages): c.messages for c in cases})
        backend.recorder = recorder
        try:
            yield
        finally:
            backend.recorder = None
            self._states.update(recorder.states)

    def states_of(self, record: Record) -> "CaseStates | None":
        """The readings captured while this record's answer was generated, if it was, here."""
        if not self._states:
            return None
        return self._states.get((self.backend.render(record.case.messages), record.response.text))

    # -- the per-failure trigger -----------------------------------------------------------------
    def attach(self, records: Mapping[str, Record]) -> dict[str, Record]:
        """Add per-case diagnostics to the records ``--diagnose`` selects (failures by default)."""
        try:
            return self._attach(records)
        finally:
            self._states.clear()  # read (or not needed): a suite's states never outlive its diagnostics

    def _attach(self, records: Mapping[str, Record]) -> dict[str, Record]:
        mode = self.settings.diagnose
        chosen = [r for r in records.values()
                  if mode == "always" or (mode == "failures" and r.verdict.safe is Safety.NO)]
        if not chosen:
            return dict(records)
        if not self.has_weights:
            skipped = skipped_entry(SKIP_METHOD, self.skip_reason)
            return _with(records, {r.case.uid: [skipped] for r in chosen})
        started = time.perf_counter()
        found = self._diagnose(chosen)
        self.engine.stats.diagnostics_s += time.perf_counter() - started
        return _with(records, found)

    def case_key(self, record: Record, reference_key: str) -> str:
        from deepsight_pytest.core.images import key_view  # an image by its hash, not where it sits today

        return content_key("deepscan-case", CASE_VERSIONS, reference_key, key_view(record.case.messages),
                           record.response.text, record.response.model)

    def _diagnose(self, chosen: list[Record]) -> dict[str, list[dict[str, Any]]]:
        ref_key = self.reference_key()
        keys = {r.case.uid: self.case_key(r, ref_key) for r in chosen}
        cached = self.cache.get(keys.values())
        found: dict[str, list[dict[str, Any]]] = {}
        for record in chosen:
            entries = self._restore(cached.get(keys[record.case.uid]))
            if entries is not None:
                found[record.case.uid] = entries
        todo = [r for r in chosen if r.case.uid not in found]
        self.engine.stats.cached_diagnoses += len(found)
        if todo:
            found.update(self._compute(todo, keys))
        return found

    def _compute(self, todo: list[Record], keys: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        from deepsight_pytest.diagnostics.methods.failure import diagnose_failures

        sinks = [self.artifacts.case_sink(r.case.benchmark, r.case.category, r.case.id, keys[r.case.uid]) for r in todo]
        tracker = None
        try:
            references = self.references()  # built (and shown) before the cases' own progress starts
            tracker = self.engine.progress.track(todo[0].case.benchmark, "diagnosing", len(todo))
            results = diagnose_failures(self, references, todo, sinks)
            tracker.advance(len(todo))
        except (DeepSightError, RuntimeError, OSError) as exc:  # diagnostics never sink the suite's records
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            warnings.warn(pytest.PytestWarning(f"deepsight: per-case diagnostics failed: {message}"))
            return {r.case.uid: [entry(SKIP_METHOD, f"error: diagnostics failed ({message})")] for r in todo}
        finally:
            if tracker is not None:
                tracker.close()
        self.engine.stats.diagnosed += len(todo)
        self.cache.put({keys[r.case.uid]: [self._relative(e) for e in entries] for r, entries in zip(todo, results)})
        return {r.case.uid: entries for r, entries in zip(todo, results)}

    def _relative(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "plot": self.artifacts.relative(item["plot"]), "data": self.artifacts.relative(item["data"])}

    def _restore(self, stored: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """Cached entries with absolute paths, or None when a file is gone (recompute then)."""
        if stored is None:
            return None
        entries = [{**e, "plot": self.artifacts.absolute(e["plot"]), "data": self.artifacts.absolute(e["data"])}
                   for e in stored]
        if not all(is_entry(e) and self.artifacts.present(e["plot"]) and self.artifacts.present(e["data"])
                   for e in entries):
            return None
        return entries

    def close(self) -> None:
        self.artifacts.close()
        if self._cache is not None:
            self._cache.close()


def _with(records: Mapping[str, Record], extra: Mapping[str, list[dict[str, Any]]]) -> dict[str, Record]:
    """Records with their new entries appended (records are frozen: ``dataclasses.replace``)."""
    return {uid: replace(r, diagnostics=(*r.diagnostics, *extra[uid])) if uid in extra else r
            for uid, r in records.items()}


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out["sets"] = {name: spec.to_dict() for name, spec in params["sets"].items()}
    return out
