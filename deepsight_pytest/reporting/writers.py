"""The report writers, one entry per output file format.

Each entry names the setting that holds its path (the option that asks for it) and a lazy
``module:function`` writer taking ``(path, results, roots)``: ``roots`` are this machine's folders,
written relative to the file (:mod:`.portable`). A new report format is one entry here plus its
option; the end of the session writes every entry whose path is set, in this order.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from deepsight_pytest.reporting.results import RunResults

Writer = Callable[[Path, RunResults, Iterable[Path | None]], Any]


@dataclass(frozen=True)
class ReportWriter:
    """What the summary calls the file, the ``Settings`` attribute holding its path, and the writer."""

    what: str
    setting: str
    target: str
    help: str

    def load(self) -> Writer:
        module, _, name = self.target.partition(":")
        writer: Writer = getattr(importlib.import_module(module), name)
        return writer


#: every report format, in the order the summary lists their files
WRITERS: tuple[ReportWriter, ...] = (
    ReportWriter("JSON results", "json", "deepsight_pytest.reporting.json_writer:write_json",
                 "--safety-json: the run as one JSON document (cases streamed)"),
    ReportWriter("records", "records", "deepsight_pytest.reporting.json_writer:write_records",
                 "--safety-records: one JSON line per record"),
    ReportWriter("HTML report", "report", "deepsight_pytest.reporting.html:write_card",
                 "--safety-report: the self-contained HTML model card (jinja2, imported on use)"),
)
