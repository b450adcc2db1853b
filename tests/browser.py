"""A real headless Chromium, driven over the DevTools protocol through a pipe, to check a page as
a reader's browser shows it: what the console and the browser's log said, what JavaScript sees
(each image's natural size, the resources fetched), and a screenshot.

Why a pipe (``--remote-debugging-pipe``: commands on the browser's fd 3, replies on its fd 4,
each a JSON text ended by a NUL byte, as Playwright drives it): no port to pick or race for, no
websocket client to install, nothing listening on the network, and the browser ends with the
test process. ``--headless --dump-dom`` and ``--screenshot`` alone cannot say whether an image
decoded or what the console said; Playwright's Python package would bring its own Node.js
driver for what fifty lines do here. Name resolution is mapped to nowhere, so a page that
reaches for the network logs an error instead of fetching.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI containers run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    "--remote-debugging-pipe",
)
PROBE = """(async () => {
  await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
  const urls = Array.from(document.querySelectorAll("[src], [href]"))
    .map(e => e.getAttribute("src") || e.getAttribute("href"));
  return {
    title: document.title,
    headings: Array.from(document.querySelectorAll("h2")).map(h => h.textContent),
    images: Array.from(document.images).map(i => ({alt: i.alt, width: i.naturalWidth,
                                                   height: i.naturalHeight})),
    external: urls.filter(u => !u.startsWith("data:") && !u.startsWith("#")),
    fetched: performance.getEntriesByType("resource").map(r => r.name),
    scripts: document.scripts.length,
    text: document.body.innerText,
  };
})()"""


def chromium() -> str | None:
    """The Chromium (or Chrome) on PATH, if any."""
    return next((found for name in NAMES if (found := shutil.which(name))), None)


class Browser:
    """One headless Chromium; ``open(page)`` loads a file and returns what the probe saw."""

    def __init__(self, executable: str, timeout: float = 60):
        self.timeout, self.events, self.buffer, self.next_id = timeout, [], b"", 0
        self.profile = tempfile.TemporaryDirectory(prefix="nnctl-chromium-")
        commands, self.commands = os.pipe()  # we write, the browser reads fd 3
        self.replies, replies = os.pipe()  # the browser writes fd 4, we read
        high = [os.dup(fd) for fd in (commands, replies)]  # clear of 3 and 4 before dup2

        def wire():  # in the child, before exec
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire,
        )
        for fd in (commands, replies, *high):
            os.close(fd)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self.commands, self.replies):
            os.close(fd)
        self.profile.cleanup()

    # ------------------------------------------------------------------ the protocol
    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        reply = self._until(lambda m: m.get("id") == self.next_id, method)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, event: str) -> dict:
        """The first event named ``event``, kept or still to come."""
        for message in self.events:
            if message.get("method") == event:
                return message
        return self._until(lambda m: m.get("method") == event, event)

    def _until(self, wanted, what: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
                self.events.append(message)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.replies], [], [], left)[0]:
                raise TimeoutError(f"no {what} from Chromium within {self.timeout} s")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (status {self.process.poll()}) before {what}")
            self.buffer += chunk

    # ------------------------------------------------------------------ a page
    def open(self, page: Path, width: int = 1100, height: int = 900) -> tuple[str, dict]:
        """Load ``page`` in a new tab of ``width`` x ``height``; (the tab's session, the probe's
        findings)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics, session)
        self.events.clear()  # about:blank's load is not the page's
        navigation = self.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
        if "errorText" in navigation:
            raise RuntimeError(f"{page}: {navigation['errorText']}")
        self.wait_for("Page.loadEventFired")
        probe = {"expression": PROBE, "awaitPromise": True, "returnByValue": True}
        found = self.send("Runtime.evaluate", probe, session)
        if "exceptionDetails" in found:
            raise RuntimeError(f"the probe failed: {found['exceptionDetails']}")
        return session, found["result"]["value"]

    def errors(self) -> list[str]:
        """What the page's console, its uncaught exceptions and the browser's log reported at
        error level (failed loads and refused resources included)."""
        found = []
        for message in self.events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return found

    def screenshot(self, session: str, target: Path, height: int | None = None) -> Path:
        """The page as PNG: the whole of it, or its first ``height`` pixels."""
        size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "scale": 1}
        clip["height"] = min(size["height"], height or size["height"])
        shot = self.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
            session,
        )
        import base64

        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(shot["data"]))
        return target
