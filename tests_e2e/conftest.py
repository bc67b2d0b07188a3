"""The browser journey's fixtures: one stack, one browser, one page, shared by the steps in order.

- `stack`: scripts/run_stack.sh on a fresh database (see stack.py), torn down at the end even when
  a step fails or the run is interrupted (SIGTERM is turned into KeyboardInterrupt, so pytest still
  runs the finalizers).
- `page`: Debian's Chromium through Playwright. Every request to a host other than the server under
  test is aborted and recorded; page errors, console errors and server errors (5xx) are recorded.
  After each step the recorder must be empty for that step, or the step fails.
- Screenshots: var/e2e/<NN>-<step>.png after each step (and <NN>-<step>-<what>.png inside a step
  with `shoot`); a failed step leaves <NN>-<step>-FAILED.png.
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import ConsoleMessage, Page, Route, expect, sync_playwright

from tests_e2e.stack import ROOT, Stack

SHOTS = ROOT / "var" / "e2e"
DEMO_LOGIN = ("demo", "demo-scrm-2024")  # printed by seed_demo; local sandbox use only
STEP_NAME = re.compile(r"test_(\d+)_(\w+)")
TIMINGS: dict[str, float] = {}
# A loaded 2-core CI machine: assertions wait as long as actions do (Playwright's default is 5 s).
expect.set_options(timeout=15_000)
LEFT_RUNNING: list[str] = []


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class Recorder:
    """What the browser did that a passing journey must not do."""

    allowed_origin: str
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and f"{parts.scheme}://{parts.netloc}" != self.allowed_origin:
            self.blocked.append(url)
            route.abort("blockedbyclient")
            return
        route.continue_()

    def console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        # Chromium asks for /favicon.ico on its own, not the page; its 404 is not the page's error.
        if urlsplit(source).path == "/favicon.ico":
            return
        self.console_errors.append(f"{page.url}: {message.text} ({source})")

    def counts(self) -> tuple[int, int, int, int]:
        return len(self.blocked), len(self.page_errors), len(self.console_errors), len(self.server_errors)

    def forget(self, mark: tuple[int, int, int, int]) -> None:
        """Drop what was recorded after `mark` (the guard check's own provocations)."""
        for items, start in zip((self.blocked, self.page_errors, self.console_errors, self.server_errors), mark, strict=True):
            del items[start:]

    def since(self, mark: tuple[int, int, int, int]) -> list[str]:
        problems = []
        for label, items, start in zip(
            ("request to another host (blocked)", "JavaScript error", "console error", "server error"),
            (self.blocked, self.page_errors, self.console_errors, self.server_errors),
            mark,
            strict=True,
        ):
            problems += [f"{label}: {item}" for item in items[start:]]
        return problems


class Journey(dict):
    """State handed from step to step (segment name, campaign id, …). `suffix` tells this run's
    names apart from an earlier run's when E2E_REUSE_STACK keeps the database (else it is empty)."""

    suffix = time.strftime(" %m%d-%H%M%S") if os.environ.get("E2E_REUSE_STACK") else ""

    def need(self, key: str, step: str):
        if key not in self:
            pytest.skip(f"needs {key} from {step}, which did not complete")
        return self[key]


def _stop_on_sigterm() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


@pytest.fixture(scope="session")
def stack():
    _stop_on_sigterm()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    stack = Stack(
        database_url=_env("E2E_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/scrm_e2e"),
        redis_url=_env("E2E_REDIS_URL", "redis://127.0.0.1:6379/5"),
        port=int(_env("E2E_PORT", "8780")),
        sandbox_port=int(_env("E2E_SANDBOX_PORT", "8790")),
        demo_customers=int(_env("E2E_DEMO_CUSTOMERS", "200")),
        log_path=SHOTS / "stack.log",
    )
    if os.environ.get("E2E_REUSE_STACK"):
        # Writing a step: attach to a stack already running on these ports (e.g. `make run` with
        # PORT=$E2E_PORT SANDBOX_PORT=$E2E_SANDBOX_PORT); nothing is reset, started or stopped.
        yield stack
        return
    started = time.monotonic()
    stack.reset_state()
    stack.start()
    try:
        stack.wait_ready()
        TIMINGS["stack ready"] = time.monotonic() - started
        yield stack
    finally:
        stopping = time.monotonic()
        stack.stop()
        TIMINGS["stack stopped"] = time.monotonic() - stopping
        LEFT_RUNNING.extend(stack.left_running)


@pytest.fixture(scope="session")
def recorder(stack) -> Recorder:
    return Recorder(allowed_origin=stack.base_url)


@pytest.fixture(scope="session")
def page(stack, recorder):
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_env("E2E_CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = browser.new_context(
            base_url=stack.base_url, locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 900},
            extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
        )
        context.set_default_timeout(15_000)
        context.route("**/*", recorder.route)

        def watch(page: Page) -> None:
            page.on("pageerror", lambda error: recorder.page_errors.append(f"{page.url}: {error}"))
            page.on("console", lambda message: recorder.console(page, message))
            page.on(
                "response",
                lambda response: recorder.server_errors.append(f"{response.status} {response.url}") if response.status >= 500 else None,
            )

        context.on("page", watch)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def admin_login(page: Page) -> Page:
    """Log the page in to the console as the demo operator, unless it already is; ends on /admin/."""
    page.goto("/admin/")
    if "/admin/login/" in page.url:
        page.fill("#id_username", DEMO_LOGIN[0])
        page.fill("#id_password", DEMO_LOGIN[1])
        page.click("button[type=submit], input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


@pytest.fixture
def logged_in(page) -> Page:
    """The session's page, logged in to the console as the demo operator."""
    return admin_login(page)


@pytest.fixture(scope="session")
def journey() -> Journey:
    return Journey()


@pytest.fixture(scope="session")
def api(stack) -> requests.Session:
    """The test's own HTTP client (not the browser): the operator API with the demo login's token."""
    session = requests.Session()
    response = session.post(f"{stack.base_url}/api/v1/auth/token/", data=dict(zip(("username", "password"), DEMO_LOGIN, strict=True)))
    response.raise_for_status()
    session.headers["Authorization"] = f"Token {response.json()['token']}"
    session.base = stack.base_url  # type: ignore[attr-defined]
    return session


@pytest.fixture(scope="session")
def sandbox(stack):
    """The sandbox's control API (POST /_sandbox/<call>), read to see what WeChat received."""

    def call(name: str, **params):
        response = requests.post(f"{stack.sandbox_url}_sandbox/{name}", json=params, timeout=30)
        response.raise_for_status()
        return response.json()

    return call


def settle_charts(page: Page) -> None:
    """Chart.js grows its bars and lines for about a second: a screenshot waits for them."""
    if page.evaluate("() => !!(window.Chart && Object.keys(Chart.instances || {}).length)"):
        page.wait_for_timeout(1200)


@pytest.fixture
def shoot(request, page):
    """`shoot("what")` writes var/e2e/<NN>-<step>-<what>.png (the full page, or the window as the
    operator sees it with full_page=False)."""
    number, name = STEP_NAME.match(request.node.name).groups()

    def take(what: str, *, full_page: bool = True) -> Path:
        path = SHOTS / f"{number}-{name}-{what}.png"
        settle_charts(page)
        page.screenshot(path=path, full_page=full_page)
        return path

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_OUTCOME, {})[report.when] = report
    return report


