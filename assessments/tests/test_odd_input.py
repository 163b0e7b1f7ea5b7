"""Odd input answers like absent input, never 500 (issue 12, finding 9): the cases the attack run
found, the amount ``sNaN``, and the parameter parsers they now go through."""

import io
from datetime import date

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from assessments import params
from assessments.models import Assessment, Round, Unit

from .helpers import form_data

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


@pytest.fixture
def demo(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())


def login(client, username):
    client.raise_request_exception = False  # a 500 is an answer to count here
    if username:
        client.force_login(User.objects.get(username=username))
    return client


def editable_of(username, kind):
    """The officer's draft or returned assessment of this kind that has indicator rows."""
    return (
        Assessment.objects.filter(unit__memberships__user__username=username, state__in=["draft", "returned"], kind=kind)
        .filter(indicators__isnull=False).distinct().order_by("id").first()
    )


CASES = [
    # (user, url name, query) — each answered 500 before
    (None, "disclosure:list", {"year": "²"}),
    (None, "disclosure:list", {"region": "²"}),
    (None, "disclosure:list", {"region": HUGE}),
    (None, "disclosure:list", {"unit": HUGE, "year": "２０２０"}),
    (None, "disclosure:list_json", {"region": HUGE}),
    (None, "disclosure:list_csv", {"unit": "²", "page": "²"}),
    ("caizheng", "assessments:dashboard", {"round": "²"}),
    ("caizheng", "assessments:dashboard", {"unit": "²"}),
    ("caizheng", "assessments:dashboard", {"unit": HUGE, "round": HUGE, "sort": "-²"}),
    ("shenji", "audit", {"date_to": "9999-12-31"}),
    ("shenji", "audit", {"date_from": "0001-01-01", "date_to": "0001-01-01"}),
    ("shenji", "audit", {"object_id": "a\x00b", "actor": "\x00"}),
    ("nanyue", "assessments:list", {"year": "²"}),
]


@pytest.mark.parametrize(("username", "name", "query"), CASES, ids=[f"{n}-{'&'.join(q)}" for _, n, q in CASES])
def test_odd_query_values_are_ignored(client, demo, username, name, query):
    client = login(client, username)
    odd = client.get(reverse(name), query)
    assert odd.status_code == 200


def test_odd_values_give_the_unfiltered_page(client, demo):
    login(client, None)
    plain = client.get(reverse("disclosure:list_json"), {"year": "2020"}).content
    assert client.get(reverse("disclosure:list_json"), {"year": "2020", "region": "²", "unit": HUGE}).content == plain
    login(client, "shenji")
    response = client.get(reverse("audit"), {"date_to": "9999-12-31", "date_from": "2020-02-30"})
    assert response.context["errors"] == ["起始日期格式应为 YYYY-MM-DD。"]
    assert response.context["page"].paginator.count == client.get(reverse("audit")).context["page"].paginator.count


def test_add_rows_parameter(client, demo):
    login(client, "nanyue")
    edit = reverse("assessments:edit", args=[editable_of("nanyue", "project").pk])
    assert client.get(edit, {"add_indicators": "²"}).status_code == 200
    rows = client.get(edit).context["entry"].indicators.total_form_count()
    assert client.get(edit, {"add_indicators": "²"}).context["entry"].indicators.total_form_count() == rows
    assert client.get(edit, {"add_indicators": "3"}).context["entry"].indicators.total_form_count() == rows + 3
    assert client.get(edit, {"add_indicators": HUGE}).context["entry"].indicators.total_form_count() == rows + 50


def test_bulk_export_round_field(client, demo):
    login(client, "caizheng")
    for value in ("²", HUGE, "", "-1"):
        response = client.post(reverse("assessments:bulk"), {"round": value})
        assert response.status_code == 302, value
    assert [str(m) for m in response.wsgi_request._messages] == ["请选择评价批次。"] * 4


AMOUNT_FIELDS = {
    "nanyue": ["funding-0-actual", "funding-1-initial_budget"],  # a returned project (seed 001's layout)
    "lukou": ["structure-0-actual", "expenses-0-actual"],  # a department draft
}
NOT_NUMBERS = ["sNaN", "NaN", "-Infinity", "sNaN123"]


