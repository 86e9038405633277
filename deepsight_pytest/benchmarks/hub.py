"""Rows from the Hugging Face hub through ``datasets``, in the shape the local readers give.

``ref`` is a hub id (``Babelscape/ALERT``), a local folder laid out like a hub repository (data
files plus a README whose ``configs`` name them), or a folder written by
``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (one sub-folder per config is accepted).
Every row comes back as ``(where, row)`` with ``where = "hub:<ref>[<config>/<split>] row <n>"``,
so the benchmark's parser and its error messages are the same as for a local file.

``datasets`` is imported here only, and only when a suite asks for the hub.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from deepsight_pytest.errors import DataError
from deepsight_pytest.benchmarks.part import Part

SAVED_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
INSTALL_HINT = "pip install 'deepsight-pytest[hub]'"


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise DataError(f"reading benchmarks from the hub needs the datasets package: {INSTALL_HINT}") from None
    return datasets


def _saved_folder(ref: str, part: Part) -> Path | None:
    """The ``save_to_disk`` folder for this part, if ``ref`` is one (or holds one per config)."""
    folder = Path(ref).expanduser()
    if part.config and (folder / part.config).is_dir():
        folder = folder / part.config
    return folder if any((folder / marker).is_file() for marker in SAVED_MARKERS) else None


def _open(ref: str, part: Part, label: str) -> Any:
    datasets = _datasets()
    saved = _saved_folder(ref, part)
    try:
        if saved is None:
            return datasets.load_dataset(ref, part.config, split=part.split, data_files=part.data_files)
        table = datasets.load_from_disk(str(saved))
    except Exception as exc:  # datasets raises network, config and split errors of many types
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(f"{label}: cannot load through datasets ({type(exc).__name__}: {detail})") from None
    if isinstance(table, datasets.DatasetDict):
        if part.split not in table:
            raise DataError(f"{label}: no split {part.split!r}; the saved dataset has "
                            f"{', '.join(table)}")
        table = table[part.split]
    return table


def hub_rows(ref: str, part: Part, required: tuple[str, ...],
             rename: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for each row of one hub table, columns renamed to the upstream names."""
    label = f"hub:{ref}[{part.config or 'default'}/{part.split}]"
    table = _open(ref, part, label)
    columns = [rename.get(name, name) for name in table.column_names]
    missing = [column for column in required if column not in columns]
    if missing:
        raise DataError(f"{label}: missing column(s) {', '.join(missing)} "
                        f"(columns: {', '.join(columns)})")
    for number, row in enumerate(table, start=1):
        yield f"{label} row {number}", {rename.get(key, key): value for key, value in row.items()}
