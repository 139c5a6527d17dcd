"""Open a report page in headless Chromium and say whether it rendered cleanly.

    python tests/report/chromium_check.py PAGE.html... [--screenshot OUT.png]

Chromium (Debian: ``apt-get install -y chromium``) is driven over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: commands on fd 3, replies on fd 4), so nothing but the
standard library is needed and no port is opened. For each page: every ``<img>`` decoded
(``naturalWidth > 0``), and the console errors, uncaught exceptions and error log entries
(failed loads included) Chromium reported while loading it.
"""
from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--remote-debugging-pipe")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).exists() else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    url: str
    title: str = ""
    images: list[dict] = field(default_factory=list)   # {"alt", "ok", "width", "height"}
    errors: list[str] = field(default_factory=list)    # console errors, exceptions, error log entries
    screenshot: bytes | None = None

    @property
    def ok(self) -> bool:
        return bool(self.images) and all(i["ok"] for i in self.images) and not self.errors


class Chromium:
    """One headless Chromium with a fresh profile, driven over the DevTools pipe."""

    def __init__(self, binary: str | None = None, timeout: float = 60.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise FileNotFoundError("no Chromium found (apt-get install -y chromium, or set CHROMIUM=/path)")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="hashtron-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def child_fds():  # runs in the child before exec: the pipe ends become fds 3 and 4
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([self.binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=child_fds, close_fds=False)
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict] = []

    # -- protocol ------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._events.append(m)

    def wait_event(self, method: str, session: str | None, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        for i, e in enumerate(self._events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self._events.pop(i)
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method and m.get("sessionId") == session:
                return m
            self._events.append(m)

    def drain(self, seconds: float) -> None:
        """Collect events for a moment (late console messages)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    # -- pages ---------------------------------------------------------------------
    def check(self, page: str | os.PathLike, screenshot: bool = False, width: int = 1280) -> PageCheck:
        url = page if str(page).startswith(("file:", "http:", "https:", "data:")) else Path(page).resolve().as_uri()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable", session=sid)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        self._events = [e for e in self._events if e.get("sessionId") != sid]
        self.send("Page.navigate", {"url": url}, session=sid)
        self.wait_event("Page.loadEventFired", sid)
        self.drain(0.3)
        expr = ("JSON.stringify({title: document.title, images: Array.from(document.images).map(i => "
                "({alt: i.alt, ok: i.complete && i.naturalWidth > 0, width: i.naturalWidth, height: i.naturalHeight}))})")
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sid)
        info = json.loads(res["result"]["value"])
        out = PageCheck(url, info["title"], info["images"], self._errors(sid))
        if screenshot:
            shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=sid)
            out.screenshot = base64.b64decode(shot["data"])
        self.send("Target.closeTarget", {"targetId": target})
        return out

    def _errors(self, sid: str) -> list[str]:
        errs = []
        for e in self._events:
            if e.get("sessionId") != sid:
                continue
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errs.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                                     for a in p.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errs.append("exception: " + str(d.get("exception", {}).get("description") or d.get("text")))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                ent = p["entry"]
                errs.append(f"log ({ent.get('source')}): {ent.get('text')} {ent.get('url', '')}".strip())
        self._events = [e for e in self._events if e.get("sessionId") != sid]
        return errs

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (RuntimeError, TimeoutError, OSError):
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        finally:
            for fd in (self._cmd_w, self._res_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_pages(pages: Sequence[str | os.PathLike], screenshot: bool = False) -> list[PageCheck]:
    with Chromium() as browser:
        return [browser.check(p, screenshot=screenshot) for p in pages]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tests/report/chromium_check.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--screenshot", help="write a full-page PNG of the (last) page here")
    args = ap.parse_args(argv)
    results = check_pages(args.pages, screenshot=bool(args.screenshot))
    for r in results:
        bad = [i["alt"] for i in r.images if not i["ok"]]
        print(f"{'OK ' if r.ok else 'BAD'} {r.url}: {len(r.images)} images ({len(bad)} broken), "
              f"{len(r.errors)} console errors")
        for e in r.errors:
            print("   ", e)
    if args.screenshot and results and results[-1].screenshot:
        Path(args.screenshot).write_bytes(results[-1].screenshot)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
