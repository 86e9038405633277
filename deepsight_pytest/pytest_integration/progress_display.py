"""Live progress on pytest's terminal: cases done / total, tokens per second, time left.

On a terminal one line is rewritten in place; in a CI log (not a tty) a plain line is written at
most every :data:`PLAIN_EVERY_S` seconds, plus one when a phase ends. Lines go through pytest's
own ``TerminalReporter`` with output capture suspended (as pytest's live logging does), so they
never land in a test's captured output or in JUnit XML. ``--safety-progress=auto`` (default)
shows progress unless ``-q`` is given; xdist workers never write to the terminal (their
controller shows pytest's own per-test progress).
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from deepsight_pytest.core.progress import NO_PROGRESS, Progress, Tracker

PLAIN_EVERY_S = 30.0
TTY_EVERY_S = 0.25


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_line(label: str, phase: str, done: int, total: int, tokens: int, elapsed: float) -> str:
    """``deepsight xstest: generating 12/150, 85 tok/s, 1m20s left`` (plain ASCII: labels are ours)."""
    parts = [f"deepsight {label}: {phase} {done}/{total}"]
    if tokens and elapsed > 0:
        rate = tokens / elapsed
        parts.append(f"{rate:.1f} tok/s" if rate < 10 else f"{rate:.0f} tok/s")
    if done >= total:
        parts.append(f"done in {_duration(elapsed)}")
    elif done and elapsed > 0:
        parts.append(f"{_duration(elapsed / done * (total - done))} left")
    return ", ".join(parts)


class TerminalProgress:
    """Writes progress through the session's terminal reporter."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def track(self, label: str, phase: str, total: int) -> Tracker:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or total <= 0:
            return NO_PROGRESS.track(label, phase, total)
        return _TerminalTracker(reporter, self.config.pluginmanager.get_plugin("capturemanager"), label, phase, total)


class _TerminalTracker:
    def __init__(self, reporter: Any, capture: Any, label: str, phase: str, total: int) -> None:
        self.reporter, self.capture = reporter, capture
        self.label, self.phase, self.total = label, phase, total
        self.done = self.tokens = 0
        self.started = time.monotonic()
        self.tty = bool(getattr(reporter, "isatty", False))
        self.shown_at = self.started if not self.tty else 0.0
        self.in_place = False
        self.shown_done = 0

    def advance(self, cases: int = 1, tokens: int = 0) -> None:
        self.done = min(self.total, self.done + cases)
        self.tokens += tokens
        now = time.monotonic()
        if self.done >= self.total:
            return  # close() writes the final line
        # in place: every 1% of the cases (a batch's answers arrive together) or every 0.25 s
        due = now - self.shown_at >= TTY_EVERY_S or self.done - self.shown_done >= max(1, self.total // 100)
        if (due if self.tty else now - self.shown_at >= PLAIN_EVERY_S):
            self.shown_at, self.shown_done = now, self.done
            self._show()

    def close(self) -> None:
        if self.done or self.in_place:
            self._show(final=True)

    def _line(self) -> str:
        return progress_line(self.label, self.phase, self.done, self.total, self.tokens,
                             time.monotonic() - self.started)

    def _show(self, final: bool = False) -> None:
        suspend = self.capture.global_and_fixture_disabled() if self.capture is not None else _nothing()
        with suspend:
            if self.tty:
                if not self.in_place:
                    self.reporter.ensure_newline()
                self.reporter.rewrite(self._line(), erase=True)
                self.in_place = not final
                if final:
                    self.reporter.write("\n")
            else:
                self.reporter.ensure_newline()
                self.reporter.write_line(self._line())
            self.reporter.flush()
        self.reporter.currentfspath = None  # pytest writes the test file's name again before the next result


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def configure(config: pytest.Config, engine: Any) -> None:
    """Give the engine a terminal display unless progress is off, ``-q`` (auto), or an xdist worker."""
    mode = engine.settings.progress
    if hasattr(config, "workerinput") or mode == "off":
        return
    if mode == "auto" and config.get_verbosity() < 0:
        return
    engine.progress = TerminalProgress(config)


__all__ = ["Progress", "TerminalProgress", "configure", "progress_line"]
