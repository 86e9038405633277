"""pytest-xdist: each worker generates only its own cases; the controller adds up the counters.

A worker collects every test but runs only those the controller sends it. When a suite's first
test runs on a worker, the engine asks :meth:`WorkerLink.owned` which of the suite's cases are
queued to this worker right now (read from xdist's worker queue) and generates those in one go;
cases that arrive later are generated together the next time one of them is needed. Responses
another worker needs (a gate whose category is spread over workers) are coordinated through
:mod:`deepsight_pytest.core.claims`. ``--dist worksteal`` sends each worker its whole share up
front, so each worker generates it as one batch; with the default ``load`` distribution the shares
arrive, and are generated, in a few chunks.

Counters: each worker puts its engine counters in ``workeroutput``; the controller adds them up
when the worker goes down (``pytest_testnodedown``), so the JSON's ``engine`` counts every worker
and ``engine.workers`` keeps each one's.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pytest

from deepsight_pytest.pytest_integration.collection import CASE_FIXTURE, CaseParam
from deepsight_pytest.core.claims import Claims
from deepsight_pytest.core.store import RecordStore

if TYPE_CHECKING:
    from deepsight_pytest.core.engine import Engine, EngineStats

OUTPUT_KEY = "deepsight_engine"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class WorkerLink:
    """An xdist worker's view of the run: the cases queued to it, and the run's claims."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run = str(config.workerinput["testrunuid"])  # type: ignore[attr-defined]
        self.worker = str(config.workerinput.get("workerid", "?"))  # type: ignore[attr-defined]
        self._claims: Claims | None = None

    def _queued_items(self) -> list[pytest.Item] | None:
        """The item running now and every item queued to this worker; None if xdist changed shape."""
        interactor = next((p for p in self.config.pluginmanager.get_plugins()
                           if hasattr(p, "torun") and hasattr(p, "session")), None)
        lock = getattr(getattr(interactor, "torun", None), "lock", None)
        if interactor is None or lock is None:
            return None
        with lock() as queued:
            indices = [i for i in queued if isinstance(i, int)]
        for name in ("item_index", "nextitem_index"):
            index = getattr(interactor, name, None)
            if isinstance(index, int):
                indices.append(index)
        items = interactor.session.items
        return [items[i] for i in sorted(set(indices)) if 0 <= i < len(items)]

    def owned(self, suite_key: str) -> set[str] | None:
        """Uids of the suite's cases whose tests are queued to this worker (None: unknown)."""
        items = self._queued_items()
        if items is None:
            return None
        uids = set()
        for item in items:
            param = getattr(getattr(item, "callspec", None), "params", {}).get(CASE_FIXTURE)
            if isinstance(param, CaseParam) and param.suite == suite_key:
                uids.add(param.uid)
        return uids

    def claims(self, store: RecordStore) -> Claims | None:
        """This run's claims, kept in the store's file (none without a store: ``--no-safety-cache``)."""
        if store.path is None:
            return None
        if self._claims is None:
            self._claims = Claims(store.path, self.run)
        return self._claims

    def close(self) -> None:
        if self._claims is not None:
            self._claims.close()
            self._claims = None


def publish_stats(config: pytest.Config, stats: EngineStats) -> None:
    """On a worker: hand the engine counters to the controller with the worker's output."""
    output = getattr(config, "workeroutput", None)
    if output is not None:
        output[OUTPUT_KEY] = asdict(stats)


class StatsCollector:
    """On the controller: add each worker's counters to the session's engine counters."""

    def __init__(self, stats: EngineStats) -> None:
        self.stats = stats

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        data = getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
        if data:
            self.stats.merge(data, worker=str(getattr(getattr(node, "gateway", None), "id", "?")))


def configure(config: pytest.Config, engine: Engine) -> None:
    """Link the engine to xdist: a worker learns its queue; the controller collects counters."""
    if is_worker(config):
        engine.xdist = WorkerLink(config)
    elif config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(StatsCollector(engine.stats), "deepsight-xdist-stats")
