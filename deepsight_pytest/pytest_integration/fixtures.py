"""The fixtures users write tests with: ``safety_record``, ``safety_gate``, ``model``, ``judge``.

Plain functions of the request: ``plugin.py`` declares the fixtures and calls these, so that
importing them (and the engine) waits until a test uses one."""
from __future__ import annotations

from typing import Callable, TypeVar

import pytest

from deepsight_pytest.pytest_integration.collection import CaseParam, GapParam, GateParam, TargetParam
from deepsight_pytest.core.engine import Engine
from deepsight_pytest.errors import CaseTooLarge, DeepSightError
from deepsight_pytest.judges import Judge
from deepsight_pytest.models import ModelBackend
from deepsight_pytest.records import Record
from deepsight_pytest.reporting.payload import attach_case, attach_gap, attach_gate, attach_targets
from deepsight_pytest.pytest_integration.session import get_session
from deepsight_pytest.core.sanitize import mask_spec, neutralise
from deepsight_pytest.core.stats import GapResult, GateResult, TargetResult

P = TypeVar("P")
T = TypeVar("T")


def _from_engine(request: pytest.FixtureRequest, param_type: type[P], produce: Callable[[Engine, P], T]) -> T:
    """Run ``produce`` for this test's suite parameter; engine errors become one-line failures."""
    param = getattr(request, "param", None)
    if not isinstance(param, param_type):
        pytest.fail(f"{request.fixturename} is given by @pytest.mark.safety_suite(...)", pytrace=False)
    skip = False
    try:
        return produce(get_session(request.config).engine, param)
    except DeepSightError as exc:
        message, skip = neutralise(str(exc)), isinstance(exc, CaseTooLarge)  # server and data text
    if skip:  # a case too large for the token budget: skipped with the reason, never a crash
        pytest.skip(message)
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain


def safety_record(request: pytest.FixtureRequest) -> Record:
    """The record (case, response, verdict) of this test's benchmark case."""
    record = _from_engine(request, CaseParam, lambda engine, p: engine.record(p.suite, p.uid))
    attach_case(request.node, record)
    return record


def safety_gate(request: pytest.FixtureRequest) -> GateResult:
    """The safety-ratio gate of this test's benchmark category."""
    gate = _from_engine(request, GateParam, lambda engine, p: engine.gate(p.suite, p.category))
    attach_gate(request.node, gate)
    shard = get_session(request.config).settings.shard
    if shard is not None:  # partial data: recorded for `deepsight merge`, not decided here
        from deepsight_pytest.core.shards import gate_skip_reason
        pytest.skip(gate_skip_reason(shard))
    return gate


def safety_gap(request: pytest.FixtureRequest) -> GapResult:
    """The gap gate between two conditions of this test's suite (``gaps=['a-vs-b']``)."""
    gap = _from_engine(request, GapParam, lambda engine, p: engine.gap(p.suite, p.a, p.b))
    attach_gap(request.node, gap)
    shard = get_session(request.config).settings.shard
    if shard is not None:  # partial data: not decided here
        from deepsight_pytest.core.shards import gate_skip_reason
        pytest.skip(gate_skip_reason(shard))
    return gap


def safety_targets(request: pytest.FixtureRequest) -> TargetResult:
    """Accuracy under each target-accuracy condition and the sandbagging score of this suite."""
    result = _from_engine(request, TargetParam, lambda engine, p: engine.targets(p.suite))
    attach_targets(request.node, result)
    return result


def model(request: pytest.FixtureRequest) -> ModelBackend:
    """The model under test (``--model``), created on first use and shared by the session."""
    try:
        return get_session(request.config).engine.model
    except DeepSightError as exc:
        pytest.fail(neutralise(str(exc)), pytrace=False)


def judge(request: pytest.FixtureRequest) -> Judge:
    """The run's default judge (``--judge``)."""
    session = get_session(request.config)
    return session.engine.judge(session.settings.judge)


def safety_needs_images(request: pytest.FixtureRequest) -> None:
    """Skip, saying why, when the model cannot see images and ``--safety-text-only`` is not given:
    for suites of image cases that should neither error on a text model nor run as text unasked
    (``@pytest.mark.usefixtures("safety_needs_images")``)."""
    session = get_session(request.config)
    if session.settings.text_only:
        return
    try:
        backend = session.engine.model
    except DeepSightError as exc:
        pytest.fail(neutralise(str(exc)), pytrace=False)
    if not backend.sees_images:
        pytest.skip(neutralise(f"model {mask_spec(backend.spec)} cannot see images: run this suite with an "
                               "image-seeing model (hf-vlm:, openai: in chat mode) or as text with --safety-text-only"))
