"""No import cycles among deepsight_pytest's modules (bench/import_cycles.py, counting module-level,
TYPE_CHECKING and function-level imports), and the script finds one when there is one."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "import_cycles.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_package_has_no_import_cycles() -> None:
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.endswith(" 0 cycle(s)") for line in lines), result.stdout


def test_script_reports_each_kind_of_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")                      # module level: a <-> b
    (pkg / "b.py").write_text("from .a import thing\n")
    (pkg / "sub" / "__init__.py").write_text("def f():\n    from .c import g\n")   # lazy: sub <-> sub.c
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import f\n")
    (pkg / "d.py").write_text("import pkg.e\n")                          # only under TYPE_CHECKING: d <-> e
    (pkg / "e.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from pkg.d import x\n")
    result = run(str(pkg))
    assert result.returncode == 1
    sections = result.stdout.split("with ")
    module, typing_, lazy = sections
    assert "1 cycle(s)" in module and "pkg.a, pkg.b" in module
    assert "2 cycle(s)" in typing_ and "pkg.d, pkg.e" in typing_
    assert "3 cycle(s)" in lazy and "pkg.sub, pkg.sub.c" in lazy
    assert "e.g. pkg.a -> pkg.b -> pkg.a" in module
