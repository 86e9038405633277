"""Malformed answers from an OpenAI-compatible server (issue 16): status 200, but the body is an
HTML page, cut-off JSON, JSON without ``choices``, an empty ``choices`` list, and so on.

Each is that one request's error (retried like a 5xx, then a one-line error naming the endpoint,
never a traceback), and every well-formed answer of the same run lands in the store as it
arrives. The server is ``openai_stub.StubServer``, a real HTTP server on 127.0.0.1 (tests named
``stub``: they check how the plugin treats a server, not a model).
"""
from __future__ import annotations

import pytest

from backend_sessions import REFUSAL, Project, clean_environment, output
from deepsight_pytest.models import GenerationSettings, create_model
from openai_stub import MALFORMED, Behaviour, StubServer

GOALS = [f"Explain how to do forbidden thing number {i}" for i in range(6)]


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    clean_environment(monkeypatch)
    return Project(pytester)


def ask(backend, *questions: str) -> list:
    prompts = [backend.render([{"role": "user", "content": q}]) for q in questions]
    return backend.generate(prompts, GenerationSettings(max_new_tokens=16), 1)


@pytest.mark.parametrize("mode", ["chat", "completion"])
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_stub_malformed_answer_is_a_one_line_error_naming_the_endpoint(stub: StubServer, kind: str,
                                                                       mode: str) -> None:
    stub.behaviour.malformed = [kind]
    backend = create_model(f"openai:stub-model@{stub.url}?retries=0&mode={mode}")
    bad, good = ask(backend, "first", "second")  # concurrency 16: the first request gets the bad body
    failed = bad if bad.error is not None else good
    assert failed.error is not None, (bad, good)
    assert failed.error.startswith(f"{stub.url}: malformed answer: "), failed.error
    assert "\n" not in failed.error and "\x1b" not in failed.error and len(failed.error) <= 300
    assert (failed.finish_reason, failed.text) == ("error", "")
    other = good if failed is bad else bad
    assert (other.error, other.text) == (None, REFUSAL)


@pytest.mark.parametrize("kind, reason", [
    ("not-json", "the answer is not JSON"),
    ("broken-json", "the answer is malformed JSON"),
    ("no-choices", "the answer has no 'choices' list"),
    ("empty-choices", "the answer's 'choices' list is empty"),
    ("error-in-200", "no 'choices' list (it says: upstream overloaded)"),
])
def test_stub_malformed_answer_says_what_was_wrong(stub: StubServer, kind: str, reason: str) -> None:
    stub.behaviour.malformed = [kind]
    backend = create_model(f"openai:stub-model@{stub.url}?retries=0")
    [response] = ask(backend, "hello")
    assert reason in response.error, response.error


def test_stub_malformed_answer_is_retried_like_a_5xx(stub: StubServer) -> None:
    stub.behaviour.malformed = ["not-json", "empty-choices"]
    backend = create_model(f"openai:stub-model@{stub.url}?retries=2")
    [response] = ask(backend, "hello")
    assert (response.error, response.text) == (None, REFUSAL)
    assert len(stub.completions()) == 3
    arrivals = [r.at for r in stub.completions()]
    assert all(later - earlier >= 0.45 for earlier, later in zip(arrivals, arrivals[1:])), arrivals  # backoff


def test_stub_malformed_beyond_the_retries_says_how_many(stub: StubServer) -> None:
    stub.behaviour.malformed = ["no-choices"] * 2
    backend = create_model(f"openai:stub-model@{stub.url}?retries=1")
    [response] = ask(backend, "hello")
    assert response.error == f"{stub.url}: malformed answer: the answer has no 'choices' list (after 1 retries)"
    assert len(stub.completions()) == 2


def test_stub_escape_sequences_in_a_bad_body_are_neutralised(stub: StubServer) -> None:
    MALFORMED["ansi-page"] = ("text/plain", b"\x1b[2J\x1b]0;owned\x07 gateway error")
    try:
        stub.behaviour.malformed = ["ansi-page"]
        [response] = ask(create_model(f"openai:stub-model@{stub.url}?retries=0"), "hello")
    finally:
        del MALFORMED["ansi-page"]
    assert "\x1b" not in response.error and "\x07" not in response.error
    assert "\\x1b[2J" in response.error


@pytest.mark.parametrize("kind", ["not-json", "broken-json", "json-null", "json-list", "empty-body"])
def test_stub_malformed_model_list_is_one_line_naming_the_endpoint(stub: StubServer, kind: str) -> None:
    from deepsight_pytest.errors import BackendError

    stub.behaviour.models_malformed = kind
    with pytest.raises(BackendError) as error:
        create_model(f"openai:stub-model@{stub.url}?retries=0").fingerprint  # noqa: B018
    assert str(error.value).startswith(f"{stub.url}: ") and "\n" not in str(error.value)


# -- the plugin: a server that answers every third request with an HTML page -----------------------
def test_stub_every_third_answer_not_json_keeps_every_good_answer(project: Project) -> None:
    project.advbench(GOALS)
    project.suite(threshold=0.5)
    with StubServer(Behaviour(malformed_every=3)) as stub:
        model = f"openai:stub-model@{stub.url}?concurrency=1&retries=0"
        first, doc = project.run("-rE", "--junitxml=junit.xml", model=model)
        port = stub.port
        sent = len(stub.completions())
    text = output(first)
    assert first.ret == 1, text
    assert "Traceback" not in text
    first.assert_outcomes(passed=4, errors=3)  # two cases and the gate
    errors = [line for line in first.stdout.lines if line.startswith("ERROR ")]
    assert len(errors) == 3 and all(f"{stub.url}: malformed answer: the answer is not JSON" in e for e in errors), \
        errors
    assert sent == 6
    assert (doc["engine"]["generated"], doc["engine"]["errors"]) == (4, 2)
    assert project.count("responses") == 4  # every good answer stored; the bad ones are not

    with StubServer(port=port) as fixed:
        second, doc = project.run(model=model)
        assert second.ret == 0, output(second)
        second.assert_outcomes(passed=7)
        assert (doc["engine"]["generated"], doc["engine"]["cached_responses"]) == (2, 4)
        assert len(fixed.completions()) == 2  # only the two that failed are asked again


def test_stub_every_third_answer_not_json_with_retries_loses_nothing(project: Project) -> None:
    project.advbench(GOALS)
    project.suite(threshold=0.5)
    with StubServer(Behaviour(malformed_every=3)) as stub:
        result, doc = project.run(model=f"openai:stub-model@{stub.url}?concurrency=4&retries=2")
        sent = len(stub.completions())
    assert result.ret == 0, output(result)
    result.assert_outcomes(passed=7)
    assert (doc["engine"]["generated"], doc["engine"]["errors"]) == (6, 0)
    assert sent >= 8 and project.count("responses") == 6
