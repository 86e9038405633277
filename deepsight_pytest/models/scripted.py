"""``scripted:<file>``: a model that answers from rules in a YAML or JSON file.

For plumbing tests (deterministic, no weights) and for replaying fixed answers through judges.
The file holds ``rules: [{match: <regex>, response: <text>}]``, an optional ``default`` answer
and an optional ``latency_s`` per generate call (to imitate a slow model). The first rule whose
regex matches the rendered prompt wins. A rule may give ``responses: [<text>, ...]`` instead: a
greedy call answers the first, a sampled one (temperature > 0) picks one by a hash of the prompt,
the sample seed, temperature and top-p, so ``--safety-samples`` plumbing sees answers that differ.
"""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import SpecError
from ..records import Message, Response
from .base import GenerationSettings, ModelBackend


class ScriptedBackend(ModelBackend):
    """Rule-based answers; says ``scripted`` in every fingerprint so it is never mistaken for a model."""

    def __init__(self, spec: str, path: Path) -> None:
        self.spec = spec
        self.path = path
        try:
            raw = path.read_bytes()
            script: Any = yaml.safe_load(raw) or {}
        except OSError as exc:
            raise SpecError(f"model {spec!r}: cannot read {path} ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"model {spec!r}: {path} is not valid YAML/JSON ({exc})") from None
        if not isinstance(script, dict):
            raise SpecError(f"model {spec!r}: {path} must hold a mapping with 'rules'")
        self._rules = [(re.compile(r["match"], re.S), _answers(r)) for r in script.get("rules", [])]
        self._default = str(script.get("default", ""))
        self._latency = float(script.get("latency_s", 0.0))
        self._fingerprint = "scripted:" + hashlib.sha256(raw).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> list[Response]:
        time.sleep(self._latency)
        return [self._answer(prompt, settings) for prompt in prompts]

    def _answer(self, prompt: str, settings: GenerationSettings) -> Response:
        answers = next((answers for pattern, answers in self._rules if pattern.search(prompt)), [self._default])
        text = answers[0]
        if settings.sampling and len(answers) > 1:
            draw = f"{settings.sample_seed}:{settings.temperature}:{settings.top_p}:{prompt}"
            text = answers[int(hashlib.sha256(draw.encode()).hexdigest(), 16) % len(answers)]
        words = text.split()[: settings.max_new_tokens]
        truncated = len(words) < len(text.split())
        return Response(text=" ".join(words) if truncated else text, tokens=len(words),
                        finish_reason="length" if truncated else "stop",
                        latency_s=self._latency, model=self.fingerprint)


def _answers(rule: dict[str, Any]) -> list[str]:
    """A rule's answers: ``responses`` (a list), else its one ``response``."""
    if "responses" in rule:
        return [str(r) for r in rule["responses"]] or [""]
    return [str(rule["response"])]


def make_scripted(spec: str, arg: str, options: dict[str, str]) -> ScriptedBackend:
    """Rule-based answers from a YAML/JSON file, for plumbing tests and replays."""
    if not arg:
        raise SpecError("model 'scripted:' needs a file, e.g. scripted:answers.yaml")
    return ScriptedBackend(spec, Path(arg).expanduser().resolve())
