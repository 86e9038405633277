"""Writes the files the user asked for at the end of the session (controller only)."""
from __future__ import annotations

import datetime as _dt
import hashlib
import platform
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from deepsight_pytest import __version__
from deepsight_pytest.core.sanitize import mask_spec
from deepsight_pytest.pytest_integration.baseline import load_baseline
from deepsight_pytest.benchmarks import BENCHMARKS
from deepsight_pytest.pytest_integration.options import Settings
from deepsight_pytest.pytest_integration.session import DeepSightSession
from deepsight_pytest.core.suites import SuitePlan
from deepsight_pytest.reporting.results import RunResults

def redact_spec(spec: str) -> str:
    """A model spec fit for a report (the one masking function lives in ``sanitize``)."""
    return mask_spec(spec)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def benchmark_meta(results: RunResults, settings: Settings, plans: list[SuitePlan]) -> list[dict[str, Any]]:
    """Per benchmark in the run: version, file hashes, cases and categories, each suite's choices."""
    cases: dict[str, set[str]] = defaultdict(set)
    categories: dict[str, set[str]] = defaultdict(set)
    for outcome in results.cases:
        case = outcome.record.case
        cases[case.benchmark].add(case.uid)
        categories[case.benchmark].add(case.category)
    for gate in results.gates:
        if not gate.gate.stats.pooled:  # the pooled gate is no category
            categories[gate.gate.stats.benchmark].add(gate.gate.stats.category)
    out = []
    for name in sorted(categories):
        entry: dict[str, Any] = {"name": name, "cases": len(cases[name]), "categories": len(categories[name])}
        if name in BENCHMARKS:
            bench = BENCHMARKS.get(name)
            root = bench.root(settings.data_dir)
            files = [root / f for f in bench.files]
            entry.update(version=bench.version, source=bench.source,
                         files=[{"file": f.name, "sha256": file_digest(f) if f.is_file() else None} for f in files])
        entry["suites"] = [{"sample": plan.spec.sample if settings.sample is None else settings.sample,
                            "seed": plan.spec.seed if plan.spec.seed is not None else settings.seed,
                            "subsets": list(plan.spec.subsets or plan.benchmark.default_subsets),
                            "judge": plan.judge, "max_new_tokens": plan.max_new_tokens}
                           for plan in plans if plan.benchmark.name == name]
        out.append(entry)
    return out


def finalise(results: RunResults, state: DeepSightSession) -> None:
    """Fill run metadata from settings and records (works when records came from xdist workers)."""
    settings = state.settings
    fingerprints = sorted({c.record.response.model for c in results.cases})
    judges = sorted({c.record.verdict.judge for c in results.cases})
    results.meta.update({
        "version": __version__,
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": redact_spec(settings.model),
        "backend": settings.model.partition("?")[0].partition(":")[0],
        "fingerprint": ", ".join(fingerprints),
        "judge": ", ".join(judges) or settings.judge,
        "judges": judges or [settings.judge],
        "sample": settings.sample,
        "seed": settings.seed,
        "max_new_tokens": settings.max_new_tokens,
        "threshold": settings.threshold,
        "max_unknown": settings.max_unknown,
        "python": platform.python_version(),
        "pytest": pytest.__version__,
        "benchmarks": benchmark_meta(results, settings, state.engine.plans),
    })
    if settings.samples > 1 or settings.temperature > 0:  # sampled generations (greedy meta unchanged)
        results.meta["sampling"] = {"samples": settings.samples, "temperature": settings.temperature,
                                    "top_p": settings.top_p}
    device = state.engine.model_details().get("device")
    if device:  # in-process models: where the weights ran (cpu, cuda:0)
        results.meta["device"] = device
    if settings.baseline is not None:
        before = load_baseline(settings.baseline).meta
        results.meta["baseline"] = {"path": str(settings.baseline), "margin": settings.baseline_margin,
                                    "alpha": settings.baseline_alpha, "model": before.get("model"),
                                    "fingerprint": before.get("fingerprint"), "finished": before.get("finished")}
    results.engine = asdict(state.engine.stats)


def write_outputs(results: RunResults, state: DeepSightSession,
                  records_written: bool = False) -> list[tuple[str, Path]]:
    """Write every report the settings ask for (:mod:`.writers`); returns (what, path) for the summary.
    ``records_written``: the records file was streamed during the run (``RecordStream``)."""
    from deepsight_pytest.reporting.writers import WRITERS

    settings = state.settings
    written: list[tuple[str, Path]] = []
    for writer in WRITERS:
        path: Path | None = getattr(settings, writer.setting)
        if path is None:
            continue
        if writer.setting == "records" and records_written:
            written.append((writer.what, path))
            continue
        try:  # the run's folders count as this machine's: their paths are written relative
            writer.load()(path, results, [settings.data_dir, settings.cache_dir, settings.artifacts])
        except OSError as exc:
            raise pytest.UsageError(f"cannot write {writer.what} to {path}: {exc.strerror}") from None
        written.append((writer.what, path))
    return written
