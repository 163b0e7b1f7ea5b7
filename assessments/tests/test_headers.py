"""Output safety (issue 5): CSP and security headers, no-store on session pages, nothing inline
in the HTML, `check --deploy` clean in production settings, fail-closed SECRET_KEY, error pages
without a traceback."""

import io
import os
import re
import secrets
import subprocess
import sys
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.management import call_command
from django.urls import path, reverse

import portal.urls
from assessments.models import Assessment

pytestmark = [pytest.mark.django_db, pytest.mark.exhaustive]

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}
NEVER_CACHE = {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}
PUBLIC_CACHE = "public, no-cache"  # stored downstream only with revalidation (issue 12, finding 4)


# --- Test-only URLs: a view that fails --------------------------------------------------------


def boom(request):
    raise RuntimeError("internal-detail-7f3a: do not show me")


@login_not_required  # marks the function itself: a second function, not a wrapper of `boom`
def boom_public(request):
    raise RuntimeError("internal-detail-7f3a: do not show me")


urlpatterns = [
    path("__test__/boom/", boom),
    path("__test__/boom-public/", boom_public),
    *portal.urls.urlpatterns,
]


# --- Helpers ------------------------------------------------------------------------------------


def csp(response) -> dict[str, list[str]]:
    return parse_csp(response["Content-Security-Policy"])


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in policy, f"directive {name} twice in {header!r}"
        policy[name] = sources
    return policy


def cache_directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",") if d.strip()}


def assert_security_headers(response):
    assert csp(response) == EXPECTED_CSP
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.invalid", "Admin-Pass-2024-x")


# --- Headers --------------------------------------------------------------------------------------


