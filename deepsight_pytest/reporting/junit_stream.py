"""Write pytest's JUnit XML one test case at a time instead of as one string.

pytest's ``junitxml`` keeps an element tree per test case to the end (fine), then builds the whole
document as one string (``ET.tostring``) before writing it: at 20,000 failing cases that string
and its buffer were the largest single cost of the run. This plugin writes the same document at
``pytest_sessionfinish`` (tryfirst) to the same file, streaming each case's element and freeing it,
then points pytest's writer at ``os.devnull`` and restores the path before the terminal summary
names the file. It reads ``LogXML``'s attributes; if any is missing (another pytest), it does
nothing and pytest writes the file as usual.
"""
from __future__ import annotations

import os
import platform
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .portable import portable

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
    from ..session import STATE_KEY

    state = config.stash.get(STATE_KEY, None)
    settings = getattr(state, "settings", None)
    return [config.rootpath, *(getattr(settings, name, None) for name in ("data_dir", "cache_dir", "artifacts"))]


class StreamingJUnit:
    """Registered at configure when ``--junitxml`` is given (on the xdist controller too)."""

    def __init__(self) -> None:
        self._swapped: tuple[Any, str] | None = None

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
            while reporters:
                handle.write(local(ET.tostring(reporters.pop(0).to_xml(), encoding="unicode")))
            handle.write(local(tail))
        self._swapped = (xml, path)
        xml.logfile = os.devnull  # pytest's own writer then writes an empty suite nowhere

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self) -> None:
        if self._swapped is not None:  # "generated xml file: <path>" names the real file
            xml, path = self._swapped
            xml.logfile = path
            self._swapped = None
