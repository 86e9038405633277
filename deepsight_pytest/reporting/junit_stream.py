"""Write pytest's JUnit XML from a spool of finished test cases instead of from memory.

pytest's ``junitxml`` turns each test case into an element tree when it finishes (``finalize``)
and keeps every tree to the end of the session, then builds the whole document as one string
(``ET.tostring``). At 20,000 failing cases the trees (a dozen property elements each) and that
string were the largest cost of the run. This plugin serialises each case's element to a
temporary spool file the moment pytest finalises it (the tree is dropped; the reporter keeps an
offset), then at ``pytest_sessionfinish`` (tryfirst) writes the same document to the same file,
copying the spooled cases in pytest's order; pytest's own writer is pointed at ``os.devnull`` and
the path restored before the terminal summary names the file. It reads ``LogXML``'s attributes; if
any is missing (another pytest), it does nothing and pytest writes the file as usual (a spooled
case reads back as an element then).
"""
from __future__ import annotations

import os
import platform
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Any

import pytest

from deepsight_pytest.reporting.portable import portable

SENTINEL = "deepsight-stream-cases-here"


def _document_ends(xml: Any) -> tuple[str, str]:
    """The text before and after the test cases, exactly as pytest's writer makes it."""
    duration = xml.suite_start.elapsed()
    stats = xml.stats
    numtests = stats["passed"] + stats["failure"] + stats["skipped"] + stats["error"] - xml.cnt_double_fail_tests
    suite = ET.Element("testsuite", name=xml.suite_name, errors=str(stats["error"]),
                       failures=str(stats["failure"]), skipped=str(stats["skipped"]), tests=str(numtests),
                       time=f"{duration.seconds:.3f}",
                       timestamp=xml.suite_start.as_utc().astimezone().isoformat(), hostname=platform.node())
    global_properties = xml._get_global_properties_node()
    if global_properties is not None:
        suite.append(global_properties)
    ET.SubElement(suite, SENTINEL)
    top = ET.Element("testsuites")
    top.set("name", "pytest tests")
    top.append(suite)
    head, tail = ET.tostring(top, encoding="unicode").split(f"<{SENTINEL} />")
    return '<?xml version="1.0" encoding="utf-8"?>' + head, tail


def _run_folders(config: pytest.Config) -> list[Path | None]:
    """The project and the run's data, cache and artifacts folders (when deepsight is configured)."""
    from deepsight_pytest.pytest_integration.session import STATE_KEY

    state = config.stash.get(STATE_KEY, None)
    settings = getattr(state, "settings", None)
    return [config.rootpath, *(getattr(settings, name, None) for name in ("data_dir", "cache_dir", "artifacts"))]


class Spooled:
    """What a finalised reporter's ``to_xml`` becomes: where its serialised element lies."""

    def __init__(self, spool: IO[bytes], offset: int, size: int) -> None:
        self.spool, self.offset, self.size = spool, offset, size

    def read(self) -> bytes:
        self.spool.seek(self.offset)
        return self.spool.read(self.size)

    def __call__(self) -> ET.Element:
        """pytest's own writer (only if this plugin did not write the file) gets the element back."""
        return ET.fromstring(self.read().decode("utf-8"))


class StreamingJUnit:
    """Registered at configure when ``--junitxml`` is given (on the xdist controller too)."""

    def __init__(self) -> None:
        self._swapped: tuple[Any, str] | None = None
        self._spool: IO[bytes] | None = None
        self._end = 0  # bytes spooled so far (no seek per case: a seek flushes the buffer)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Wrap ``LogXML.finalize`` (after junitxml's configure made it) to spool each case."""
        from _pytest.junitxml import xml_key

        xml = session.config.stash.get(xml_key, None)
        original = getattr(xml, "finalize", None)
        if xml is None or original is None or not hasattr(xml, "node_reporters"):
            return

        def finalize(report: pytest.TestReport) -> None:
            reporter = xml.node_reporters.get((report.id, getattr(report, "node", None)))
            original(report)
            if reporter is not None:
                self._spool_case(reporter)

        xml.finalize = finalize  # type: ignore[method-assign]

    def _spool_case(self, reporter: Any) -> None:
        try:
            element = reporter.to_xml()
        except (AttributeError, TypeError):
            return
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(prefix="deepsight-junit-")
        data = ET.tostring(element, encoding="unicode").encode("utf-8")
        self._spool.seek(self._end)  # after a read-back (pytest's fallback writer), if any
        self._spool.write(data)
        reporter.to_xml = Spooled(self._spool, self._end, len(data))  # the element tree is freed
        self._end += len(data)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from _pytest.junitxml import xml_key

        xml = session.config.stash.get(xml_key, None)
        if xml is None or getattr(session.config, "workerinput", None) is not None:
            return
        try:
            head, tail = _document_ends(xml)
            reporters = xml.node_reporters_ordered
            path = xml.logfile
        except (AttributeError, KeyError, TypeError, ValueError):
            return  # not the LogXML this was written against: pytest writes the file itself
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        local = portable(Path(os.path.abspath(path)).parent, _run_folders(session.config))
        with open(path, "w", encoding="utf-8") as handle:  # paths relative to the file's folder
            handle.write(local(head))
            for reporter in reporters:
                spooled = reporter.to_xml
                handle.write(local(spooled.read().decode("utf-8") if isinstance(spooled, Spooled)
                                   else ET.tostring(spooled(), encoding="unicode")))
            handle.write(local(tail))
        reporters.clear()
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self._swapped = (xml, path)
        xml.logfile = os.devnull  # pytest's own writer then writes an empty suite nowhere

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self) -> None:
        if self._swapped is not None:  # "generated xml file: <path>" names the real file
            xml, path = self._swapped
            xml.logfile = path
            self._swapped = None
