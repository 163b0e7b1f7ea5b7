"""Every URL, every role, odd parameters: no 5xx (issue 12, finding 9).

The URLconf is walked (a URL added later is fuzzed without anyone listing it). For each role —
anonymous, officer, reviewer, the three administrator roles — every URL is requested once with
GET and once with POST, each parameter any view reads set to an odd value; then hypothesis draws more: any URL, any
method, any mix of known and unknown parameter names with odd or random values. Path ids are
those of real objects (published, returned, draft, another unit's) and ids that do not exist.
"""

import io
import re

import pytest
from django.conf import settings as settings_module
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessments.models import Assessment

pytestmark = [pytest.mark.django_db, pytest.mark.exhaustive]

# The demo's accounts: portaladmin, anquan and shenji hold the three administrator roles (issue 18).
ROLES = {"anonymous": None, "officer": "nanyue", "reviewer": "caizheng", "admin": "portaladmin", "security": "anquan",
         "auditor": "shenji"}

# Every query parameter or posted field a portal view reads, and a few of Django admin's.
PARAM_NAMES = [
    "year", "region", "unit", "kind", "q", "page", "round", "state", "flag", "sort", "layout",
    "add_indicators", "add_goals", "add_expenses", "date_from", "date_to", "actor", "action", "outcome",
    "object_type", "object_id", "ip", "reason", "comment", "version", "confirm_replace", "next",
    "o", "p", "e", "all", "_to_field", "_popup", "unit__id__exact", "state__exact", "round__id__exact",
    "review-TOTAL_FORMS", "review-0-key", "review-0-score", "funding-0-actual", "funding-TOTAL_FORMS",
    "indicators-0-weight", "header-project_name", "rt",
]
ODD_VALUES = [
    "²", "٣", "１２", "99999999999999999999999", str(2**63), str(2**63 - 1), "-1", "0", "1e309",
    "9999-12-31", "0001-01-01", "2023-02-29", "sNaN", "NaN", "-Infinity", "a\x00b", "\x00", "'", "%", "_",
    "../../etc/passwd", "<script>alert(1)</script>", " ", "", "-", "--unit", "9" * 400, "🙂", "\ud7ff",
]
# The values that broke parsing before (digits that int() refuses, numbers past the databases'
# integers, the ends of the calendar, NaN, NUL): each is given to every portal URL.
SWEEP_VALUES = ["²", "１２", "99999999999999999999999", str(2**63), "1e309", "9999-12-31", "0001-01-01", "sNaN",
                "a\x00b", "9" * 400, "--unit"]
SWEPT_ROLES = {"anonymous", "officer", "reviewer"}
odd_value = st.sampled_from(ODD_VALUES) | st.text(max_size=20) | st.integers().map(str)
param_name = st.sampled_from(PARAM_NAMES) | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=12)
query = st.dictionaries(param_name, odd_value, max_size=6)


def url_patterns():
    """(route, converters) of every URL pattern, with the prefixes of the resolvers it sits in."""

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                assert isinstance(p, URLPattern)
                yield prefix + str(p.pattern)

    return list(walk(get_resolver().url_patterns, ""))


REGEX_ROUTES = {
    "admin/^(?P<app_label>auth|assessments|axes)/$": "admin/assessments/",
    "admin/(?P<url>.*)$": "admin/no-such-page/",
}


def concrete(route: str, ids: dict) -> str:
    """A path for the route, each converter filled with the value chosen for it."""
    if route in REGEX_ROUTES:
        return "/" + REGEX_ROUTES[route]
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: str(ids.get(m.group(2), ids["other"])), route)


@pytest.fixture
def cast(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())
    ids = {
        "published": Assessment.objects.filter(state="published").order_by("id").first().pk,
        "returned": Assessment.objects.filter(state="returned").first().pk,
        "draft": Assessment.objects.filter(state="draft", unit__memberships__user__username="nanyue").first().pk,
        "other_unit": Assessment.objects.exclude(unit__memberships__user__username="nanyue").order_by("id").first().pk,
        "missing": 10**12,
    }
    return ids


