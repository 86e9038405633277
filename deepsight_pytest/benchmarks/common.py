"""Small helpers shared by the loaders: ids, field access with file:line errors, case building."""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from deepsight_pytest.errors import DataError
from deepsight_pytest.records import Case, Expect


def slug(text: str) -> str:
    """A category or id made safe for test ids: lower case, ``[a-z0-9_+-]``."""
    return re.sub(r"[^a-z0-9_+\-]+", "_", text.strip().lower()).strip("_") or "uncategorised"


def user_case(benchmark: str, case_id: str, category: str, prompt: str, expect: Expect,
              key: str | None = None, **meta: Any) -> Case:
    """A single-turn case: the prompt as the one user message."""
    return Case(
        benchmark=benchmark,
        id=slug(case_id),
        category=slug(category),
        messages=({"role": "user", "content": prompt},),
        expect=expect,
        key=key,
        meta=meta,
    )


def text(where: str, row: Mapping[str, Any], column: str) -> str:
    """A non-empty string field, stripped, or a DataError naming ``where`` and the column."""
    value = row.get(column)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: empty or non-text value in column {column!r}")
    return value.strip()


def optional_text(row: Mapping[str, Any], column: str) -> str:
    """A string field that may be missing or empty (meta data), stripped."""
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def ident(where: str, row: Mapping[str, Any], column: str) -> str:
    """An id field: a non-empty string or an integer (JSON files often number their rows)."""
    value = row.get(column)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise DataError(f"{where}: empty or invalid id in column {column!r}")
    return str(value).strip()


def one_of(where: str, value: str, allowed: Iterable[str], what: str) -> str:
    """``value`` when it is one of ``allowed``, else a DataError listing them."""
    options = list(allowed)
    if value not in options:
        raise DataError(f"{where}: {what} must be one of {', '.join(options)}, got {value!r}")
    return value


def number_rows(rows: Iterable[tuple[str, dict[str, Any]]]) -> Iterable[tuple[int, str, dict[str, Any]]]:
    """(1-based row number, where, row): ids for files whose rows carry none."""
    for number, (where, row) in enumerate(rows, start=1):
        yield number, where, row
