"""Fixtures of the browser suite: two live local-runners and Debian's headless Chromium.

- `studio`: the runner most tests use, over a real S3 server (the workspace's
  s3-test-server on 127.0.0.1), with an API key and the Chatterbox stand-in graphs, so
  cloning and conversion run end to end.
- `bare`: a runner over the filesystem store with no key and no Chatterbox model, for
  what a user sees on a server that cannot clone.

Binaries come from the workspace's debug build (scripts/run-ui-tests.sh builds them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
STANDINS = ROOT / "models/tests/fixtures/chatterbox-standins"
SCREENSHOTS = Path(os.environ.get("UI_TEST_SCREENSHOTS", ROOT / "docs/ui"))
AXE = ROOT / "tests/ui/node_modules/axe-core/axe.min.js"
API_KEY = "sk-ui-test-key"
CHROMIUM = os.environ.get("UI_TEST_CHROMIUM", "/usr/bin/chromium")

# A loaded CI machine (two cores, the runners and Chromium on them) is slower than a desk:
# assertions wait up to 15 s for the page to settle, generations up to 60 s (TIMEOUT).
expect.set_options(timeout=15_000)


class Process:
    """A child process whose first stdout line matching `pattern` gives its address."""

    def __init__(self, args: list[str], pattern: str, log: Path):
        self.log = log
        self.handle = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=open(log, "wb"), text=True
        )
        deadline = time.monotonic() + 60
        self.address = None
        assert self.handle.stdout is not None
        while time.monotonic() < deadline:
            line = self.handle.stdout.readline()
            if not line:
                break
            found = re.search(pattern, line)
            if found:
                self.address = found.group(1)
                break
        if not self.address:
            self.stop()
            raise RuntimeError(f"{args[0]} did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.handle.poll() is None:
            self.handle.terminate()
            try:
                self.handle.wait(10)
            except subprocess.TimeoutExpired:
                self.handle.kill()


def runner(work: Path, name: str, *flags: str) -> Process:
    return Process(
        [str(TARGET / "debug/local-runner"), "--port", "0", "--log", "warn", *flags],
        r"(http://127\.0\.0\.1:\d+)",
        work / f"{name}.log",
    )


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="speech-ui-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def s3(workdir):
    server = Process(
        [str(TARGET / "debug/s3-test-server"), "--port", "0", "--bucket", "speech-ui",
         "--access-key", "uitest", "--secret-key", "uitest-secret", str(workdir / "s3")],
        r"listening on (http://[0-9.:]+)",
        workdir / "s3.log",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def studio(workdir, s3):
    """Base URL of the main runner (S3 store, API key, Chatterbox stand-ins)."""
    process = runner(
        workdir, "studio",
        "--storage", "s3://speech-ui/studio",
        "--s3-endpoint", s3.address, "--s3-region", "us-east-1",
        "--s3-access-key-id", "uitest", "--s3-secret-access-key", "uitest-secret",
        "--api-keys", API_KEY,
        "--chatterbox-dir", str(STANDINS / "original"),
    )
    yield process.address
    process.stop()


@pytest.fixture(scope="session")
def bare(workdir):
    """Base URL of a runner without Chatterbox or keys, over the filesystem store."""
    process = runner(
        workdir, "bare", "--storage", f"file://{workdir / 'bare-data'}",
        "--chatterbox-dir", str(workdir / "no-such-bundle"),
    )
    yield process.address
    process.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        browser.close()


class Page:
    """A browser tab on a runner, recording console errors and failed page loads."""

    def __init__(self, browser, base: str, key: str | None, bypass_csp: bool = False):
        self.base = base
        # `bypass_csp` only for injecting axe-core: the studio's policy refuses inline scripts.
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 860}, accept_downloads=True, base_url=base,
            permissions=["microphone"], bypass_csp=bypass_csp,
        )
        if key:
            # The studio keeps the key in localStorage, as the key box saves it.
            self.context.add_init_script(
                f"localStorage.setItem('speech-studio.api-key', {key!r});"
            )
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def open(self, route: str):
        self.page.goto(f"/ui/#/{route}")
        self.page.wait_for_selector("main h1")
        return self.page

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def axe(self) -> list[dict]:
        """Serious and critical axe-core violations of the page as it is now."""
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.fixture()
def tab(browser, studio):
    page = Page(browser, studio, API_KEY)
    yield page
    page.context.close()


@pytest.fixture()
def bare_tab(browser, bare):
    page = Page(browser, bare, None)
    yield page
    page.context.close()
