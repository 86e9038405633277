"""What the multimodal loaders share: an image named by a row, a risk read from a category's words.

An upstream table names its image as a path relative to a folder (MSSBench, MOSSBench, VLSBench,
SIUO, the project's samples) or carries it inline, as a Parquet file written by ``datasets`` does
(``{"bytes": ..., "path": ...}``: MM-SafetyBench). Records never hold image bytes (``images.py``),
so an inline image is written once to a content-addressed file, ``<sha256>.<format>`` under
:func:`image_store` (``DEEPSIGHT_IMAGE_DIR``, else ``~/.cache/deepsight-pytest/images``); its
path then works like any other.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from deepsight_pytest.errors import DataError
from deepsight_pytest.core.images import TEXT_ONLY_META, image_format, image_part, text_part
from deepsight_pytest.records import Case
from deepsight_pytest.benchmarks.common import slug

STORE_ENV = "DEEPSIGHT_IMAGE_DIR"


def image_store() -> Path:
    """Where inline images are written (created on first use)."""
    configured = os.environ.get(STORE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "deepsight-pytest" / "images"


def relative_image(where: str, folder: Path, name: Any, column: str) -> dict[str, str]:
    """The image part for ``name``, a relative path under ``folder``: refused when empty, absolute or
    climbing out of the folder (``..``); a missing or unsupported file is one line naming it."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"{where}: empty or non-text value in column {column!r}")
    posix = PurePosixPath(name.strip().replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z]:", str(posix)):
        raise DataError(f"{where}: {column} must be a path inside the data folder, got {name!r}")
    return image_part(folder / posix, where)


def stored_image(where: str, data: bytes) -> dict[str, str]:
    """The image part for inline bytes, written once to ``image_store()/<sha256>.<format>``."""
    kind = image_format(data[:16])
    if kind is None:
        raise DataError(f"{where}: the inline image is in an unsupported format (supported: png, jpeg, gif, webp)")
    digest = hashlib.sha256(data).hexdigest()
    store = image_store()
    path = store / f"{digest}.{kind}"
    if not path.is_file():
        try:
            store.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as exc:
            raise DataError(f"{where}: cannot write the inline image to {store} ({exc.strerror}); "
                            f"set {STORE_ENV} to a writable folder") from None
    return image_part(path, where)


def cell_image(where: str, value: Any, folder: Path, column: str = "image") -> dict[str, str]:
    """An image cell in any of its upstream shapes: ``datasets``' ``{"bytes", "path"}`` struct,
    raw bytes, or a path relative to ``folder``."""
    if isinstance(value, Mapping):
        data, name = value.get("bytes"), value.get("path")
        if isinstance(data, (bytes, bytearray, memoryview)) and data:
            return stored_image(where, bytes(data))
        return relative_image(where, folder, name, column)
    if isinstance(value, (bytes, bytearray, memoryview)) and value:
        return stored_image(where, bytes(value))
    return relative_image(where, folder, value, column)


#: words of a category name -> taxonomy risk; the first rule that matches wins (upstream category
#: spellings vary between releases, so a category is read by its words, never silently defaulted)
RISK_WORDS: tuple[tuple[str, str], ...] = (
    ("self_harm|self-harm|suicide|eating_disorder", "self_harm"),
    ("erotic|sex|porn|nudity", "sex"),
    ("weapon|explosive|bomb|firearm|chemical|biolog", "weapon"),
    ("drug|substance|alcohol|tobacco", "substance"),
    ("hate|discriminat|stereotyp|racis|religio|offensive|insult|harass|bias", "hate"),
    ("misinfo|misinterpret|controvers|politic|moral|ethic|deception|legal_opinion|financial_advice|"
     "health|lobbying|gov_decision", "misinformation"),
    ("illegal|crime|criminal|fraud|privacy|violen|danger|harm|malware|cyber|property|injur|economic", "crime"),
)


def risk_by_words(family: str, category: str, where: str) -> str:
    """The taxonomy risk of ``category`` by its words (:data:`RISK_WORDS`); a DataError naming
    ``where`` when no rule matches."""
    name = slug(category)
    for pattern, risk in RISK_WORDS:
        if re.search(pattern, name):
            return risk
    raise DataError(f"{where}: {family} category {category!r} matches no risk of the taxonomy "
                    f"(benchmarks/vision.py RISK_WORDS)")


def with_image(case: Case, question: str, picture: dict[str, str], *, image_first: bool = False) -> Case:
    """``case`` (built as text by ``user_case``) asked with ``picture`` beside its question, the
    question kept as its text-only form (``--safety-text-only``, text judges)."""
    parts = [picture, text_part(question)] if image_first else [text_part(question), picture]
    return Case(case.benchmark, case.id, case.category, ({"role": "user", "content": parts},), case.expect,
                meta={**case.meta, TEXT_ONLY_META: question})