def path_ids(pk) -> dict:
    return {"pk": pk, "token": "no-such-token", "object_id": pk, "content_type_id": 1, "id": pk, "other": pk}


def request(client, username, method, path, data):
    # Who asks must not change between requests (a fuzzed POST to logout/ or login/ would): log in
    # again only when the last answer touched the session cookie (a login costs an audit row).
    cookie = settings_module.SESSION_COOKIE_NAME
    if getattr(client, "_fuzz_as", object()) != username or client._fuzz_touched:
        if username:
            client.force_login(User.objects.get(username=username))
        else:
            client.logout()
        client._fuzz_as = username
    send = client.post if method == "POST" else client.get
    response = send(path, data)
    client._fuzz_touched = cookie in response.cookies
    assert response.status_code < 500, (method, path, data, response.status_code)
    return response


@pytest.mark.parametrize("role", ROLES)
def test_every_url_with_odd_parameters_answers_without_5xx(client, cast, role):
    username = ROLES[role]
    routes = url_patterns()
    assert len(routes) > 100  # the admin's too

    # Every URL once per method, each known parameter given one odd value (a different one per URL);
    # the portal's own URLs (not the admin's) with each of SWEEP_VALUES.
    for n, route in enumerate(routes):
        pk = list(cast.values())[n % len(cast)]
        path = concrete(route, path_ids(pk))
        for method in ("GET", "POST"):
            value = ODD_VALUES[(n * 2 + (method == "POST")) % len(ODD_VALUES)]
            request(client, username, method, path, dict.fromkeys(PARAM_NAMES, value))
        # The sweep where the pages answer with content: the administrator roles (三员) are refused
        # on nearly every portal page before any parameter is read.
        if not route.startswith("admin/") and role in SWEPT_ROLES:
            for value in SWEEP_VALUES:
                request(client, username, "GET", path, dict.fromkeys(PARAM_NAMES, value))

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(route=st.sampled_from(routes), pk=st.sampled_from(list(cast.values())),
           method=st.sampled_from(["GET", "POST"]), data=query)
    def fuzz(route, pk, method, data):
        request(client, username, method, concrete(route, path_ids(pk)), data)

    fuzz()


NUMBER_FIELD = re.compile(r"-(actual|budget|initial_budget|weight|score|staff_quota|staff_actual)$")


def editable(username):
    return list(Assessment.objects.filter(unit__memberships__user__username=username, state__in=["draft", "returned"])
                .order_by("id").values_list("pk", flat=True))


def test_entry_form_fields_with_odd_values(client, cast):
    """The officer's whole form as the page fills it, one or two fields replaced by odd values."""
    from .helpers import form_data

    officer = User.objects.get(username="nanyue")
    client.force_login(officer)
    forms = {pk: form_data(client.get(f"/assessments/{pk}/edit/")) for pk in editable("nanyue")}
    assert len(forms) >= 2
    numeric = {pk: sorted(k for k, v in form.items() if v and NUMBER_FIELD.search(k)) for pk, form in forms.items()}
    assert sum(map(len, numeric.values())) >= 10

    # Every number typed on a form, replaced by a signalling NaN (it compares with the saved value).
    for pk, fields in numeric.items():
        for field in fields:
            request(client, "nanyue", "POST", f"/assessments/{pk}/edit/", {**forms[pk], field: "sNaN"})

    @settings(max_examples=80, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.data())
    def fuzz(data):
        pk = data.draw(st.sampled_from(sorted(forms)))
        posted = dict(forms[pk])
        fields = st.sampled_from(numeric[pk]) | st.sampled_from(sorted(posted))
        for field in data.draw(st.lists(fields, min_size=1, max_size=2)):
            posted[field] = data.draw(odd_value)
        url = data.draw(st.sampled_from([f"/assessments/{pk}/edit/", f"/assessments/{pk}/preview/"]))
        request(client, "nanyue", "POST", url, posted)

    fuzz()
