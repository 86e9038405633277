"""``openai:<model>@<base_url>``: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted APIs).

Requests go out asynchronously through the official ``openai`` SDK, at most ``concurrency`` at a
time. The SDK retries 408/409/429/5xx answers and dropped connections with exponential backoff,
honouring ``Retry-After``; every attempt has a timeout. A 2xx answer whose body is not a usable
completion (an HTML page, cut-off JSON, no or empty ``choices``: ``openai_reply``) is retried here
the same number of times. A request that still fails becomes a
:class:`Response` with ``error`` set and ``finish_reason="error"``: never cached, never judged; its
test errors with a one-line message naming the endpoint, and the next run retries it. Responses
are handed to the engine as each request finishes, so a server that dies mid-run loses nothing
that was already answered.

The API key is read from the environment variable named by ``--safety-api-key-env`` (or the
spec's ``api_key_env``) when a client is built. It never enters a fingerprint, a cache key, an
error message, a report or a log: server error texts are scrubbed of it.

Spec options (``openai:name@http://host:8000/v1?mode=completion&concurrency=8``): ``mode``
(``chat``, default: the server applies the chat template, and the cache key renders the messages
as canonical JSON; ``completion``: the prompt is rendered here), ``concurrency`` (16),
``timeout`` (seconds per attempt, 120), ``retries`` (4), ``api_key_env``.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit

from deepsight_pytest.errors import BackendError, DataError, SpecError
from deepsight_pytest.core.images import (
    MIME,
    Prompt,
    images_of,
    is_image,
    key_view,
    prompt_images,
    read_image,
)
from deepsight_pytest.records import Message, Response
from deepsight_pytest.models.base import GenerationSettings, ModelContext, ModelSpec, StreamingBackend
from deepsight_pytest.models.openai_reply import MalformedAnswer, read_reply
from deepsight_pytest.core.sanitize import neutralise

WHOLE_SUITE = 1 << 31  # chunk size: every missing case of a suite goes out at once
NO_KEY = "EMPTY"  # sent when the default key variable is unset: servers without auth ignore it
DEFAULT_KEY_ENV = ModelContext().api_key_env
MALFORMED_BACKOFF_S = 0.5  # first wait before retrying a malformed answer (doubles, as the SDK's)
MALFORMED_BACKOFF_MAX_S = 8.0
_URL = re.compile(r"^(?P<model>.+?)@(?P<url>https?://\S+)$")


@dataclass(frozen=True)
class ApiOptions:
    """The spec's ``?key=value`` options, checked."""

    mode: str = "chat"
    concurrency: int = 16
    timeout: float = 120.0
    retries: int = 4
    api_key_env: str | None = None

    @classmethod
    def parse(cls, options: dict[str, str], extra: Sequence[str] = ()) -> "ApiOptions":
        known = {"mode", "concurrency", "timeout", "retries", "api_key_env"}
        unknown = set(options) - known - set(extra)
        if unknown:
            raise SpecError(f"unknown model option(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(sorted(known | set(extra)))}")
        mode = options.get("mode", cls.mode)
        if mode not in ("chat", "completion"):
            raise SpecError(f"model option mode must be 'chat' or 'completion', got {mode!r}")
        try:
            values = cls(mode, int(options.get("concurrency", cls.concurrency)),
                         float(options.get("timeout", cls.timeout)), int(options.get("retries", cls.retries)),
                         options.get("api_key_env") or None)
        except ValueError as exc:
            raise SpecError(f"bad model option value: {exc}") from None
        if values.concurrency < 1 or values.timeout <= 0 or values.retries < 0:
            raise SpecError("model options need concurrency >= 1, timeout > 0 and retries >= 0")
        return values


def plain_render(messages: Sequence[Message]) -> str:
    """Completion mode without a known chat template: the conversation as plain text."""
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


