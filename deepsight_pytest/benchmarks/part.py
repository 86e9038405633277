"""A benchmark's table (:class:`Part`): a leaf module, so the loader (``base``) and the hub reader
(``hub``) both import it without importing each other."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One table of a benchmark: its local file and its place on the hub.

    ``subset`` names the subset the whole table belongs to (only the parts of the chosen subsets
    are read); ``None`` means the parser assigns subsets row by row. ``config``, ``split`` and
    ``data_files`` locate the same table on the hub. For a local read the loader hands the parser
    the part with ``file`` made absolute, so a parser can find data that sits beside it (images).
    """

    file: str
    subset: str | None = None
    config: str | None = None
    split: str = "train"
    data_files: str | None = None
