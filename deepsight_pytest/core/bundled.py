"""Where the bundled sample sets and suites live: inside the installed package, or the source tree.

A built wheel carries ``fixtures/`` and ``safety_tests/`` as package data under
``deepsight_pytest/_bundled/`` (``setup.py`` copies them at build time; the repository keeps them at
its root). An editable install or a checkout has no ``_bundled/`` folder and reads the root.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def bundled_dir(name: str) -> Path:
    """The folder ``name`` (``fixtures`` or ``safety_tests``) of the package, else of the checkout."""
    packaged = Path(str(files("deepsight_pytest").joinpath("_bundled").joinpath(name)))
    return packaged if packaged.is_dir() else _SOURCE_ROOT / name


#: the project's own sample sets (``alert-sample``, ``safesci-sample``, ...)
FIXTURES_DIR = bundled_dir("fixtures")
#: the bundled suites that ``deepsight init`` writes into a project
SUITES_DIR = bundled_dir("safety_tests")
