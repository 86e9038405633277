"""Output files that name no absolute path of the machine that wrote them.

Records carry absolute paths while the run needs them (diagnostics plots and data, a model's
folder in its spec, a file named in an error). Each writer passes its text through
:func:`portable` just before it reaches the file: every absolute path under one of this
machine's roots (the working folder, a home like ``/home/me``, the Python environment, the
package's checkout, the project and the run's data, cache and artifacts folders) becomes the same
path relative to the output file's folder. A report moved together with its artifacts folder still finds them, and the card and
``deepsight report`` resolve such paths against the results file's folder.

The roots are this run's own folders, not generic ones: the temporary folder and a top-level home
(``/root``) are left out, since a model's answer may well say ``/tmp/x`` or ``cd /root`` and
rewriting it would change the recorded answer.
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

#: characters that end a path inside text, JSON, XML and HTML (whitespace, quotes, markup, escapes)
_PATH_TAIL = r"""(?:/[^\s"'<>\\]*)?"""
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def machine_roots(extra: Iterable[Path | str | None] = ()) -> list[str]:
    """This machine's folders whose paths an output file may mention (``/`` itself never)."""
    home = Path.home()
    candidates: list[Path | str | None] = [Path.cwd(), home if len(home.parts) > 2 else None, sys.prefix,
                                           sys.base_prefix, _SOURCE_ROOT, *extra]
    roots: set[str] = set()
    for candidate in candidates:
        if candidate is None:
            continue
        for form in {os.path.abspath(candidate), os.path.realpath(candidate)}:
            if form != os.path.dirname(form):  # not the filesystem root
                roots.add(form.rstrip(os.sep))
    return sorted(roots, key=len, reverse=True)


@lru_cache(maxsize=32)
def _pattern(roots: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(root) for root in roots)
    # a root starts a path only after a non-path character (so /a/tmp is not /tmp) and ends at a separator
    return re.compile(rf"(?<![\w.\-/~])(?:{alternatives})(?![\w.\-]){_PATH_TAIL}")


def portable(folder: Path, extra_roots: Iterable[Path | str | None] = ()) -> Callable[[str], str]:
    """A function rewriting this machine's absolute paths in text as paths relative to ``folder``."""
    base = os.path.abspath(folder)
    roots = tuple(machine_roots(extra_roots))
    if not roots:
        return lambda text: text
    pattern = _pattern(roots)

    def rewrite(text: str) -> str:
        return pattern.sub(lambda match: os.path.relpath(match.group(0), base), text)

    return rewrite
