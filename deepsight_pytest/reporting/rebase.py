"""Artifact paths of a results file, re-expressed for a file written in another folder.

Results name their artifacts (diagnostics plots and data, a case's image files) relative to the
results file's own folder (:mod:`.portable`). ``deepsight merge`` reads shards from their folders
and writes one file elsewhere, so each shard's relative paths are rebased onto the merged file's
folder. A path is rebased only when it names an existing file from the shard's folder, so answer
text or a path that was already dangling is never touched.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from deepsight_pytest.reporting.results import RunResults

#: the keys whose values are artifact paths (diagnostics entries: plot, data; image parts: path)
PATH_KEYS = ("plot", "data", "path")


def rebase_path(value: str, source: Path, target: Path) -> str:
    """``value`` relative to ``target`` when it names an existing file relative to ``source``."""
    if not value or os.path.isabs(value) or not (source / value).is_file():
        return value
    return os.path.relpath(source / value, target)


def _walk(node: Any, source: Path, target: Path) -> Any:
    if isinstance(node, dict):
        return {key: rebase_path(value, source, target) if key in PATH_KEYS and isinstance(value, str)
                else _walk(value, source, target) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_walk(item, source, target) for item in node)
    return node


def rebase_artifacts(results: RunResults, source: Path, target: Path) -> RunResults:
    """``results`` read from a file in ``source``, its artifact paths made relative to ``target``."""
    source, target = source.resolve(), target.resolve()
    if source == target:
        return results
    for outcome in results.cases:
        record = outcome.record
        case = replace(record.case, messages=_walk(record.case.messages, source, target))
        outcome.record = replace(record, case=case, diagnostics=_walk(record.diagnostics, source, target))
    return results
