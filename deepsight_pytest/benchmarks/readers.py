"""Row readers for benchmark files: every error names the file and the line at fault.

:func:`read_rows` is what loaders use: ``(where, row)`` pairs from a CSV, JSON-lines or JSON-array
file, ``where`` being ``file:line``. The older ``csv_rows`` / ``jsonl_rows`` (line numbers as
ints) stay for callers that want them.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable, Iterator

from deepsight_pytest.errors import DataError


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


#: The longest cell a benchmark file may hold, in characters: Python's csv default, far above any
#: prompt a model takes (128k tokens is about 500k characters only for the largest contexts, and
#: no benchmark prompt comes near). JSON cells read through :func:`require_text` share it.
MAX_FIELD_CHARS = 131_072


def _csv_problem(path: Path, line: int, exc: csv.Error) -> DataError:
    """One line for what the csv module found at the row starting on ``line``."""
    message = str(exc)
    if "field larger than field limit" in message:
        return DataError(f"{path}:{line}: a cell is longer than {MAX_FIELD_CHARS:,} characters, the limit "
                         f"for one benchmark field (no prompt is that long: is a quote left open?)")
    if "unexpected end of data" in message or "expected after '\"'" in message:
        return DataError(f"{path}:{line}: a quoted cell in this row is never closed (or text follows its "
                         f"closing quote); refused rather than read the rows after it as one cell")
    return DataError(f"{path}:{line}: malformed CSV ({message})")


def csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each CSV data row, after checking the header has ``required``.

    Strict quoting: an unclosed quote is an error naming the row, not a cell that swallows the
    rest of the file; a cell over :data:`MAX_FIELD_CHARS` is an error too."""
    # Split at \n, \r\n and \r only (as csv wants): str.splitlines() also splits inside cells at
    # U+2028, U+0085, \f and friends, turning one valid row into two broken ones.
    lines = io.StringIO(_text(path), newline="").readlines()
    reader = csv.DictReader(lines, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise _csv_problem(path, 1, exc) from None
    missing = [column for column in required if column not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)} (header: {', '.join(header)})")
    line = reader.line_num
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _csv_problem(path, line + 1, exc) from None
        start = line + 1
        while start < reader.line_num and not lines[start - 1].strip("\r\n"):
            start += 1  # blank lines the reader skipped before this row
        line = reader.line_num
        if None in row or any(row.get(column) is None for column in required):
            raise DataError(f"{path}:{start}: row does not match the header's {len(header)} columns")
        if any(len(value) > MAX_FIELD_CHARS for value in row.values() if isinstance(value, str)):
            raise _csv_problem(path, start, csv.Error("field larger than field limit"))  # a raised csv limit
        yield start, row


def jsonl_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each JSON line, checking that ``required`` keys are present."""
    for number, line in enumerate(io.StringIO(_text(path), newline="").readlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        missing = [key for key in required if key not in row]
        if missing:
            raise DataError(f"{path}:{number}: missing key(s) {', '.join(missing)}")
        yield number, row


def require_text(path: Path, line: int, row: dict[str, Any], column: str) -> str:
    """A non-empty string cell, or a DataError naming file, line and column."""
    value = row.get(column)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}:{line}: empty or non-text value in column {column!r}")
    if len(value) > MAX_FIELD_CHARS:
        raise DataError(f"{path}:{line}: column {column!r} is {len(value):,} characters long, over the "
                        f"{MAX_FIELD_CHARS:,}-character limit for one benchmark field")
    return value.strip()


def json_array_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each element of a top-level JSON array, decoded one element at
    a time so that every error names the line where its element starts."""
    text = _text(path)
    index = _skip_space(text, 0)
    if text[index:index + 1] != "[":
        raise DataError(f"{path}:{_line(text, index)}: expected a JSON array of objects")
    yield from _array_elements(path, text, index, required)


def _array_elements(path: Path, text: str, index: int,
                    required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of the JSON array that starts at ``text[index]`` (a ``[``)."""
    decoder = json.JSONDecoder()
    index = _skip_space(text, index + 1)
    while text[index:index + 1] != "]":
        line = _line(text, index)
        try:
            row, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{_line(text, exc.pos)}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
        missing = [key for key in required if key not in row]
        if missing:
            raise DataError(f"{path}:{line}: missing field(s) {', '.join(missing)}")
        yield line, row
        index = _skip_space(text, index)
        if text[index:index + 1] == ",":
            index = _skip_space(text, index + 1)
        elif text[index:index + 1] != "]":
            raise DataError(f"{path}:{_line(text, index)}: expected ',' or ']' in the JSON array")


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def json_member_rows(path: Path, member: str, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each element of the array under ``member`` of a top-level JSON
    object (MSSBench's ``combined.json``: ``{"chat": [...], "embodied": [...]}``), each error naming
    the line where its element starts."""
    text = _text(path)
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if text[index:index + 1] != "{":
        raise DataError(f"{path}:{_line(text, index)}: expected a JSON object with a {member!r} array")
    index = _skip_space(text, index + 1)
    while text[index:index + 1] not in ("}", ""):
        try:
            key, index = decoder.raw_decode(text, index)
            index = _skip_space(text, index)
            if text[index:index + 1] != ":":
                raise DataError(f"{path}:{_line(text, index)}: expected ':' after the key {key!r}")
            index = _skip_space(text, index + 1)
            if key == member:
                if text[index:index + 1] != "[":
                    raise DataError(f"{path}:{_line(text, index)}: {member!r} must be a JSON array of objects")
                yield from _array_elements(path, text, index, required)
                return
            _, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{_line(text, exc.pos)}: invalid JSON ({exc.msg})") from None
        index = _skip_space(text, index)
        if text[index:index + 1] == ",":
            index = _skip_space(text, index + 1)
    raise DataError(f"{path}:1: no {member!r} array in this JSON object")


def parquet_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) for each row of a Parquet file (MM-SafetyBench), read a batch at a time;
    an image column arrives as datasets writes it: ``{"bytes": ..., "path": ...}``."""
    try:
        import pyarrow.parquet as pq  # only for Parquet files, and only when one is read
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install 'deepsight-pytest[hub]')") from None
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    header = table.schema_arrow.names
    missing = [column for column in required if column not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)} (columns: {', '.join(header)})")
    number = 0
    for batch in table.iter_batches(batch_size=64):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _json_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """A ``.json`` file holds a JSON array (SALAD-Bench, SafeSci) or, for some exports, JSON lines."""
    head = _text(path).lstrip()[:1]
    return json_array_rows(path, required) if head == "[" else jsonl_rows(path, required)


READERS: dict[str, Callable[[Path, tuple[str, ...]], Iterator[tuple[int, dict[str, Any]]]]] = {
    ".csv": csv_rows,
    ".jsonl": jsonl_rows,
    ".json": _json_rows,
    ".parquet": parquet_rows,
}


def read_rows(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:line, row)`` for each row of a CSV, JSON-lines or JSON-array file."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; "
                        f"expected one of {', '.join(READERS)}")
    for line, row in reader(path, required):
        yield f"{path}:{line}", row
