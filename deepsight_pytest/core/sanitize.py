"""Text that leaves the plugin: one masking function for model specs and URLs, one neutraliser
for strings that reach a terminal, a log or a JUnit message (model and data output is hostile)."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

SECRET_KEYS = re.compile(r"key|token|secret|password|passwd|auth|credential", re.I)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+):[^@/\s]+@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def mask_spec(spec: str) -> str:
    """A model spec or URL fit for any output: key-ish ``?name=value`` values and URL passwords masked."""
    head, sep, query = str(spec).partition("?")
    head = _URL_PASSWORD.sub(r"\1:***@", head)
    if not sep:
        return head
    pairs = [(k, "***" if SECRET_KEYS.search(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)]
    return f"{head}?{urlencode(pairs, safe='*/:')}"


def neutralise(text: str) -> str:
    """``text`` with control characters made visible (ESC -> ``\\x1b``), so it cannot drive a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