def chat_render(messages: Sequence[Message]) -> str:
    """Chat mode: canonical JSON of the messages (the server applies the template). Images appear
    by hash only; the returned :class:`Prompt` carries their files, sent as data URIs."""
    images = images_of(messages)
    text = json.dumps(key_view(messages), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Prompt(text, images) if images else text


def with_image_urls(messages: list[dict[str, Any]], images: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """The chat messages to send: each image part (in order) as an ``image_url`` part holding the
    file as a base64 data URI, as OpenAI-compatible servers (vLLM, SGLang) expect. A missing or
    unsupported file raises :class:`DataError` naming its path."""
    files = iter(images)
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = [_image_url(next(files)) if is_image(p) else p for p in content]
        out.append({**message, "content": content})
    return out


def _image_url(part: dict[str, str]) -> dict[str, Any]:
    data, kind = read_image(part["path"])
    return {"type": "image_url", "image_url": {"url": f"data:{MIME[kind]};base64," + base64.b64encode(data).decode("ascii")}}


class OpenAIBackend(StreamingBackend):
    """A model behind an OpenAI-compatible HTTP API."""

    has_weights = False

    def __init__(self, spec: str, model: str, base_url: str, options: ApiOptions, *,
                 api_key_env: str = DEFAULT_KEY_ENV,
                 renderer: Callable[[Sequence[Message]], str] | None = None,
                 fingerprint_base: str | None = None) -> None:
        self.spec = spec
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.api_key_env = options.api_key_env or api_key_env
        self._renderer = renderer or (chat_render if options.mode == "chat" else plain_render)
        self.sees_images = renderer is None and options.mode == "chat"  # completion mode sends text
        self._fingerprint_base = fingerprint_base
        self._fingerprint: str | None = None
        self.server_info: dict[str, Any] = {}

    # -- identity ------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """How errors name the server: the base URL (it never carries credentials)."""
        return self.base_url

    @property
    def fingerprint(self) -> str:
        """Model name + host + what the server says about the model (never the key).

        Asking the server also checks, before anything is generated, that it is reachable, that
        the key is accepted and that it serves this model.
        """
        if self._fingerprint is None:
            self.server_info = self._server_model_info()
            if self._fingerprint_base is not None:
                self._fingerprint = self._fingerprint_base
            else:
                parts = urlsplit(self.base_url)
                served = hashlib.sha256(json.dumps(self.server_info, sort_keys=True).encode()).hexdigest()[:8]
                self._fingerprint = f"{self.model}@{parts.netloc}{parts.path}#{served}"
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        return self._renderer(messages)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "endpoint": self.endpoint, "model": self.model, "mode": self.options.mode,
                "server": self.server_info}

    # -- the key ---------------------------------------------------------------------------------
    def _api_key(self) -> str:
        value = os.environ.get(self.api_key_env)
        if value:
            return value
        if self.api_key_env != DEFAULT_KEY_ENV:
            raise BackendError(f"{self.endpoint}: the API key variable {self.api_key_env} is not set")
        return NO_KEY

    def _scrub(self, text: str) -> str:
        """One line, at most 300 characters, with the key (if any) masked."""
        key = os.environ.get(self.api_key_env)
        if key:
            text = text.replace(key, "***")
        text = neutralise(" ".join(text.split()))  # server text: no raw escapes on the terminal
        return text if len(text) <= 300 else text[:299] + "…"

    def describe_error(self, exc: BaseException) -> str:
        """A one-line account of a failed request, starting with the endpoint."""
        import openai

        retries = f" (after {self.options.retries} retries)" if self.options.retries else ""
        if isinstance(exc, openai.APITimeoutError):
            what = f"timed out after {self.options.timeout:g} s{retries}"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            what = f"cannot connect: {type(cause).__name__}: {cause}{retries}"
        elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            is_set = "set" if os.environ.get(self.api_key_env) else "NOT set"
            what = (f"HTTP {exc.status_code}: the server refused the API key (read from "
                    f"${self.api_key_env}, which is {is_set}): {exc.message}")
        elif isinstance(exc, openai.APIStatusError):
            what = f"HTTP {exc.status_code}: {exc.message}" + (retries if exc.status_code >= 500 or exc.status_code == 429 else "")
        else:
            what = f"{type(exc).__name__}: {exc}"
        return self._scrub(f"{self.endpoint}: {what}")

    # -- server checks -------------------------------------------------------------------------
    def _server_model_info(self) -> dict[str, Any]:
        """The server's entry for this model from ``GET /models``; checks name and key first."""
        import openai

        client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key(),
                               timeout=min(self.options.timeout, 30.0), max_retries=min(self.options.retries, 2))
        try:
            listed = list(client.models.list())
            ids = [entry.id for entry in listed]
        except openai.NotFoundError:
            return {}  # a server without /models: the name is checked by the first request
        except openai.OpenAIError as exc:
            raise BackendError(self.describe_error(exc)) from None
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # a body that is not a model list
            raise BackendError(self._scrub(f"{self.endpoint}: malformed answer to GET /models "
                                           f"({type(exc).__name__}: {exc})")) from None
        finally:
            client.close()
        if ids and self.model not in ids:
            shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
            raise BackendError(self._scrub(f"{self.endpoint}: model {self.model!r} is not served here "
                                           f"(it serves: {shown})"))
        entry = next((e for e in listed if e.id == self.model), None)
        data = entry.model_dump() if entry is not None else {}
        # ``created`` changes with every server start; the rest says what is being served.
        return {k: data[k] for k in ("id", "root", "owned_by", "max_model_len") if data.get(k) is not None}

    # -- generation ------------------------------------------------------------------------------
    def ready(self) -> None:
        self.fingerprint  # noqa: B018  (reachability, key and model name)

    def chunk_size(self, batch_size: int) -> int:
        return WHOLE_SUITE

    def generate_stream(self, prompts: Sequence[str], settings: GenerationSettings,
                        batch_size: int) -> Iterator[tuple[int, Response]]:
        """Every prompt in flight (bounded by ``concurrency``); yields each as it finishes."""
        import openai

        fingerprint = self.fingerprint  # reachability, key and model name are checked first
        loop = asyncio.new_event_loop()
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key(),
                                    timeout=self.options.timeout, max_retries=self.options.retries)

        async def start() -> set[asyncio.Task[tuple[int, Response]]]:
            gate = asyncio.Semaphore(self.options.concurrency)
            return {asyncio.ensure_future(self._request(client, gate, i, p, settings, fingerprint))
                    for i, p in enumerate(prompts)}

        pending: set[asyncio.Task[tuple[int, Response]]] = set()
        try:
            pending = loop.run_until_complete(start())
            while pending:
                done, pending = loop.run_until_complete(asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED))
                for task in done:
                    yield task.result()
        finally:  # the consumer stopped early (or all is done): cancel what is left, close
            for task in pending:
                task.cancel()

            async def drain() -> None:
                await asyncio.gather(*pending, return_exceptions=True)
                await client.close()

            loop.run_until_complete(drain())
            loop.close()

    async def _request(self, client: Any, gate: asyncio.Semaphore, index: int, prompt: str,
                       settings: GenerationSettings, fingerprint: str) -> tuple[int, Response]:
        import openai

        sampling: dict[str, Any] = {"max_tokens": settings.max_new_tokens, "temperature": settings.temperature}
        if settings.sampling:
            sampling["seed"] = settings.sample_seed
            if settings.top_p != 1.0:
                sampling["top_p"] = settings.top_p
        chat = self.options.mode == "chat"
        async with gate:
            started = time.perf_counter()
            try:
                messages = with_image_urls(json.loads(prompt), prompt_images(prompt)) if chat else None
            except DataError as exc:  # an image file gone or unreadable: this case's error
                return index, self._failed(str(exc), started, fingerprint)
            for attempt in range(self.options.retries + 1):
                try:
                    if chat:
                        raw = await client.chat.completions.with_raw_response.create(
                            model=self.model, messages=messages, **sampling)
                    else:
                        raw = await client.completions.with_raw_response.create(model=self.model, prompt=prompt,
                                                                                **sampling)
                    reply = read_reply(raw.content, chat)
                    break
                except openai.OpenAIError as exc:  # the SDK has retried what it retries
                    return index, self._failed(self.describe_error(exc), started, fingerprint)
                except MalformedAnswer as exc:  # retried here like a 5xx, then this request's error
                    if attempt == self.options.retries:
                        return index, self._failed(self.describe_malformed(exc), started, fingerprint)
                    await asyncio.sleep(min(MALFORMED_BACKOFF_MAX_S, MALFORMED_BACKOFF_S * 2 ** attempt))
        tokens = reply.completion_tokens if reply.completion_tokens is not None else len(reply.text.split())
        return index, Response(text=reply.text, tokens=tokens, finish_reason=reply.finish_reason,
                               latency_s=round(time.perf_counter() - started, 4), model=fingerprint,
                               reasoning=reply.reasoning or None)

    @staticmethod
    def _failed(error: str, started: float, fingerprint: str) -> Response:
        return Response(text="", tokens=0, finish_reason="error", latency_s=round(time.perf_counter() - started, 4),
                        model=fingerprint, error=error)

    def describe_malformed(self, exc: MalformedAnswer) -> str:
        """One line for an answer that came back 2xx but is not a completion."""
        retries = f" (after {self.options.retries} retries)" if self.options.retries else ""
        return self._scrub(f"{self.endpoint}: malformed answer: {exc}{retries}")


def split_target(spec: str, arg: str) -> tuple[str, str]:
    """``<model>@<base_url>`` -> (model, base_url); credentials in the URL are refused."""
    match = _URL.match(arg)
    if not match:
        raise SpecError("model 'openai:' needs <model>@<base_url>, e.g. "
                        "openai:meta-llama/Llama-3.1-8B-Instruct@http://localhost:8000/v1")
    url = match["url"]
    if urlsplit(url).username or urlsplit(url).password:
        raise SpecError("model 'openai:': put no credentials in the URL; name the environment variable "
                        "holding the key with --safety-api-key-env")
    return match["model"], url


def make_openai(spec: ModelSpec) -> OpenAIBackend:
    """Any OpenAI-compatible server: ``openai:<model>@<base_url>``."""
    model, url = split_target(spec.text, spec.arg)
    context = spec.context or ModelContext()
    return OpenAIBackend(spec.text, model, url, ApiOptions.parse(spec.options), api_key_env=context.api_key_env)
