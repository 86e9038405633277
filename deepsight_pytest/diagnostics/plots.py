"""Small PNG plots for the report, drawn with matplotlib's Agg canvas (imported on first use).

We build ``matplotlib.figure.Figure`` objects with a ``FigureCanvasAgg`` directly: no pyplot, no
global figure state, no GUI backend, so plotting works headless and never touches a user's own
pyplot configuration. Each renderer takes plain lists (what the JSON data holds).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

COLOURS = {"harmful": "#c62828", "unsafe": "#c62828", "safe": "#17803d", "boundary": "#1f5fbf",
           "case": "#111111", "refused": "#6a3d9a", "harmless": "#17803d"}
DPI = 80


def _figure(width: float, height: float, panels: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.locator_params(nbins=5)  # text is most of a small plot's drawing time
    return figure, axes


def _projection_axes(ax: Any) -> None:
    """2-D projections have arbitrary units: no tick labels (and nothing to lay out)."""
    ax.set_xticks([])
    ax.set_yticks([])


def _save(figure: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, pil_kwargs={"compress_level": 1})


def scatter_panels(path: Path, panels: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> None:
    """One 2-D projection per layer, a colour per class (X-Boundary, TELLME)."""
    figure, axes = _figure(3.2 * len(panels), 3.0, len(panels))
    for ax, panel in zip(axes, panels):
        for name, points in panel["points"].items():
            if points:
                xs, ys = zip(*points)
                ax.scatter(xs, ys, s=10, alpha=0.7, label=name, color=COLOURS.get(name, "#777777"))
        layer = panel["layer"]
        title = f"layer {layer}"
        if "separation" in values and isinstance(values["separation"], Mapping):
            title += f": sep {values['separation'][layer]:.1f}"
        ax.set_title(title, fontsize=8)
        _projection_axes(ax)
    axes[0].legend(fontsize=6, loc="best")
    figure.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.03, wspace=0.08)
    _save(figure, path)


def spin_blocks(path: Path, rows: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> None:
    """Coupled weights per block (bars)."""
    figure, [ax] = _figure(4.8, 2.6)
    ax.bar([r["block"] for r in rows], [r["coupled"] for r in rows], color="#6a3d9a")
    ax.set_xlabel("decoder block", fontsize=7)
    ax.set_ylabel("coupled weights", fontsize=7)
    ax.set_title(f"SPIN coupling {values['coupling']:.3f}", fontsize=8)
    figure.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.17)
    _save(figure, path)


def mi_trajectory(path: Path, mean: Sequence[float], info: Mapping[str, Any]) -> None:
    """The mean MI trajectory over generation steps, peaks marked."""
    figure, [ax] = _figure(4.8, 2.6)
    ax.plot(range(len(mean)), mean, color="#1f5fbf", linewidth=1)
    peaks = info.get("peaks", [])
    ax.scatter(peaks, [mean[p] for p in peaks], color="#c62828", s=12, zorder=3)
    ax.set_xlabel("generation step", fontsize=7)
    ax.set_ylabel("MI", fontsize=7)
    ax.set_title(f"MI-Peaks, layer {info.get('layer')}", fontsize=8)
    figure.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.17)
    _save(figure, path)


class _Refusal:
    """The refusal-direction plot; one figure reused across cases (only the data changes)."""

    def __init__(self, curve: Mapping[str, Any], best: int) -> None:
        self.figure, [self.ax] = _figure(4.4, 2.5)
        layers = curve["layers"]
        self.lines = [self.ax.plot(layers, curve[key], color=COLOURS[colour], linewidth=width, label=label)[0]
                      for key, colour, width, label in (
                          ("reference_mean", "refused", 1.0, curve.get("reference_label", "refused")),
                          ("harmless_mean", "harmless", 1.0, "harmless"),
                          ("projection", "case", 1.5, "this prompt"))]
        self.best = self.ax.axvline(best, color="#999999", linewidth=0.8, linestyle="--")
        self.band: Any = None
        self.ax.set_xlabel("layer (hidden_states index)", fontsize=7)
        self.ax.set_title("refusal-direction projection", fontsize=8)
        self.ax.legend(fontsize=6, loc="upper left")
        self.figure.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.17)

    def draw(self, path: Path, curve: Mapping[str, Any], best: int) -> None:
        layers = curve["layers"]
        for line, key in zip(self.lines, ("reference_mean", "harmless_mean", "projection")):
            line.set_data(layers, curve[key])
        self.best.set_xdata([best, best])
        if self.band is not None:
            self.band.remove()
        mean, std = curve["reference_mean"], curve["reference_std"]
        self.band = self.ax.fill_between(layers, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                                         color=COLOURS["refused"], alpha=0.2, linewidth=0)
        self.ax.relim()
        self.ax.autoscale_view()
        _save(self.figure, path)


class _Position:
    """Reference conversations in 2-D per layer (drawn once per reference set), the case as a star."""

    def __init__(self, panels: Sequence[Mapping[str, Any]]) -> None:
        self.figure, self.axes = _figure(2.6 * len(panels), 2.5, len(panels))
        self.stars, self.limits = [], []
        for ax, panel in zip(self.axes, panels):
            xs_all: list[float] = []
            ys_all: list[float] = []
            for name in ("safe", "harmful"):
                points = panel["points"].get(name) or []
                if points:
                    xs, ys = zip(*points)
                    xs_all += xs
                    ys_all += ys
                    ax.scatter(xs, ys, s=8, alpha=0.5, color=COLOURS[name], label=name)
            self.stars.append(ax.scatter([0.0], [0.0], marker="*", s=90, color=COLOURS["case"], label="this case",
                                         zorder=3))
            self.limits.append((min(xs_all, default=0.0), max(xs_all, default=0.0), min(ys_all, default=0.0),
                                max(ys_all, default=0.0)))
            _projection_axes(ax)
        self.axes[0].legend(fontsize=6, loc="best")
        self.figure.subplots_adjust(left=0.02, right=0.98, top=0.88, bottom=0.03, wspace=0.08)

    def draw(self, path: Path, panels: Sequence[Mapping[str, Any]]) -> None:
        for ax, star, limits, panel in zip(self.axes, self.stars, self.limits, panels):
            x, y = panel["case"]
            star.set_offsets([[x, y]])
            low_x, high_x, low_y, high_y = min(limits[0], x), max(limits[1], x), min(limits[2], y), max(limits[3], y)
            pad_x, pad_y = 0.05 * (high_x - low_x or 1.0), 0.05 * (high_y - low_y or 1.0)
            ax.set_xlim(low_x - pad_x, high_x + pad_x)
            ax.set_ylim(low_y - pad_y, high_y + pad_y)
            ax.set_title(f"layer {panel['layer']}: position {panel['position']:.2f}", fontsize=8)
        _save(self.figure, path)


class _Attribution:
    """The strongest prompt tokens by attribution (negative: pushes away from refusal)."""

    def __init__(self, rows: int) -> None:
        self.figure, [self.ax] = _figure(4.0, 0.35 + 0.2 * max(1, rows))
        self.ax.axvline(0, color="#999999", linewidth=0.8)
        self.ax.set_title("token attribution (grad x input)", fontsize=8)
        self.bars: Any = None
        self.figure.subplots_adjust(left=0.3, right=0.97, top=0.9, bottom=0.08)

    def draw(self, path: Path, tokens: Sequence[str], scores: Sequence[float]) -> None:
        if self.bars is not None:
            self.bars.remove()
        rows = list(range(len(tokens)))[::-1]
        self.bars = self.ax.barh(rows, scores, color=["#c62828" if s < 0 else "#17803d" for s in scores])
        self.ax.set_yticks(rows, [repr(t)[1:-1][:24] for t in tokens], fontsize=7)
        self.ax.relim()
        self.ax.autoscale_view()
        _save(self.figure, path)


class Painter:
    """Draws plots. Per-case plots reuse one figure per shape (a case changes data, not layout),
    which halves their cost; one-off method plots are drawn fresh."""

    def __init__(self) -> None:
        self._figures: dict[tuple[Any, ...], Any] = {}

    def render(self, kind: str, path: Path, *args: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "refusal_layers":
            curve, best = args
            key: tuple[Any, ...] = (kind, tuple(curve["layers"]), curve.get("reference_label"))
            self._get(key, lambda: _Refusal(curve, best)).draw(path, curve, best)
        elif kind == "position":
            [panels] = args
            # keyed by content: the reference points are the same for every case of a model
            key = (kind, tuple((p["layer"], repr(sorted(p["points"].items()))) for p in panels))
            self._get(key, lambda: _Position(panels)).draw(path, panels)
        elif kind == "attribution":
            tokens, scores = args
            self._get((kind, len(tokens)), lambda: _Attribution(len(tokens))).draw(path, tokens, scores)
        else:
            RENDERERS[kind](path, *args)

    def _get(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        if key not in self._figures:
            self._figures[key] = build()
        return self._figures[key]


RENDERERS: dict[str, Callable[..., None]] = {
    "xboundary_panels": scatter_panels,
    "tellme_panels": scatter_panels,
    "spin_blocks": spin_blocks,
    "mi_trajectory": mi_trajectory,
}


def render(kind: str, path: Path, *args: Any) -> None:
    """Draw plot ``kind`` into ``path`` with a fresh painter (raises ImportError without matplotlib)."""
    Painter().render(kind, path, *args)
