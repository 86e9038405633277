"""A small OpenAI-compatible HTTP server on 127.0.0.1 for fault injection in tests.

It speaks just enough of the API (``GET /v1/models``, ``POST /v1/chat/completions`` and
``/v1/completions``) for the ``openai:`` backend, and can be told to refuse keys, answer 429/5xx
(with ``Retry-After``), stall past a timeout, or die after N answers. It records every request so
tests can check what the client sent. Tests that use it say ``stub`` in their names: it checks
the plugin's handling of a server, never a model.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    """What the stub does; tests change it between runs."""

    model: str = "stub-model"
    api_key: str | None = None  # when set, requests need ``Authorization: Bearer <api_key>``
    default: str = "I'm sorry, I can't help with that."
    rules: list[tuple[str, str]] = field(default_factory=list)  # (regex on the prompt, answer)
    reasoning: str | None = None  # returned as message.reasoning_content (chat mode)
    delay_s: float = 0.0
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next answers: (status, headers)
    die_after: int | None = None  # answer this many completions, then drop every connection
    malformed: list[str] = field(default_factory=list)  # next completions: bodies of these MALFORMED kinds
    malformed_every: int | None = None  # every n-th completion request gets a malformed_kind body
    malformed_kind: str = "not-json"
    models_malformed: str | None = None  # GET /models answers a body of this MALFORMED kind


#: Status-200 bodies a broken server or proxy sends instead of a completion: (content type, body).
MALFORMED: dict[str, tuple[str, bytes]] = {
    "not-json": ("text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "broken-json": ("application/json", b'{"id": "stub", "object": "chat.completion", "choices": [{"index": 0, '),
    "no-choices": ("application/json", b'{"id": "stub", "object": "chat.completion", "created": 0}'),
    "empty-choices": ("application/json", b'{"id": "stub", "object": "chat.completion", "choices": []}'),
    "empty-body": ("application/json", b""),
    "json-null": ("application/json", b"null"),
    "json-list": ("application/json", b'[{"choices": []}]'),
    "choice-not-object": ("application/json", b'{"id": "stub", "choices": ["hello"]}'),
    "no-message": ("application/json", b'{"id": "stub", "choices": [{"index": 0, "finish_reason": "stop"}]}'),
    "content-not-text": ("application/json",
                         b'{"id": "stub", "choices": [{"index": 0, "message": {"role": "assistant", "content": 7}}]}'),
    "error-in-200": ("application/json", b'{"error": {"message": "upstream overloaded", "code": 500}}'),
}


@dataclass
class Seen:
    at: float
    path: str
    authorization: str | None
    body: dict[str, Any]


class StubServer:
    """Run with ``with StubServer() as stub:``; ``stub.url`` is the base URL (``.../v1``)."""

    def __init__(self, behaviour: Behaviour | None = None, port: int = 0) -> None:
        self.behaviour = behaviour or Behaviour()
        self.requests: list[Seen] = []
        self.answered = 0
        self.completion_requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.dead = False
        self._stopped = False
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = self.dead = True
        self._server.shutdown()
        self._server.server_close()

    def completions(self) -> list[Seen]:
        return [r for r in self.requests if r.path.endswith("completions")]

    # -- request handling (called from the handler threads) -------------------------------------
    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any] | bytes | None]:
        """(status, headers, JSON payload); the payload is raw bytes for a malformed body (its
        content type in the headers), None to drop the connection."""
        b = self.behaviour
        with self._lock:
            self.completion_requests += 1
            kind = b.malformed.pop(0) if b.malformed else None
            if kind is None and b.malformed_every and self.completion_requests % b.malformed_every == 0:
                kind = b.malformed_kind
            if kind is not None and not self.dead:
                content_type, raw = MALFORMED[kind]
                return 200, {"Content-Type": content_type}, raw
            if self.dead or (b.die_after is not None and self.answered >= b.die_after):
                if not self.dead:  # die: stop listening, and drop this connection unanswered
                    self.dead = True
                    threading.Thread(target=self.stop, daemon=True).start()
                return 0, {}, None
            if b.failures:
                status, headers = b.failures.pop(0)
                return status, headers, {"error": {"message": f"stub says {status}", "type": "stub", "code": status}}
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(b.delay_s)
        finally:
            with self._lock:
                self.in_flight -= 1
        if body.get("model") != b.model:
            return 404, {}, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}}
        chat = path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        if isinstance(prompt, list):  # content parts: rules match the text parts
            prompt = "\n".join(p.get("text", "") for p in prompt if p.get("type") == "text")
        text = next((answer for pattern, answer in b.rules if re.search(pattern, prompt)), b.default)
        words = text.split()
        limit = int(body.get("max_tokens") or len(words))
        finish = "length" if len(words) > limit else "stop"
        text = " ".join(words[:limit]) if finish == "length" else text
        usage = {"prompt_tokens": 1, "completion_tokens": min(len(words), limit), "total_tokens": 1 + min(len(words), limit)}
        with self._lock:
            self.answered += 1
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if b.reasoning is not None:
                message["reasoning_content"] = b.reasoning
            return 200, {}, {"id": "stub", "object": "chat.completion", "created": 0, "model": b.model, "usage": usage,
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
        return 200, {}, {"id": "stub", "object": "text_completion", "created": 0, "model": b.model, "usage": usage,
                         "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}]}


def _handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _authorized(self) -> bool:
            key = stub.behaviour.api_key
            given = self.headers.get("Authorization")
            if key is None or given == f"Bearer {key}":
                return True
            token = (given or "").removeprefix("Bearer ")
            # Like hosted APIs, echo what was received: the client must scrub it from its messages.
            self._send(401, {}, {"error": {"message": f"Incorrect API key provided: {token}", "code": 401}})
            return False

        def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any] | bytes) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            headers = dict(headers)
            try:
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

        def do_GET(self) -> None:
            stub.requests.append(Seen(time.monotonic(), self.path, self.headers.get("Authorization"), {}))
            if stub.dead:
                self.close_connection = True
                return
            if not self._authorized():
                return
            if self.path.rstrip("/") == "/v1/models" and stub.behaviour.models_malformed:
                content_type, raw = MALFORMED[stub.behaviour.models_malformed]
                self._send(200, {"Content-Type": content_type}, raw)
            elif self.path.rstrip("/") == "/v1/models":
                self._send(200, {}, {"object": "list", "data": [
                    {"id": stub.behaviour.model, "object": "model", "created": int(time.time()), "owned_by": "stub"}]})
            else:
                self._send(404, {}, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            stub.requests.append(Seen(time.monotonic(), self.path, self.headers.get("Authorization"), body))
            if not self._authorized():
                return
            status, headers, payload = stub.answer(self.path, body)
            if payload is None:
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            self._send(status, headers, payload)

    return Handler
