"""A headless Chromium driven over the DevTools protocol, to look at a card the way a reviewer does.

Used by ``deepsight report --screenshot`` (a PNG of the card for a pull-request comment), by the
card's browser tests and by ``bench/report_scale.py``. The protocol runs over a pipe
(``--remote-debugging-pipe``: NUL-terminated JSON on file descriptors 3 and 4), so it needs
nothing but the standard library and a Chromium binary: no browser download, no websocket client,
no network. Console messages, uncaught exceptions and log entries (CSP violations, failed loads)
are collected so a test can assert there were none.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepsight_pytest.errors import DeepSightError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe")


class BrowserError(DeepSightError):
    """Chromium is missing, did not start, or a page did not load in time."""


def find_chromium() -> str | None:
    """The Chromium binary: ``$DEEPSIGHT_CHROMIUM``, else the first known name on ``PATH``."""
    explicit = os.environ.get("DEEPSIGHT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


@dataclass
class PageLog:
    """What the page said: console calls, uncaught exceptions, browser log entries."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    exceptions: list[str] = field(default_factory=list)
    entries: list[tuple[str, str, str]] = field(default_factory=list)  # (level, source, text)

    @property
    def errors(self) -> list[str]:
        """Every error-level message, uncaught exception or CSP violation."""
        found = [f"console.{kind}: {text}" for kind, text in self.console if kind in {"error", "assert"}]
        found += [f"exception: {text}" for text in self.exceptions]
        found += [f"{source} {level}: {text}" for level, source, text in self.entries
                  if level == "error" or "Content Security Policy" in text]
        return found


def _high_fd(fd: int) -> int:
    """``fd`` duplicated to a number above 9 (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900,
                 timeout_s: float = 60.0) -> None:
        found = binary or find_chromium()
        if found is None:
            raise BrowserError("no Chromium found (install Debian's `chromium` package or set "
                               "DEEPSIGHT_CHROMIUM to the browser binary)")
        self.binary = found
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self.log = PageLog()
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None
        self._loaded = False

    # -- process and transport -------------------------------------------------------------------
    def __enter__(self) -> "Chromium":
        self._profile = tempfile.TemporaryDirectory(prefix="deepsight-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4. The child's ends are moved
        # above 9 first, so that placing one on 3 or 4 cannot overwrite the other.
        to_browser_r, from_browser_w = _high_fd(to_browser_r), _high_fd(from_browser_w)

        def place_pipe_ends() -> None:  # runs in the child, before exec
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [self.binary, *FLAGS, f"--user-data-dir={self._profile.name}",
                f"--window-size={self.width},{self.height}", "about:blank"]
        try:
            self._process = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=place_pipe_ends,  # noqa: PLW1509
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
        except OSError as exc:
            os.close(self._to_browser)
            os.close(self._from_browser)
            self._profile.cleanup()
            raise BrowserError(f"cannot start {self.binary}: {exc.strerror}") from None
        finally:  # the child's ends: the browser holds its own copies now
            os.close(to_browser_r)
            os.close(from_browser_w)
        try:
            self._attach()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._process.poll() is None:
                try:
                    self._send("Browser.close", session=False, wait=False)
                except OSError:
                    pass
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._profile.cleanup()

    def _send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True,
              wait: bool = True) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        if not wait:
            return {}
        wanted = self._next_id
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _receive(self, deadline: float) -> dict[str, Any]:
        """The next message; events are recorded in :attr:`log` on the way."""
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError(f"Chromium did not answer within {self.timeout_s:.0f}s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (did it start?)")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        self._record(message.get("method", ""), message.get("params", {}))
        return message

    def _record(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.log.console.append((params.get("type", ""), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.log.exceptions.append(exception.get("description") or details.get("text", "?"))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.log.entries.append((entry.get("level", ""), entry.get("source", ""), entry.get("text", "")))
        elif method == "Page.loadEventFired":
            self._loaded = True

    def _attach(self) -> None:
        targets = self._send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self._send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                   session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self._send(f"{domain}.enable")
        self._send("Emulation.setDeviceMetricsOverride",
                   {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})

    # -- what tests and tools use ----------------------------------------------------------------
    def open(self, path: Path) -> float:
        """Load a local file and wait for its load event; returns seconds until then.

        :attr:`log` starts afresh for each page."""
        self._loaded = False
        self.log = PageLog()
        start = time.monotonic()
        self._send("Page.navigate", {"url": path.resolve().as_uri()})
        deadline = start + self.timeout_s
        while not self._loaded:
            self._receive(deadline)
        return time.monotonic() - start

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (awaits promises)."""
        result = self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"evaluate failed: {details.get('exception', {}).get('description') or details}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """Write a PNG of the page (the whole scrollable page unless ``full_page`` is false)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self._send("Page.getLayoutMetrics")["cssContentSize"]
            height = min(int(size["height"]) + 1, 16000)
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})
        data = self._send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def screenshot(card: Path, png: Path, width: int = 1280) -> PageLog:
    """Open ``card`` headless, write a full-page PNG to ``png``; returns the page's log."""
    with Chromium(width=width) as browser:
        browser.open(card)
        browser.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        browser.screenshot(png)
        return browser.log
