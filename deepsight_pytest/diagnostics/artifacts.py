"""Where diagnostics put their plots (PNG) and data (JSON): one folder per case or method run.

Entries carry absolute paths; the result cache stores them relative to the artifacts root, so a
warm run that finds the files in place reuses them and one that does not recomputes them.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest

SAFE_PART = re.compile(r"[^A-Za-z0-9_.+\-]+")


def safe_part(text: str) -> str:
    """A path component made of ``[A-Za-z0-9_.+-]`` only (case ids are already slugs)."""
    return SAFE_PART.sub("_", text).strip("._") or "_"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(_jsonable(data), handle, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


_WARNED: set[str] = set()


class Sink:
    """One folder of artifacts; ``name`` picks the file stem inside it."""

    def __init__(self, root: Path, folder: Path, painter: Any = None) -> None:
        self.root = root
        self.folder = folder
        self.painter = painter

    def data(self, name: str, payload: Any) -> str:
        path = self.folder / f"{safe_part(name)}.json"
        write_json_atomic(path, payload)
        return str(path)

    def plot(self, name: str, kind: str, *args: Any) -> str | None:
        """Render plot ``kind`` to ``<name>.png``; None (with one warning) without matplotlib."""
        path = self.folder / f"{safe_part(name)}.png"
        try:
            if self.painter is None:
                from deepsight_pytest.diagnostics.plots import Painter

                self.painter = Painter()
            self.painter.render(kind, path, *args)
        except ImportError:
            if "matplotlib" not in _WARNED:
                _WARNED.add("matplotlib")
                warnings.warn(pytest.PytestWarning(
                    "deepsight: diagnostics plots need matplotlib (pip install 'deepsight-pytest[hf]'); "
                    "numbers and data are still attached"))
            return None
        return str(path)


class Artifacts:
    """The artifacts root (``--safety-artifacts``)."""

    def __init__(self, root: Path, plot_workers: int | None = None) -> None:
        self.root = root
        self.plot_workers = plot_workers  # None: as many as the machine's cores allow
        self._painter: Any = None  # one per session: per-case plots reuse its figures

    @property
    def painter(self) -> Any:
        """Draws in worker processes where cores are spare (:mod:`.plot_worker`), else in process."""
        if self._painter is None:
            from deepsight_pytest.diagnostics.plot_worker import painter

            self._painter = painter(self.plot_workers)
        return self._painter

    def close(self) -> None:
        """Wait for the plots still drawing (one warning for any that failed)."""
        close = getattr(self._painter, "close", None)
        if callable(close):
            close()
        self._painter = None

    def case_sink(self, benchmark: str, category: str, case_id: str, key: str) -> Sink:
        folder = self.root / "cases" / safe_part(benchmark) / safe_part(category) / f"{safe_part(case_id)}-{key[:10]}"
        return Sink(self.root, folder, self.painter)

    def method_sink(self, method: str, key: str) -> Sink:
        return Sink(self.root, self.root / "deepscan" / f"{safe_part(method)}-{key[:12]}", self.painter)

    def relative(self, path: str | None) -> str | None:
        if path is None:
            return None
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return path

    def absolute(self, path: str | None) -> str | None:
        return None if path is None else str(self.root / path)

    def present(self, path: str | None) -> bool:
        return path is None or Path(path).is_file()