def test_public_page_headers(client):
    response = client.get(reverse("disclosure:list"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert response["Cache-Control"] == PUBLIC_CACHE
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


def test_public_page_stays_public_for_a_logged_in_official(alice_client):
    response = alice_client.get(reverse("disclosure:list"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert response["Cache-Control"] == PUBLIC_CACHE  # same content for everyone: no session read
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize("name", ["assessments:list", "assessments:detail", "assessments:edit"])
def test_officer_pages_are_never_stored(alice_client, department, name):
    url = reverse(name) if name == "assessments:list" else reverse(name, args=[department.pk])
    response = alice_client.get(url)
    assert response.status_code == 200
    assert_security_headers(response)
    assert cache_directives(response) == NEVER_CACHE
    assert response.has_header("Expires")


def test_reviewer_dashboard_is_never_stored(client, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("assessments:dashboard"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert cache_directives(response) == NEVER_CACHE


@pytest.mark.parametrize("url", ["/admin/", "/admin/auth/user/", "/admin/assessments/unit/add/"])
def test_admin_headers(client, admin_user, url):
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200
    assert_security_headers(response)
    assert cache_directives(response) == NEVER_CACHE


def test_login_page_and_redirect_to_it_are_never_stored(client):
    response = client.get(reverse("assessments:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert cache_directives(response) == NEVER_CACHE
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert cache_directives(response) == NEVER_CACHE


def test_healthz_headers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert_security_headers(response)
    assert cache_directives(response) == NEVER_CACHE
    assert not response.cookies


# --- Nothing inline in the HTML -----------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "xlink:href", "cite", "background"}
SKIP_PREFIXES = ("/static/", "/media/", "/logout/", "/admin/logout/")
SKIP_SUFFIXES = (".xlsx", ".json", ".csv", ".zip", "/download/", "/delete/")


class PageScan(HTMLParser):
    """Records what a CSP without 'unsafe-inline' would block, and the page's links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        seen = dict(attrs)
        if tag == "script" and not seen.get("src"):
            self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            if name in URL_ATTRIBUTES and value and "".join(value.split()).lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "a" and seen.get("href"):
            self.links.append(seen["href"])

    handle_startendtag = handle_starttag


def crawl(client, starts, limit=60):
    """GET same-site pages breadth-first from `starts`; yield (url, response) for every page."""
    queue, seen, per_path, visited = deque(starts), set(starts), {}, 0
    while queue and visited < limit:
        url = queue.popleft()
        visited += 1
        response = client.get(url)
        if response.status_code in (301, 302):
            yield url, response
            target = urlsplit(urljoin(url, response["Location"]))._replace(scheme="", netloc="").geturl()
            if target not in seen:
                seen.add(target)
                queue.append(target)
            continue
        if not response["Content-Type"].startswith("text/html") or response.streaming:
            yield url, response
            continue
        scan = PageScan()
        scan.feed(response.content.decode())
        response.scan = scan
        yield url, response
        for href in scan.links:
            target = urlsplit(urljoin(url, href))
            if target.netloc not in ("", "testserver") or target.scheme not in ("", "http"):
                continue
            link = target._replace(scheme="", netloc="", fragment="").geturl()
            if link in seen or link.startswith(SKIP_PREFIXES) or target.path.endswith(SKIP_SUFFIXES):
                continue
            if per_path.setdefault(target.path, 0) >= 2:  # filters and pages: two variants are enough
                continue
            per_path[target.path] += 1
            seen.add(link)
            queue.append(link)


@pytest.fixture
def demo_site(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())
    return get_user_model().objects


@pytest.mark.parametrize(
    "who, starts, must_visit",
    [
        (None, ["/disclosure/", "/login/"], ["/disclosure/{published}/"]),
        ("lukou", ["/", "/assessments/", "/disclosure/"], ["/assessments/{own}/edit/", "/assessments/{own}/"]),
        ("caizheng", ["/", "/assessments/review/", "/assessments/review/bulk/"], ["/assessments/review/{submitted}/"]),
        ("portaladmin", ["/admin/", "/admin/assessments/unit/", "/admin/auth/user/"], ["/admin/assessments/unit/{unit}/change/"]),
        ("anquan", ["/admin/", "/admin/assessments/securitypolicy/", "/admin/assessments/otpdevice/add/"], []),
        ("shenji", ["/audit/"], []),
    ],
)
def test_rendered_pages_have_no_inline_script_handler_or_javascript_url(client, demo_site, who, starts, must_visit):
    users = demo_site
    if who:
        client.force_login(users.get(username=who))
    published = Assessment.objects.filter(state=Assessment.State.PUBLISHED).first()
    own = Assessment.objects.get(unit__memberships__user__username="lukou", state=Assessment.State.DRAFT)
    submitted = Assessment.objects.exclude(state=Assessment.State.DRAFT).order_by("pk").first()
    ids = {"published": published.pk, "own": own.pk, "submitted": submitted.pk, "unit": own.unit_id}
    starts = starts + [m.format(**ids) for m in must_visit]

    problems, html_pages, errors = [], [], []
    for url, response in crawl(client, starts):
        if response.status_code >= 500:
            errors.append(f"{url}: {response.status_code}")
        assert csp(response) == EXPECTED_CSP, url
        if who and not urlsplit(url).path.startswith("/disclosure"):
            assert "no-store" in cache_directives(response), url
        scan = getattr(response, "scan", None)
        if scan is not None:
            html_pages.append(url)
            problems += [f"{url}: {p}" for p in scan.problems]
    assert errors == []
    assert problems == []
    for m in must_visit:
        assert m.format(**ids) in html_pages
    assert len(html_pages) >= (5 if who != "shenji" else 1), html_pages


def test_error_pages_have_nothing_inline(client, alice_client):
    scan = PageScan()
    scan.feed((ROOT / "templates" / "500.html").read_text())
    assert scan.problems == []
    for response in (client.get("/no-such-page/"), alice_client.get("/assessments/999999/")):
        assert response.status_code == 404
        scan = PageScan()
        scan.feed(response.content.decode())
        assert scan.problems == []


# --- Error pages ----------------------------------------------------------------------------------


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url, login", [("/__test__/boom/", True), ("/__test__/boom-public/", False)])
def test_server_error_shows_the_chinese_page_without_traceback(settings, client, alice, url, login):
    settings.DEBUG = False
    client.raise_request_exception = False
    if login:
        client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 500
    body = response.content.decode()
    assert "服务器内部错误（500）" in body
    assert "系统处理您的请求时出错，错误已记录。" in body
    for leak in ("Traceback", "RuntimeError", "internal-detail-7f3a", "boom", "File \"", "settings", "DEBUG"):
        assert leak not in body
    assert_security_headers(response)
    if login:
        assert cache_directives(response) == NEVER_CACHE


def test_not_found_page_is_the_chinese_one_without_debug_details(settings, client):
    settings.DEBUG = False
    response = client.get("/disclosure/999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在（404）" in body
    assert "Using the URLconf" not in body and "urlpatterns" not in body


# --- Production settings ------------------------------------------------------------------------


def run_django(args, **env_changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(env_changes)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def production_env(**extra):
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "jxzp.czt.example.gov.cn",
        "DJANGO_HTTPS": "1",
        **extra,
    }


def test_check_deploy_is_clean_with_production_settings():
    result = run_django(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    # "(N silenced)": deliberate silences live in settings.SILENCED_SYSTEM_CHECKS (axes.W006, by design).
    assert re.fullmatch(r"System check identified no issues \(\d+ silenced\)\.\n", result.stdout), result.stdout


def test_check_deploy_without_https_settings_names_what_is_missing():
    env = production_env()
    del env["DJANGO_HTTPS"]
    result = run_django(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr + result.stdout


def test_https_settings():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.DEBUG, s.SECURE_PROXY_SSL_HEADER)"
    )
    result = run_django(["-c", f"import django; django.setup(); {code}"], DJANGO_SETTINGS_MODULE="portal.settings",
                        **production_env(DJANGO_PROXY_SSL_HEADER="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "31536000", "True", "True", "True", "False",
                                     "('HTTP_X_FORWARDED_PROTO',", "'https')"]


@pytest.mark.parametrize(
    "args",
    [
        ["manage.py", "migrate"],
        ["-c", "import portal.wsgi"],  # what gunicorn does
        ["-m", "celery", "-A", "portal", "report"],
    ],
)
def test_missing_secret_key_is_an_error_outside_development(args, tmp_path):
    result = run_django(args, DJANGO_SETTINGS_MODULE="portal.settings", DATABASE_URL=f"sqlite:///{tmp_path}/never.sqlite3")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off." in result.stderr
    assert not (tmp_path / "never.sqlite3").exists()


def test_missing_secret_key_is_allowed_in_development(tmp_path):
    result = run_django(["-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
                        DJANGO_SETTINGS_MODULE="portal.settings", DJANGO_DEBUG="1",
                        DATABASE_URL=f"sqlite:///{tmp_path}/dev.sqlite3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# --- In a real browser: the policy blocks nothing the portal needs ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_csp_violation_in_chromium(live_server, page, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", force=True, stdout=io.StringIO())  # transaction=True: the exports publish on commit
    users = get_user_model().objects
    draft = Assessment.objects.get(unit__memberships__user__username="lukou", state=Assessment.State.DRAFT)
    published = Assessment.objects.filter(state=Assessment.State.PUBLISHED).first()

    console = []
    page.on("console", lambda message: console.append(message.text))
    # Playwright's init script is injected by the browser itself, outside the page's CSP.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));"
    )

    def visit(path: str) -> None:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert parse_csp(response.headers["content-security-policy"]) == EXPECTED_CSP
        assert page.evaluate("window.__csp") == [], path

    def login_as(username: str) -> None:
        client.force_login(users.get(username=username))
        page.context.clear_cookies()
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                                   "url": live_server.url}])

    visit("/disclosure/")
    visit(f"/disclosure/{published.pk}/")
    # The stylesheets apply (portal.css: the red navigation bar).
    assert page.evaluate("getComputedStyle(document.querySelector('.portal-nav')).backgroundColor") == "rgb(155, 28, 28)"

    login_as("lukou")
    visit(f"/assessments/{draft.pk}/edit/")
    rows = page.locator('table.formset[data-prefix="indicators"] tbody tr.indicator-row').count()
    page.click('button.add-row[data-prefix="indicators"]')  # entry.js (an external script) adds the row
    assert page.locator('table.formset[data-prefix="indicators"] tbody tr.indicator-row').count() == rows + 1
    assert page.evaluate("window.__csp") == []
    visit("/assessments/new/")

    login_as("caizheng")
    visit("/assessments/review/")

    login_as("portaladmin")  # the 系统管理员 (issue 18)
    visit("/admin/")
    visit(f"/admin/assessments/unit/{draft.unit_id}/change/")
    visit("/admin/auth/user/add/")

    login_as("anquan")  # the 安全管理员
    visit("/admin/assessments/otpdevice/add/")

    login_as("shenji")  # the 审计管理员
    visit("/audit/")

    assert [m for m in console if "Content Security Policy" in m] == []
