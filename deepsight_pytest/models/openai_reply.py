"""Reading an OpenAI-compatible completion answer without trusting it.

Servers behind proxies answer HTML error pages with status 200, cut bodies short, or drop
``choices``. The SDK would hand such a body back as a string or a half-built object and the
backend would crash on ``reply.choices[0]``, losing every answer in flight. Here the raw body is
checked field by field; anything malformed raises :class:`MalformedAnswer` with a short reason,
which the backend retries like a 5xx and then reports as that one request's error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deepsight_pytest.core.sanitize import neutralise

EXCERPT = 60  # characters of a bad body quoted in the error


class MalformedAnswer(Exception):
    """The body of a 2xx answer is not a usable completion; the message says why (one line)."""


@dataclass(frozen=True)
class Reply:
    """The fields the backend uses from a completion answer."""

    text: str
    finish_reason: str
    completion_tokens: int | None
    reasoning: str | None


def _excerpt(body: str) -> str:
    flat = " ".join(body.split())
    return neutralise(flat if len(flat) <= EXCERPT else flat[:EXCERPT - 1] + "…")


def _text_or_none(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedAnswer(f"{where} is {type(value).__name__}, not text")


def read_reply(body: bytes | str, chat: bool) -> Reply:
    """The answer in ``body`` (chat or text completion), or :class:`MalformedAnswer`."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        raise MalformedAnswer("the answer body is empty")
    try:
        data = json.loads(text)
    except ValueError as exc:
        kind = "malformed JSON" if text.lstrip()[:1] in "{[" else "not JSON"
        raise MalformedAnswer(f"the answer is {kind} ({getattr(exc, 'msg', exc)}; body starts "
                              f"{_excerpt(text)!r})") from None
    if not isinstance(data, dict):
        raise MalformedAnswer(f"the answer is a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list):
        error = data.get("error")
        said = f" (it says: {_excerpt(str(error.get('message', error) if isinstance(error, dict) else error))})" \
            if error else ""
        raise MalformedAnswer(f"the answer has no 'choices' list{said}")
    if not choices:
        raise MalformedAnswer("the answer's 'choices' list is empty")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise MalformedAnswer("choices[0] is not an object")
    reasoning: str | None = None
    if chat:
        message = choice.get("message")
        if not isinstance(message, dict):
            raise MalformedAnswer("choices[0] has no 'message' object")
        content = _text_or_none(message.get("content"), "choices[0].message.content")
        for name in ("reasoning_content", "reasoning"):  # vLLM and others: the parsed trace
            value = message.get(name)
            if isinstance(value, str) and value:
                reasoning = value
                break
    else:
        content = choice.get("text")
        if not isinstance(content, str):
            raise MalformedAnswer(f"choices[0] has no 'text' (got {type(content).__name__})")
    finish = _text_or_none(choice.get("finish_reason"), "choices[0].finish_reason")
    usage = data.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        tokens = None
    return Reply(content or "", finish or "stop", tokens, reasoning)
