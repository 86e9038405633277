"""Build hook: the repository keeps ``fixtures/`` and ``safety_tests/`` at its root (the layout is
fixed); a built wheel carries them as package data under ``deepsight_pytest/_bundled/``, where
``deepsight_pytest.core.bundled`` finds them. Everything else is configured in pyproject.toml."""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("fixtures", "safety_tests")


class BuildPyWithBundled(build_py):
    """build_py that also copies the root's sample sets and suites into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        for name in BUNDLED:
            target = Path(self.build_lib) / "deepsight_pytest" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))


setup(cmdclass={"build_py": BuildPyWithBundled})
