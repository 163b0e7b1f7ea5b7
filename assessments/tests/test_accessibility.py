"""Issue 17, part 4: axe-core on every page for every role; the suite fails on any violation.

The pages are those of the permission matrix (test_access_matrix.MATRIX) that answer a role's
GET with an HTML page, plus the in-review review form (the one with score inputs). Each role
logs in once (a session cookie made by the test client) and walks its pages in Chromium."""

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from .axe import violations
from .test_access_matrix import MATRIX, ROLES, cast, media, url_of  # noqa: F401 - fixtures
from .test_access_matrix import world as matrix_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(request, settings, cast, unit_a, round_2020):  # noqa: F811 - the imported fixture
    """The matrix's world, all of it built in one transaction: its export jobs wait for the
    matrix's own `drive` (a transactional test would otherwise run them on commit, before `drive`
    does). The matrix's world builds on first use; here every page is visited, and the ZIP and
    dashboard tests count on the whole world being there."""
    with transaction.atomic():
        built = matrix_world._get_wrapped_function()(request, settings, cast, unit_a, round_2020)
        built.objects.build_all()
        return built

NOT_HTML = {"disclosure:list_json", "disclosure:list_csv", "disclosure:xlsx", "disclosure:json", "audit_export",
            "assessments:bulk_download", "assessments:template_xlsx", "healthz",
            "assessments:dashboard_xlsx", "disclosure:pdf", "disclosure:docx", "disclosure:version_json"}
# Pages each role can reach beyond the matrix's rows (the review form while a review runs).
EXTRA = {"reviewer_a": [("assessments:review", "in_review")], "reviewer_x": []}


def pages_of(role_index: int, role: str) -> list[tuple[str, str | None]]:
    # Public pages are the same bytes for everyone (no session, no user): checked as the anonymous
    # visitor only; every other page as each role that reaches it.
    pages = [
        (name, key) for (name, key), methods in MATRIX.items()
        if name not in NOT_HTML and methods.get("GET", ())[role_index:role_index + 1] == (200,)
        and (role == "anon" or not name.startswith("disclosure:"))
    ]
    return pages + EXTRA.get(role, [])


def log_in(page, live_server, user):
    if user is None:
        return
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.mark.browser
@pytest.mark.parametrize("role", ROLES)
def test_no_axe_violation_on_any_page(live_server, page, world, role):
    log_in(page, live_server, world.cast.user(role))
    found = []
    pages = pages_of(ROLES.index(role), role)
    assert pages, role
    for name, key in pages:
        url = url_of(name, world.objects[key] if key else None)
        # Files (PDF, Word, xlsx, JSON, evidence) are not pages: asked first, never opened.
        if not page.request.get(live_server.url + url).headers.get("content-type", "").startswith("text/html"):
            continue
        response = page.goto(live_server.url + url)
        assert response.status == 200, (url, response.status)
        found += [f"{url}: {v}" for v in violations(page)]
    assert not found, "\n".join(found)


def focused(page) -> dict:
    return page.evaluate("() => ({name: document.activeElement.name || '', text: document.activeElement.textContent.trim()})")


@pytest.mark.browser
def test_keyboard_reaches_the_first_indicator_cell_in_three_tabs(live_server, page, alice, unit_a, round_2020):
    from .test_access_matrix import valid_assessment

    a = valid_assessment(unit_a, round_2020, "键盘项目", user=alice)
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/assessments/{a.pk}/edit/")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "跳到绩效指标表"
    assert page.locator(".skip-link").first.is_visible()  # shown while focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "indicators-0-ORDER"  # the first cell of the first indicator row: 2 Tabs
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "indicators-0-level1"


@pytest.mark.browser
def test_bulk_progress_polls_without_reloading(live_server, page, world):
    from assessments import bulk

    reviewer = world.cast.reviewer_a
    running = bulk.request(world.round, reviewer)  # queued, not built yet
    log_in(page, live_server, reviewer)
    page.goto(f"{live_server.url}/assessments/review/bulk/")
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    assert page.locator("#bulk-jobs").get_attribute("data-running") == "1"
    page.evaluate("() => { window.notReloaded = true; }")
    bulk.build(running.pk)
    page.wait_for_function("() => !document.getElementById('bulk-jobs').dataset.running", timeout=10000)
    assert page.evaluate("() => window.notReloaded") is True  # the same document, updated in place
    assert page.locator("#bulk-status").text_content() == "打包已完成，可以下载。"
    assert page.locator("#bulk-jobs a", has_text="下载 ZIP").count() == 2


@pytest.mark.browser
def test_dashboard_chart_labels_render_at_12px_or_more(live_server, page, world):
    log_in(page, live_server, world.cast.reviewer_a)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/assessments/review/")
    sizes = page.evaluate(
        "() => Array.from(document.querySelectorAll('svg.chart-bars text'))"
        ".map((t) => t.getScreenCTM().a * parseFloat(t.getAttribute('font-size')))"
    )
    assert sizes and min(sizes) >= 12
    # The 单位 box suggests the reviewer's units from the server as one types (issue 17, part 5).
    page.fill("#f-unit", "政法")
    page.wait_for_selector("#f-unit-options option", state="attached")
    assert page.eval_on_selector_all("#f-unit-options option", "os => os.map((o) => o.value)") == [
        "中共长沙市岳麓区委员会政法委员会"]
