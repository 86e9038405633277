"""The fixtures of diagnostics: ``deepscan`` (the session's DeepScan) and ``deepscan_check``.

``deepscan`` skips, with the reason, when the model under test has no in-process weights.
``deepscan_check`` runs the method of the test's ``@pytest.mark.deepscan(...)`` (cached), checks
its bounds and attaches the numbers and file paths as JUnit properties. Plain functions of the
request, declared as fixtures by ``plugin.py`` (which imports this module only when one is used).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest

from deepsight_pytest.errors import DeepSightError
from deepsight_pytest.reporting.payload import diagnostic_properties
from deepsight_pytest.pytest_integration.session import get_session
from deepsight_pytest.diagnostics.checks import MARK, DeepScanCheck, parse_mark

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.scan import DeepScan


def deepscan(request: pytest.FixtureRequest) -> "DeepScan":
    """White-box diagnostics of the model under test: ``deepscan.run("xboundary", n=16)``,
    ``deepscan.references()``, ``deepscan.attach(records)``. Reference sets and results are
    cached on disk per model."""
    try:
        scan = cast("DeepScan", get_session(request.config).engine.diagnoser)  # the diagnostics plugin builds one
        if not scan.has_weights:
            pytest.skip(f"deepscan: {scan.skip_reason}")
    except DeepSightError as exc:
        pytest.fail(str(exc), pytrace=False)
    return scan


def deepscan_check(request: pytest.FixtureRequest) -> DeepScanCheck:
    """The result of this test's ``@pytest.mark.deepscan(method, ...)`` against its bounds."""
    where = request.node.nodeid
    mark = request.node.get_closest_marker(MARK)
    if mark is None:
        pytest.fail(f"{where}: deepscan_check needs @pytest.mark.{MARK}(method, ...)", pytrace=False)
    try:
        spec = parse_mark(mark.args, mark.kwargs, where)  # a bad mark fails before any model loads
        scan: "DeepScan" = request.getfixturevalue("deepscan")
        result = scan.run(spec.method, **spec.params)
    except DeepSightError as exc:
        pytest.fail(f"{where}: {exc}", pytrace=False)
    check = DeepScanCheck.evaluate(spec, result)
    request.node.user_properties.extend(diagnostic_properties([result.entry()]))
    request.node.user_properties.append((f"deepsight.diag.{spec.method}.check", "pass" if check.passed else "fail"))
    return check
