"""Small PNG thumbnails of image cases for the card (Pillow, imported only when a card has images)."""
from __future__ import annotations

import io


def thumbnail_png(path: str, size: int) -> bytes:
    """The image at ``path`` shrunk to at most ``size`` pixels a side, as PNG bytes. A missing,
    unreadable or undecodable file raises :class:`OSError` (Pillow's ``UnidentifiedImageError``
    is one) with a one-line message."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            small = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    except FileNotFoundError:
        raise OSError(f"image not found: {path}") from None
    except UnidentifiedImageError:
        raise OSError(f"not an image Pillow reads: {path}") from None
    small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()
