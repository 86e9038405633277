"""Judges that are language models: build a prompt, generate through any backend, parse.

A model judge takes a model spec exactly as ``--model`` does (``smollm2``, ``hf:<path or id>``,
``gguf:<file>``, ``scripted:<file>``, and later vLLM or OpenAI-compatible backends) and loads it with
:func:`deepsight_pytest.models.create_model`, so there is one model-loading path. Prompts are either
the judge model's own chat template (``model.render``) or, for guard models trained on a fixed raw
format, the exact upstream string with its special tokens. Generation is greedy. Output that does
not parse is an ``unknown`` verdict with the raw text kept; a failed request likewise.

The verdict key names the judge, its variant, the model spec and the model's weight fingerprint,
so a different judge model never reuses another's cached verdicts.
"""
from __future__ import annotations

import abc
from typing import Any, Sequence
from urllib.parse import urlencode

from deepsight_pytest.errors import SpecError
from deepsight_pytest.core.images import is_image, text_part
from deepsight_pytest.models import (
    GenerationSettings,
    ModelBackend,
    ModelContext,
    create_model,
    parse_model_spec,
)
from deepsight_pytest.records import Case, Message, Response, Verdict
from deepsight_pytest.judges.base import Judge, JudgeSpec, empty, unknown

BATCH_SIZE = 8
#: Every model judge's own option: its generation budget (``wildguard:smollm2?max_new_tokens=16``),
#: named in the verdict key so a shorter budget never reuses verdicts of a longer one.
BUDGET_OPTION = "max_new_tokens"


class ModelJudge(Judge):
    """Base of every judge backed by a judge model."""

    default_model: str | None = None  # the upstream checkpoint, used when no model is given
    max_new_tokens: int = 32
    own_options: frozenset[str] = frozenset()
    #: the prompt is the upstream raw string with its special tokens, not the judge model's chat template
    raw_prompt: bool = False

    def __init__(self, model_spec: str, options: dict[str, str] | None = None,
                 model: ModelBackend | None = None, context: ModelContext | None = None) -> None:
        self.model_spec = model_spec
        self.options = dict(options or {})
        self._model = model
        self.context = context  # the run's: an openai: judge reads its key from --safety-api-key-env
        self.check_options()
        budget = self.options.get(BUDGET_OPTION)
        if budget is not None:
            if not budget.isdigit() or int(budget) < 1:
                raise SpecError(f"judge {self.id!r}: max_new_tokens must be a whole number >= 1, got {budget!r}")
            self.max_new_tokens = int(budget)

    @classmethod
    def from_spec(cls, spec: JudgeSpec) -> "ModelJudge":
        mine = cls.own_options | {BUDGET_OPTION}
        own = {k: v for k, v in spec.options.items() if k in mine}
        rest = {k: v for k, v in spec.options.items() if k not in mine}
        model = spec.arg or cls.default_model
        if not model:
            raise SpecError(f"judge {spec.name!r} needs a judge model, e.g. --judge {spec.name}:smollm2")
        if rest:
            model = f"{model}{'&' if '?' in model else '?'}{urlencode(rest)}"
        parse_model_spec(model)  # an unknown model name is one clear error, before anything loads
        return cls(model, own, context=spec.context)

    def check_options(self) -> None:
        """Validate this judge's own options (called at construction)."""

    @property
    def variant(self) -> str:
        """What besides the model changes verdicts (a rubric name), or ''."""
        return ""

    @property
    def model(self) -> ModelBackend:
        if self._model is None:
            self._model = create_model(self.model_spec, self.context)
        return self._model

    @property
    def sees_images(self) -> bool:  # type: ignore[override]
        """A vision judge model (``hf-vlm:``, ``openai:`` in chat mode) may take the case's images."""
        return bool(getattr(self.model, "sees_images", False))

    @property
    def key(self) -> str:
        budget = self.options.get(BUDGET_OPTION)
        parts = [p for p in (self.variant, budget and f"max_new_tokens={budget}") if p]
        variant = f"[{','.join(parts)}]" if parts else ""
        return f"{self.id}{variant}@{self.version}({self.model_spec}#{self.model.fingerprint})"

    @property
    def generation(self) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=self.max_new_tokens)

    # -- what a concrete judge defines ------------------------------------------------------------
    @abc.abstractmethod
    def prompt(self, case: Case, response: Response) -> str:
        """The exact text the judge model sees."""

    @abc.abstractmethod
    def decide(self, case: Case, response: Response, output: str) -> Verdict:
        """The verdict for the judge model's output (``unknown`` when it does not parse)."""

    # -- the batch ----------------------------------------------------------------------------------
    def judge(self, items: Sequence[tuple[Case, Response]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        todo = []
        for index, (case, response) in enumerate(items):
            skip = self.precheck(case, response)
            if skip is None:
                todo.append(index)
            else:
                verdicts[index] = skip
        if todo:
            self.check_backend()
            prompts = [self.prompt(*items[i]) for i in todo]
            outputs = self.model.generate(prompts, self.generation, BATCH_SIZE)
            for index, output in zip(todo, outputs):
                case, response = items[index]
                verdicts[index] = (unknown(self.key, f"judge model failed: {output.error}", output.text)
                                   if output.error else self.decide(case, response, output.text))
        return [v for v in verdicts if v is not None]

    def check_backend(self) -> None:
        """A raw prompt cannot go to a chat endpoint (it takes messages): one clear error, not a traceback."""
        if self.raw_prompt and getattr(getattr(self.model, "options", None), "mode", None) == "chat":
            raise SpecError(f"judge {self.id!r} sends its upstream raw prompt (special tokens included), which an "
                            f"OpenAI-compatible chat endpoint cannot take: add ?mode=completion to its model "
                            f"({self.model_spec})")

    def precheck(self, case: Case, response: Response) -> Verdict | None:
        """A verdict that needs no judge model (an empty answer), else None."""
        return empty(self.key) if not response.text.strip() else None

    def chat(self, messages: Sequence[Message], case: Case | None = None) -> str:
        """The judge model's own chat template applied to ``messages``; given the ``case``, a judge
        model that sees images gets the case's images in the last user message (before its text:
        where the judge model puts them is its own ``?image=`` option)."""
        if case is not None and self.sees_images and case.images:
            messages = with_images(messages, case.images)
        return self.model.render(list(messages))

    def close(self) -> None:
        if self._model is not None:
            self._model.close()


def with_images(messages: Sequence[Message], images: Sequence[dict[str, str]]) -> list[Message]:
    """The messages with ``images`` added to the last user message (its text kept as a text part)."""
    out = [dict(m) for m in messages]
    last = max((i for i, m in enumerate(out) if m.get("role") == "user"), default=None)
    if last is None:
        return out
    content = out[last]["content"]
    parts = list(content) if isinstance(content, (list, tuple)) else [text_part(str(content))]
    known = {p.get("sha256") for p in parts if is_image(p)}
    out[last] = {**out[last], "content": [*(i for i in images if i.get("sha256") not in known), *parts]}
    return out


def conversation(case: Case, response: Response) -> list[dict[str, Any]]:
    """The case's messages followed by the answer under judgement (roles user/assistant)."""
    turns = [dict(m) for m in case.messages if m.get("role") in {"user", "assistant"}]
    return [*turns, {"role": "assistant", "content": response.text}]
