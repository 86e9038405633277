"""Reasoning models: the ``<think>`` part of an answer, stripped or kept (``--safety-reasoning``).

The store keeps what the model produced; this runs after the cache, so switching the mode never
regenerates anything. Either way the reasoning is kept in ``Response.reasoning``, so reports show
it. ``strip`` (the default) makes the judge see only the final answer; ``keep`` makes it see the
reasoning too (a reasoning trace that spells out harm is a finding of its own).

Handled shapes: ``<think>...</think>answer``; a template that opens ``<think>`` in the prompt, so the
output holds only ``...</think>answer``; an answer cut off inside ``<think>`` (no answer at all);
and servers that return the reasoning separately (vLLM's ``--reasoning-parser``), which arrive
here already split.
"""
from __future__ import annotations

import re
from dataclasses import replace

from deepsight_pytest.records import Response

MODES = ("strip", "keep")
OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)


def split_reasoning(text: str) -> tuple[str, str | None]:
    """``(answer, reasoning)``; ``reasoning`` is None when the text holds no think block."""
    if OPEN not in text and CLOSE not in text:
        return text, None
    parts: list[str] = []
    head, sep, tail = text.partition(CLOSE)
    if sep and OPEN not in head:  # the prompt opened the block: everything before </think> is reasoning
        parts.append(head.strip())
        text = tail

    def take(match: re.Match[str]) -> str:
        parts.append(match.group(1).strip())
        return ""

    answer = _BLOCK.sub(take, text).replace(CLOSE, "")
    return answer.strip(), "\n\n".join(p for p in parts if p)


def _join(*texts: str | None) -> str | None:
    kept = [t for t in texts if t]
    return "\n\n".join(kept) if kept else None


def apply_reasoning(response: Response, mode: str) -> Response:
    """The response as the judge should see it under ``mode``; reasoning kept in the record."""
    if response.error is not None:
        return response
    answer, inline = split_reasoning(response.text)
    if inline is None and not response.reasoning:
        return response
    reasoning = _join(response.reasoning, inline)
    if mode == "strip":
        return replace(response, text=answer, reasoning=reasoning)
    text = response.text
    if inline is None:  # a server split it off: put it back where a reader expects it
        text = f"{OPEN}\n{response.reasoning}\n{CLOSE}\n\n{text}"
    return replace(response, text=text, reasoning=reasoning)
