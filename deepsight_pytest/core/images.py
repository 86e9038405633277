"""Images in messages: OpenAI-style content parts that name a file by path and sha256.

A message's ``content`` is either text or a list of parts, ``{"type": "text", "text": ...}`` and
``{"type": "image", "path": ..., "sha256": ...}``. An image is never inlined as bytes in a record,
a cache key or a JSON file: the path says where it is, the hash what it is (the response key covers
the hash, not the path, so moving the data folder keeps the cache warm). Backends that see images
read the file when they send or encode it; text-only backends refuse such a case (``engine.py``)
unless ``--safety-text-only`` turns it into text (:func:`as_text_only`).

Nothing here imports Pillow: formats are told by their magic bytes.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from deepsight_pytest.errors import DataError

#: formats every image-seeing backend here reads (Pillow, OpenAI-compatible servers), by magic bytes
FORMATS: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),  # + "WEBP" at offset 8, checked below
}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
TEXT_ONLY_META = "text_only"  # meta key: what --safety-text-only sends instead of the image case
_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256


def image_format(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``gif``, ``webp`` or None, from the file's first bytes."""
    for name, signatures in FORMATS.items():
        if any(data.startswith(s) for s in signatures):
            if name == "webp" and data[8:12] != b"WEBP":
                continue
            return name
    return None


def read_image(path: str | os.PathLike[str], where: str = "") -> tuple[bytes, str]:
    """The file's bytes and format; a missing, unreadable or unsupported file is one
    :class:`DataError` line naming the path (and ``where``: the case or row that uses it)."""
    prefix = f"{where}: " if where else ""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{prefix}image not found: {path}") from None
    except OSError as exc:
        raise DataError(f"{prefix}cannot read image {path} ({exc.strerror or type(exc).__name__})") from None
    kind = image_format(data[:16])
    if kind is None:
        raise DataError(f"{prefix}unsupported image format: {path} (supported: {', '.join(FORMATS)})")
    return data, kind


def image_sha256(path: str | os.PathLike[str], where: str = "") -> str:
    """The file's sha256, checked readable and in a supported format; cached per (path, size, mtime)."""
    try:
        stat = os.stat(path)
        memo = (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        memo = None
    if memo is not None and memo in _HASHES:
        return _HASHES[memo]
    data, _ = read_image(path, where)
    digest = hashlib.sha256(data).hexdigest()
    if memo is not None:
        _HASHES[memo] = digest
    return digest


def image_part(path: str | os.PathLike[str], where: str = "") -> dict[str, str]:
    """``{"type": "image", "path": <absolute path>, "sha256": ...}`` for a file (checked now)."""
    resolved = str(Path(path).expanduser().resolve())
    return {"type": "image", "path": resolved, "sha256": image_sha256(resolved, where)}


def text_part(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image"


def content_text(content: Any) -> str:
    """The text of a message's content: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def images_of(messages: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Every image part of these messages, in order."""
    return [p for m in messages if isinstance(m.get("content"), (list, tuple)) for p in m["content"] if is_image(p)]


def has_images(messages: Iterable[dict[str, Any]]) -> bool:
    return bool(images_of(messages))


def place_images(content: Any, position: str) -> Any:
    """``position`` ``before`` / ``after``: the images moved before / after the text parts
    (each side in its own order); ``case``: as the case gives them. Text content is unchanged."""
    if not isinstance(content, (list, tuple)) or position == "case":
        return content
    images = [p for p in content if is_image(p)]
    texts = [p for p in content if not is_image(p)]
    return images + texts if position == "before" else texts + images


def key_view(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with each image reduced to its hash: what a cache key or a chat-mode rendering
    holds (the path is where the file is today, not what it is)."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, (list, tuple)):
            content = [{"type": "image", "sha256": p.get("sha256")} if is_image(p) else dict(p) for p in content]
        out.append({**m, "content": content})
    return out


class Prompt(str):
    """A rendered prompt that carries its images (path + sha256 parts, in the order the rendered
    text refers to them): image-seeing backends read ``prompt.images``; the response key adds their
    hashes. A plain ``str`` has none."""

    images: tuple[dict[str, str], ...]

    def __new__(cls, text: str, images: Sequence[dict[str, str]] = ()) -> "Prompt":
        made = super().__new__(cls, text)
        made.images = tuple(images)
        return made


def prompt_images(prompt: str) -> tuple[dict[str, str], ...]:
    return getattr(prompt, "images", ())


def as_text_only(case: Any) -> Any:
    """The case without its images (``--safety-text-only``): the benchmark's own text-only
    form (``meta["text_only"]``, e.g. FigStep's vanilla question, as the last user turn) or else
    each message's text parts; ``meta["images_withheld"]`` says how many images were left out."""
    if not has_images(case.messages):
        return case
    withheld = len(images_of(case.messages))
    messages = [{**m, "content": content_text(m.get("content"))} for m in case.messages]
    fallback = case.meta.get(TEXT_ONLY_META)
    if isinstance(fallback, str) and fallback:
        last = max(i for i, m in enumerate(messages) if m.get("role") == "user")
        messages[last] = {**messages[last], "content": fallback}
    return replace(case, messages=tuple(messages), meta={**case.meta, "images_withheld": withheld})
