"""pytest-html integration: a failing case's row carries the response, verdict and diagnostics.

Active only when pytest-html is installed and ``--html`` is given. Extras are text, JSON and PNG
only (never pytest-html's raw ``html`` extra), so model output cannot become markup there either.
Runs where the test runs (xdist workers included); the extras travel on the report.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Generator

import pytest

from deepsight_pytest.diagnostics import settle_plots
from deepsight_pytest.records import Record
from deepsight_pytest.reporting.casepack import PNG_SIGNATURE, CardLimits
from deepsight_pytest.reporting.payload import PAYLOAD_KEY

PLUGIN_NAME = "deepsight-html-extras"


def case_extras(record: Record, search: list[Path], max_plot: int = CardLimits().max_plot) -> list[dict[str, Any]]:
    """pytest-html extras for one record: verdict, response, then per diagnostic numbers and plot."""
    from pytest_html import extras  # only called when pytest-html is loaded

    verdict = record.verdict
    out = [
        extras.text(f"{verdict.label} (safe={verdict.safe.value}, expected {record.case.expect.value}) "
                    f"by {verdict.judge}: {verdict.rationale}", name="deepsight verdict"),
        extras.text(record.response.text, name="deepsight response"),
    ]
    for index, diagnosis in enumerate(record.diagnostics):
        entry = diagnosis if isinstance(diagnosis, dict) else {"summary": str(diagnosis)}
        method = str(entry.get("method", f"diagnostic {index + 1}"))
        out.append(extras.json({k: entry.get(k) for k in ("method", "summary", "numbers", "data")},
                               name=f"deepsight {method}"))
        settle_plots([entry["plot"]] if entry.get("plot") else [])  # drawn in the background
        png = _png(entry.get("plot"), search, max_plot)
        if png is not None:
            out.append(extras.png(base64.b64encode(png).decode("ascii"), name=f"deepsight {method} plot"))
    return out


def _png(raw: Any, search: list[Path], max_plot: int) -> bytes | None:
    if not raw:
        return None
    path = Path(str(raw)).expanduser()
    for candidate in [path] if path.is_absolute() else [base / path for base in search]:
        if candidate.is_file() and candidate.stat().st_size <= max_plot:
            data = candidate.read_bytes()
            return data if data.startswith(PNG_SIGNATURE) else None
    return None


class HtmlExtras:
    """Adds extras to the call report of a failing case test."""

    def __init__(self, rootpath: Path) -> None:
        self.search = [Path.cwd(), rootpath]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        payload = item.stash.get(PAYLOAD_KEY, None)
        if report.when == "call" and report.failed and payload is not None and payload["kind"] == "case":
            record = Record.from_dict(payload["record"])
            report.extras = [*getattr(report, "extras", []), *case_extras(record, self.search)]  # type: ignore[attr-defined]
        return report


def configure(config: pytest.Config) -> None:
    """Register when pytest-html is loaded and writing a report."""
    if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
        config.pluginmanager.register(HtmlExtras(config.rootpath), PLUGIN_NAME)

