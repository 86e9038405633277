"""Plots drawn in the background worker process land before anything reads them."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from deepsight_pytest.diagnostics import settle_plots  # noqa: E402
from deepsight_pytest.diagnostics.plot_worker import BackgroundPainter  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
CURVE = {"layers": [0, 1, 2, 3], "reference_mean": [0.0, 1.0, 2.0, 2.5], "reference_std": [0.1, 0.2, 0.2, 0.3],
         "harmless_mean": [0.0, -1.0, -1.5, -1.0], "projection": [0.0, 0.2, 0.1, -0.4]}


def test_background_plots_are_pngs_once_settled(tmp_path: Path) -> None:
    painter = BackgroundPainter()
    try:
        paths = [tmp_path / "a" / f"refusal-{i}.png" for i in range(3)]
        for i, path in enumerate(paths):
            painter.render("refusal_layers", path, {**CURVE, "projection": [v * i for v in CURVE["projection"]]}, 2)
        painter.render("attribution", tmp_path / "b" / "tokens.png", ["How", " to", " pick"], [0.5, -0.2, 0.1])
        settle_plots([str(paths[0])])  # only the plot a reader needs
        assert paths[0].read_bytes().startswith(PNG)
        settle_plots()
        assert all(p.read_bytes().startswith(PNG) for p in [*paths, tmp_path / "b" / "tokens.png"])
        assert paths[1].read_bytes() != paths[2].read_bytes()  # each case's own data, not a stale figure
    finally:
        painter.close()


def test_a_plot_that_fails_to_draw_is_one_warning_not_an_error(tmp_path: Path) -> None:
    painter = BackgroundPainter()
    painter.render("no-such-plot", tmp_path / "x.png")
    painter.render("attribution", tmp_path / "ok.png", ["a"], [1.0])
    with pytest.warns(pytest.PytestWarning, match=r"plot failed to draw: .*x\.png: KeyError"):
        painter.close()
    assert (tmp_path / "ok.png").read_bytes().startswith(PNG) and not (tmp_path / "x.png").exists()


def test_plot_workers_only_where_cores_are_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepsight_pytest.diagnostics import plot_worker
    from deepsight_pytest.diagnostics.plots import Painter

    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    for cores, workers in ((2, 0), (4, 1), (16, 4), (64, 4)):
        monkeypatch.setattr(plot_worker.os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        assert plot_worker.worker_count() == workers
    monkeypatch.setattr(plot_worker.os, "sched_getaffinity", lambda _pid: {0, 1})
    assert type(plot_worker.painter()) is Painter  # a 2-core machine draws in process, as CI does
    monkeypatch.setattr(plot_worker.os, "sched_getaffinity", lambda _pid: set(range(8)))
    background = plot_worker.painter()
    assert isinstance(background, BackgroundPainter) and background.workers == 2
    background.close()
    monkeypatch.setattr(plot_worker.os, "sched_getaffinity", lambda _pid: set(range(16)))
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")  # -n 4 on 16 cores: 4 cores per worker
    assert plot_worker.worker_count() == 1


def test_plot_workers_option_reaches_the_painter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from deepsight_pytest.diagnostics.artifacts import Artifacts
    from deepsight_pytest.diagnostics.plots import Painter
    from deepsight_pytest.pytest_integration.options import _workers

    assert (_workers("auto"), _workers("0"), _workers("3")) == (None, 0, 3)
    with pytest.raises(ValueError):
        _workers("-1")
    assert type(Artifacts(tmp_path, 0).painter) is Painter
    artifacts = Artifacts(tmp_path, 2)
    assert isinstance(artifacts.painter, BackgroundPainter) and artifacts.painter.workers == 2
    artifacts.close()
