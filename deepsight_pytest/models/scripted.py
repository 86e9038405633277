"""``scripted:<file>``: a model that answers from rules in a YAML or JSON file.

For plumbing tests (deterministic, no weights) and for replaying fixed answers through judges.
The file holds ``rules: [{match: <regex>, response: <text>}]``, an optional ``default`` answer
and an optional ``latency_s`` per generate call (to imitate a slow model). The first rule whose
regex matches the rendered prompt wins. A rule may give ``responses: [<text>, ...]`` instead: a
greedy call answers the first, a sampled one (temperature > 0) picks one by a hash of the prompt,
the sample seed, temperature and top-p, so ``--safety-samples`` plumbing sees answers that differ.
A prompt that no rule matches, in a file without ``default``, is that case's error. The file is
checked when the model is made: an unknown key, a rule that is not a mapping, a regex that does
not compile or a latency that is not a number is one error naming ``file:line``; aliases are
expanded within a bound (``yaml_bounded``).
"""
from __future__ import annotations

import difflib
import hashlib
import re
import time
from pathlib import Path
from typing import Any, Sequence

from deepsight_pytest.errors import DataError, DeepSightError, SpecError
from deepsight_pytest.core.images import Prompt, images_of, is_image, prompt_images, read_image
from deepsight_pytest.core.sanitize import mask_spec, neutralise
from deepsight_pytest.records import Message, Response
from deepsight_pytest.models.base import GenerationSettings, ModelBackend
from deepsight_pytest.models.base import ModelSpec


