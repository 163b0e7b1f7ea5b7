"""Repository-wide pytest fixtures: a real browser for the ``browser`` tests.

Browser tests drive Debian's Chromium (``/usr/bin/chromium``, override with
``PORTAL_CHROMIUM``) through *plain* Playwright for Python. pytest-playwright is
deliberately not used: its fixtures look for Playwright's own downloaded
browsers, and ``playwright install`` cannot download anything here.

Fixtures
  ``chromium``       session-scoped ``playwright.sync_api.Browser`` (headless)
  ``page``           a fresh ``Page`` in a fresh context per test
                     (locale zh-CN, timezone Asia/Shanghai, viewport 1400x1000)
  ``artifacts_dir``  ``<repo>/test-artifacts/`` (git-ignored) for screenshots;
                     a failing test using ``page`` saves ``<test>.png`` there

Usage::

    @pytest.mark.browser
    def test_home(live_server, page, artifacts_dir):
        page.goto(live_server.url + "/")
        page.screenshot(path=artifacts_dir / "home.png")

Tests that use ``page``/``chromium`` get the ``browser`` marker automatically
(so ``-m "not browser"`` always excludes them) and run at the end of the session
(see ``pytest_collection_modifyitems`` for why).

Missing browser: the tests are skipped on a developer machine, but when the
environment variable ``CI`` is set they fail - CI must never silently skip them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BROWSER_FIXTURES = {"chromium", "page"}
DEFAULT_TIMEOUT_MS = int(os.environ.get("PORTAL_BROWSER_TIMEOUT_MS", "15000"))


# --------------------------------------------------------------------- collection
def _is_browser_test(item: pytest.Item) -> bool:
    return item.get_closest_marker("browser") is not None or bool(
        BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    # Runs before `-m` deselection, so a test that uses the browser but forgot
    # @pytest.mark.browser is still excluded by `-m "not browser"`.
    if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("browser"):
        item.add_marker(pytest.mark.browser)


@pytest.hookimpl(trylast=True)  # after pytest-django's own db-based reordering
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Move browser tests to the end (stable: relative order is kept).
    #
    # Why: once Playwright's sync API is started, its asyncio event loop counts as
    # "running" in the main thread for as long as Playwright stays open (verified:
    # asyncio.get_running_loop() returns it between Playwright calls). Django's
    # async-safety check then raises SynchronousOnlyOperation for every ORM call in
    # that thread - including pytest-django's own flush/rollback. The session-scoped
    # `chromium` fixture therefore sets DJANGO_ALLOW_ASYNC_UNSAFE while it is alive
    # (see there). Running browser tests last means every other test still runs
    # before Chromium starts, i.e. with Django's check fully in force.
    items.sort(key=_is_browser_test)


# ---------------------------------------------------------------- xdist workers
def pytest_configure(config: pytest.Config) -> None:
    _own_redis_database_per_worker()


def _own_redis_database_per_worker() -> None:
    """scripts/test.sh runs the PostgreSQL run in two pytest-xdist processes. pytest-django gives
    each its own test database (test_portal_gw0, test_portal_gw1); the cache's Redis database must
    be its own too, as every test starts by clearing the cache (FLUSHDB): worker N uses the
    database after REDIS_URL's by N. Processes a test starts (workers, gunicorn) inherit it
    through the environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("REDIS_URL", "")
    if not (worker.startswith("gw") and url):
        return
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings
    from django.core.cache import caches

    parts = urlsplit(url)
    own = urlunsplit(parts._replace(path=f"/{int(parts.path.strip('/') or 0) + int(worker[2:])}"))
    os.environ["REDIS_URL"] = own
    settings.REDIS_URL = own
    settings.CACHES["default"]["LOCATION"] = own
    caches.__dict__.pop("settings", None)  # read again, should anything have opened a cache already


# ----------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``<repo>/test-artifacts/``: screenshots and other files for humans (git-ignored)."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def chromium(artifacts_dir: Path):
    """One headless Chromium for the whole session (launching costs ~0.8 s)."""
    executable = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        message = (
            f"Chromium not found at {executable!r} (set PORTAL_CHROMIUM, or run "
            "`sudo bash scripts/setup_system.sh`)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so browser tests must not be skipped", pytrace=False)
        pytest.skip(message)

    from playwright.sync_api import sync_playwright

    # DJANGO_ALLOW_ASYNC_UNSAFE: Playwright keeps a private asyncio loop that is
    # "running" in this thread while Playwright is open, so Django would refuse ORM
    # calls made in test bodies and by pytest-django (flush after live_server tests).
    # That is a false positive: the loop only runs while the main greenlet is blocked
    # inside a Playwright call, never at the same time as Django code, and no
    # connection is shared between coroutines. Starting Playwright per test would not
    # help (the test body still runs inside the `with` block) and would cost a
    # Playwright + Chromium start per test. So: set the variable for exactly the
    # lifetime of Playwright and restore it afterwards; browser tests run last (see
    # pytest_collection_modifyitems) so no other test runs without the check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Remember each phase's report on the item, so `page` can tell if the test failed.
    report = yield
    setattr(item, f"_portal_report_{report.when}", report)
    return report


@pytest.fixture
def page(chromium, artifacts_dir: Path, request: pytest.FixtureRequest):
    """A new page in a new zh-CN / Asia/Shanghai context; closed after the test."""
    context = chromium.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1400, "height": 1000},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        report = getattr(request.node, "_portal_report_call", None)
        if report is not None and report.failed and not pg.is_closed():
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            try:
                pg.screenshot(path=artifacts_dir / f"FAILED-{name}.png", full_page=True)
            except Exception:  # a screenshot must never hide the real failure
                pass
        context.close()