_OUTCOME = pytest.StashKey[dict]()


@pytest.fixture(autouse=True)
def step(request, page, recorder):
    """Around each step: a screenshot when it ends, and no blocked request or error during it."""
    mark = recorder.counts()
    yield
    number, name = STEP_NAME.match(request.node.name).groups()
    call = request.node.stash.get(_OUTCOME, {}).get("call")
    if call is None or call.skipped:
        return
    if "page" in inspect.signature(request.function).parameters:  # not for a step that only checks records
        page.wait_for_load_state("load")
        settle_charts(page)
        suffix = "-FAILED" if call.failed else ""
        page.screenshot(path=SHOTS / f"{number}-{name}{suffix}.png", full_page=True)
    problems = recorder.since(mark)
    if problems:
        pytest.fail(f"step {number} {name}: " + "; ".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """How long the stack took, and where the screenshots are."""
    if TIMINGS:
        terminalreporter.write_line("e2e stack: " + ", ".join(f"{k} in {v:.0f} s" for k, v in TIMINGS.items()))
    if LEFT_RUNNING:
        terminalreporter.write_line("e2e stack: still running after the grace period, killed: " + "; ".join(LEFT_RUNNING))
    shots = sorted(p.name for p in SHOTS.glob("*.png")) if SHOTS.exists() else []
    if shots:
        terminalreporter.write_line(f"screenshots in {SHOTS}: {', '.join(shots)}")