SCRIPT_KEYS = ("rules", "default", "latency_s")
RULE_KEYS = ("match", "response", "responses")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _is_scalar_text(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


class _Script:
    """The file checked key by key; every error names ``file:line`` (lines from the YAML nodes)."""

    def __init__(self, path: Path, raw: bytes) -> None:
        import yaml

        from deepsight_pytest.core.yaml_bounded import compose

        self.path = path
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        try:
            node = compose(text, path)
            loader = yaml.SafeLoader("")
            data = loader.construct_document(node) if node is not None else {}
            loader.dispose()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML/JSON ({problem})") from None
        except DeepSightError as exc:  # an alias bomb or a recursive alias
            raise SpecError(str(exc)) from None
        self.node, self.data = node, data

    def fail(self, line: int, message: str) -> SpecError:
        return SpecError(f"{self.path}:{line}: {message}")

    def _lines(self) -> dict[str, int]:
        import yaml

        if not isinstance(self.node, yaml.MappingNode):
            return {}
        return {str(k.value): k.start_mark.line + 1 for k, _ in self.node.value}

    def _rule_lines(self) -> list[int]:
        import yaml

        if isinstance(self.node, yaml.MappingNode):
            for key, value in self.node.value:
                if key.value == "rules" and isinstance(value, yaml.SequenceNode):
                    return [item.start_mark.line + 1 for item in value.value]
        return []

    def check(self) -> tuple[list[tuple[re.Pattern[str], list[str]]], str | None, float]:
        """(rules, default or None, latency in seconds)."""
        data = self.data
        if not isinstance(data, dict):
            raise self.fail(1, f"must hold a mapping with {', '.join(SCRIPT_KEYS)}, got {type(data).__name__}")
        lines = self._lines()
        for key in data:
            if key not in SCRIPT_KEYS:
                close = difflib.get_close_matches(str(key), SCRIPT_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(lines.get(str(key), 1), f"unknown key {_shown(key)}{hint}; known: "
                                                        f"{', '.join(SCRIPT_KEYS)}")
        rules = data.get("rules", [])
        if rules is None:
            rules = []
        if not isinstance(rules, list):
            raise self.fail(lines.get("rules", 1), f"'rules' must be a list of {{match, response}}, got {_shown(rules)}")
        rule_lines = self._rule_lines()
        compiled = [self._rule(i, rule, rule_lines[i] if i < len(rule_lines) else lines.get("rules", 1))
                    for i, rule in enumerate(rules)]
        default = data.get("default")
        if default is not None and not _is_scalar_text(default):
            raise self.fail(lines.get("default", 1), f"'default' must be text, got {_shown(default)}")
        latency = data.get("latency_s", 0.0)
        if not isinstance(latency, (int, float)) or isinstance(latency, bool) or not 0 <= latency <= 3600:
            raise self.fail(lines.get("latency_s", 1), f"'latency_s' must be a number of seconds in [0, 3600], "
                                                       f"got {_shown(latency)}")
        return compiled, None if default is None else str(default), float(latency)

    def _rule(self, index: int, rule: Any, line: int) -> tuple[re.Pattern[str], list[str]]:
        what = f"rule {index + 1}"
        if not isinstance(rule, dict):
            raise self.fail(line, f"{what} must be a mapping with 'match' and 'response', got {_shown(rule)}")
        unknown = [k for k in rule if k not in RULE_KEYS]
        if unknown:
            raise self.fail(line, f"{what}: unknown key {_shown(unknown[0])}; known: {', '.join(RULE_KEYS)}")
        pattern = rule.get("match")
        if not isinstance(pattern, str):
            raise self.fail(line, f"{what}: 'match' must be a regular expression (text), got {_shown(pattern)}")
        if "responses" in rule:
            answers = rule["responses"]
            if not isinstance(answers, list) or not answers or not all(map(_is_scalar_text, answers)):
                raise self.fail(line, f"{what}: 'responses' must be a non-empty list of texts, got {_shown(answers)}")
        elif not _is_scalar_text(rule.get("response")):
            raise self.fail(line, f"{what}: 'response' must be text, got {_shown(rule.get('response'))}")
        else:
            answers = [rule["response"]]
        try:
            return re.compile(pattern, re.S), [str(answer) for answer in answers]
        except re.error as exc:
            raise self.fail(line, f"{what}: 'match' {_shown(pattern)} is not a valid regular expression "
                                  f"({exc})") from None


def _content(content: object) -> str:
    """Text as is; parts as their text, each image as ``<image sha256=...>``."""
    if not isinstance(content, (list, tuple)):
        return str(content)
    return "".join(f"<image sha256={p.get('sha256')}>" if is_image(p) else str(p.get("text", "")) for p in content)


class ScriptedBackend(ModelBackend):
    """Rule-based answers; says ``scripted`` in every fingerprint so it is never mistaken for a model."""

    def __init__(self, spec: str, path: Path) -> None:
        self.spec = spec
        self.path = path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecError(f"model {mask_spec(spec)!r}: cannot read {path} ({exc.strerror})") from None
        self._rules, self._default, self._latency = _Script(path, raw).check()
        self._fingerprint = "scripted:" + hashlib.sha256(raw).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        images = images_of(messages)
        text = "".join(f"<{m['role']}>{_content(m['content'])}</{m['role']}>" for m in messages)
        return Prompt(text, images) if images else text

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> list[Response]:
        time.sleep(self._latency)
        return [self._unreadable(prompt) or self._answer(prompt, settings) for prompt in prompts]

    def _unreadable(self, prompt: str) -> Response | None:
        """A missing or unsupported image file is that case's error (one line naming the path)."""
        for part in prompt_images(prompt):
            try:
                read_image(part["path"])
            except DataError as exc:
                return Response("", 0, "error", 0.0, self.fingerprint, error=str(exc))
        return None

    def _answer(self, prompt: str, settings: GenerationSettings) -> Response:
        answers = next((answers for pattern, answers in self._rules if pattern.search(prompt)), [self._default])
        text = answers[0]
        if settings.sampling and len(answers) > 1:  # (only a rule has several answers; never None)
            draw = f"{settings.sample_seed}:{settings.temperature}:{settings.top_p}:{prompt}"
            text = answers[int(hashlib.sha256(draw.encode()).hexdigest(), 16) % len(answers)]
        if text is None:  # that case's error (one line), the others answer
            return Response(text="", tokens=0, finish_reason="error", latency_s=self._latency, model=self.fingerprint,
                            error=f"{self.path}: no rule matches this prompt and the file has no 'default' "
                                  f"(prompt starts {neutralise(' '.join(prompt.split())[:60])!r})")
        words = text.split()[: settings.max_new_tokens]
        truncated = len(words) < len(text.split())
        return Response(text=" ".join(words) if truncated else text, tokens=len(words),
                        finish_reason="length" if truncated else "stop",
                        latency_s=self._latency, model=self.fingerprint)


def check_file(arg: str) -> None:
    """The session-start check (``models.PRECHECKS``): the file is read and checked, nothing kept."""
    if not arg:
        raise SpecError("model 'scripted:' needs a file, e.g. scripted:answers.yaml")
    path = Path(arg).expanduser().resolve()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"scripted: cannot read {path} ({exc.strerror})") from None
    _Script(path, raw).check()


def make_scripted(spec: ModelSpec) -> ScriptedBackend:
    """Rule-based answers from a YAML/JSON file, for plumbing tests and replays.

    ``?images=see``: the backend takes image cases (each image rendered as ``<image sha256=...>``
    for rules to match, the file read at generation so a missing one is that case's error);
    without it, it is text-only like a plain language model."""
    if not spec.arg:
        raise SpecError("model 'scripted:' needs a file, e.g. scripted:answers.yaml")
    if spec.options.get("images", "see") != "see":  # other options are ignored, as they always were
        raise SpecError(f"model {mask_spec(spec.text)!r}: option images must be 'see', got {spec.options['images']!r}")
    backend = ScriptedBackend(spec.text, Path(spec.arg).expanduser().resolve())
    backend.sees_images = "images" in spec.options
    return backend
