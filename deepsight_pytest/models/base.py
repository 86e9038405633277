"""The model backend contract: render chat messages, generate whole batches, say who you are."""
from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from deepsight_pytest.records import Message, Response
from deepsight_pytest.core.sanitize import mask_spec


@dataclass(frozen=True)
class GenerationSettings:
    """Everything besides the prompt that changes a response (part of the cache key)."""

    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    seed: int = 0
    top_p: float = 1.0
    sample: int = 0  # which of the K answers per prompt (--safety-samples)

    @property
    def sampling(self) -> bool:
        return self.temperature > 0

    @property
    def sample_seed(self) -> int:
        """The seed a backend draws this answer with: the run's seed plus the sample index, so
        the K answers of a prompt differ and each is reproducible."""
        return self.seed + self.sample

    def key(self) -> dict[str, Any]:
        """The cache key's settings. Fields at their defaults are left out, so a greedy run's
        keys are those of versions before sampling (old caches still hit)."""
        data = asdict(self)
        for name, default in (("top_p", 1.0), ("sample", 0)):
            if data[name] == default:
                del data[name]
        return data


@dataclass(frozen=True)
class ModelContext:
    """What a backend may need from the pytest run besides its spec.

    ``api_key_env`` names the environment variable holding an API key (the key itself is read
    only when a request is sent, and never stored). ``shared_dir`` gives a folder shared by every
    xdist worker of the run (where ``vllm-server:`` keeps its lock and state); ``None`` outside
    pytest, where a backend owns whatever it starts.
    """

    api_key_env: str = "OPENAI_API_KEY"
    shared_dir: Callable[[], Path] | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` value, as every model factory receives it (like a judge's ``JudgeSpec``):
    ``name``, ``name:arg`` or ``name:arg?key=value``, plus the run's :class:`ModelContext`."""

    text: str
    name: str
    arg: str = ""
    options: dict[str, str] = field(default_factory=dict)
    context: ModelContext | None = field(default=None, compare=False)


class ModelBackend(abc.ABC):
    """A model under test. Backends take whole batches; the engine never calls them per case.

    ``fingerprint`` identifies the weights (not just the name) so that cached responses of one
    checkpoint are never served for another. An image-seeing backend's ``render`` returns an
    :class:`~deepsight_pytest.core.images.Prompt` carrying the images it refers to. ``has_weights`` says whether white-box diagnostics
    can read the model's internals.
    """

    spec: str
    has_weights: bool = False
    #: whether ``render`` takes image parts (``images.py``) and ``generate`` sends them; a backend
    #: that cannot is never handed an image case (the engine errors it, naming backend and case)
    sees_images: bool = False

    @property
    @abc.abstractmethod
    def fingerprint(self) -> str:
        """A stable identity of the weights and tokenizer."""

    @abc.abstractmethod
    def render(self, messages: Sequence[Message]) -> str:
        """The exact text the model sees for these messages (chat template applied)."""

    @abc.abstractmethod
    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> list[Response]:
        """One response per rendered prompt, in the order given."""

    def ready(self) -> None:
        """Load weights or start servers now (the engine calls this before it times generation,
        so ``generation_s`` leaves start-up out). Backends that load lazily override it."""

    def chunk_size(self, batch_size: int) -> int:
        """How many prompts the engine hands over per call.

        In-process models take ``batch_size`` (the engine commits each chunk as it finishes);
        engines that batch continuously (vLLM, servers) override this to take whole suites.
        """
        return batch_size

    def generate_stream(self, prompts: Sequence[str], settings: GenerationSettings,
                        batch_size: int) -> Iterator[tuple[int, Response]]:
        """``(index, response)`` pairs as responses finish, in any order.

        The engine commits them to the store as they arrive, so a crash or a dead server loses
        only what was in flight. Backends that finish requests one by one override this.
        """
        yield from enumerate(self.generate(prompts, settings, batch_size))

    def describe(self) -> dict[str, Any]:
        """Metadata for reports."""
        return {"spec": mask_spec(self.spec), "fingerprint": self.fingerprint, "backend": type(self).__name__}

    def close(self) -> None:
        """Release memory, processes or connections."""


class StreamingBackend(ModelBackend):
    """A backend that finishes requests one by one (vLLM, servers): it implements
    ``generate_stream``, and ``generate`` collects the stream back into prompt order."""

    @abc.abstractmethod
    def generate_stream(self, prompts: Sequence[str], settings: GenerationSettings,
                        batch_size: int) -> Iterator[tuple[int, Response]]:
        """``(index, response)`` pairs as requests finish."""

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> list[Response]:
        results: list[Response | None] = [None] * len(prompts)
        for index, response in self.generate_stream(prompts, settings, batch_size):
            results[index] = response
        return [r for r in results if r is not None]