@pytest.mark.parametrize("username", AMOUNT_FIELDS)
def test_amount_that_is_not_a_number_is_a_field_error(client, demo, username):
    """``sNaN`` parsed as a Decimal, and comparing it with the saved amount raised InvalidOperation."""
    login(client, username)
    a = Assessment.objects.filter(unit__memberships__user__username=username, state__in=["draft", "returned"]).order_by("id").first()
    edit = reverse("assessments:edit", args=[a.pk])
    saved = form_data(client.get(edit))
    for field in AMOUNT_FIELDS[username]:
        for value in NOT_NUMBERS:
            assert saved.get(field), field  # an amount is saved there, so the form compares with it
            data = {**saved, field: value}
            response = client.post(edit, data)
            assert response.status_code == 400, (field, value)
            assert [e for e in response.context["errors"] if "请输入数字金额" in e] == [
                e for e in response.context["errors"] if e.endswith("请输入数字金额（单位：万元），例如 36 或 30.64。")] != []
            assert client.post(reverse("assessments:preview", args=[a.pk]), data).status_code == 200, (field, value)


def test_parsers():
    assert [params.Int()(v) for v in ("7", " 7 ", "²", "٣", "１２", "-1", "0", "1e3", HUGE, str(2**63 - 1), "")] == [
        7, 7, None, None, None, None, None, None, None, 2**63 - 1, None]
    assert [params.Int(0, 50, clamp=True)(v) for v in ("0", "51", HUGE, "²")] == [0, 50, 50, None]
    assert [params.Day()(v) for v in ("2024-02-29", "2023-02-29", "9999-12-31", "２０２４-01-01", "2024-1-1")] == [
        date(2024, 2, 29), None, date(9999, 12, 31), None, None]
    assert params.day_end(date(9999, 12, 31)) is None and params.day_start(date(1, 1, 1)) is None
    assert params.day_end(date(2024, 1, 1)).isoformat() == "2024-01-02T00:00:00+08:00"
    assert params.Text(5)(" a\x00bcdefg ") == "abcde"
    assert params.Text()("\x00 ") is None
    assert params.Sort({"unit"})("-unit") == "-unit" and params.Sort({"unit"})("--unit") is None
    p = params.read({"year": "2020", "region": "²", "q": " 平安 ", "rt": "1"}, {"year": params.Int(), "region": params.Int(),
                                                                             "q": params.Text(), "page": params.PAGE})
    assert (dict(p), p.refused) == ({"year": 2020, "region": None, "q": "平安", "page": None}, {"region"})
    assert params.canonical(p) == "year=2020&q=%E5%B9%B3%E5%AE%89"
    assert params.canonical({**p, "page": 1}) == params.canonical(p)
    assert params.canonical({**p, "page": 2}, without=("page",)) == params.canonical(p)


def test_ids_beyond_the_databases_integers_are_no_match(client, demo):
    """Another guard of the same kind: an id within 2**63 that does not exist is simply absent."""
    login(client, None)
    biggest = str(2**63 - 1)
    assert client.get(reverse("disclosure:list_json"), {"unit": biggest}).json()["count"] == 0
    assert Unit.objects.filter(pk=2**63 - 1).count() == 0 and Round.objects.count() > 0


def test_posted_comments_and_buttons(client, demo):
    """Texts posted outside a Django form lose NUL characters (PostgreSQL refuses them); an unknown
    button saves; an odd version number is a stale page."""
    from assessments.models import Transition

    login(client, "caizheng")
    published = Assessment.objects.filter(state="published").order_by("id").first()
    response = client.post(reverse("assessments:review", args=[published.pk]), {"action": "unpublish", "reason": "数据\x00有误"})
    assert response.status_code == 302
    assert Transition.objects.filter(assessment=published).latest("id").comment == "数据有误"
    assert Assessment.objects.get(pk=published.pk).state == "approved"

    login(client, "lukou")
    a = Assessment.objects.filter(unit__memberships__user__username="lukou", state="draft").order_by("id").first()
    edit = reverse("assessments:edit", args=[a.pk])
    response = client.post(edit, {**form_data(client.get(edit)), "action": "add_\r\nX: y"})
    assert (response.status_code, response["Location"]) == (302, edit)
    response = client.post(edit, {**form_data(client.get(edit)), "action": "add_goals"})
    assert (response.status_code, response["Location"]) == (302, f"{edit}?add_goals=3#goals")
    assert client.post(edit, {**form_data(client.get(edit)), "version": "²"}).status_code == 409
