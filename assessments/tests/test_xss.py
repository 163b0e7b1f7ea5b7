"""Output safety (issue 5): XSS payloads and spreadsheet formulas typed into every text field.

XSS: each payload of the corpus, typed into every text field of the entry form and of the review
form and into the workflow comments, is saved, then rendered on the officer's pages, the
reviewer's pages and the public pages: it always appears escaped, never as markup; no `on…`
attribute and no `javascript:` URL ever reaches the HTML.

Formula injection: texts starting with = + - @ in every text field come out of the public xlsx
as text cells (data_type "s", value unchanged, quotePrefix) and out of the CSV with a leading
apostrophe.
"""

import csv
import io
import json
import re
from html.parser import HTMLParser

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from assessments.models import Assessment

from .helpers import body, form_data
from .test_access_matrix import VALID_ROWS, make_reviewer, valid_assessment

pytestmark = [pytest.mark.django_db, pytest.mark.exhaustive]

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "'';!--\"<XSS>=&{()}",
    "<svg/onload=alert(1)>",
]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- typing into the forms ---------------------------------------------------------------------

QUALITATIVE_ROW = 1  # VALID_ROWS[1] (效益指标 "有所帮助") takes any text as its target and actual


def entry_fields(data: dict) -> list[str]:
    """Every free-text field of the posted entry form (header, funding reasons, goals, indicator
    texts, expense names/notes, report titles/bodies)."""
    names = [k for k in data if k in (
        "header-project_name", "header-project_leader", "header-supervisor_name", "header-implementer",
        "header-duties")]
    names += [k for k in data if re.fullmatch(r"funding-\d+-reason", k)]
    names += [k for k in data if re.fullmatch(r"goals-\d+-(target|achieved)", k)]
    names += [k for k in data if re.fullmatch(r"indicators-\d+-(name|reason)", k)]
    names += [f"indicators-{QUALITATIVE_ROW}-target", f"indicators-{QUALITATIVE_ROW}-actual"]
    names += [k for k in data if re.fullmatch(r"expenses-\d+-(name|note)", k)]
    names += [k for k in data if re.fullmatch(r"sections-\d+-(title|body)", k)]
    return names


def add_expense_row(data: dict) -> None:
    n = int(data["expenses-TOTAL_FORMS"])
    data.update({f"expenses-{n}-name": "x", f"expenses-{n}-budget": "5", f"expenses-{n}-actual": "5",
                 f"expenses-{n}-note": "x", f"expenses-{n}-ORDER": str(n + 1)})
    data["expenses-TOTAL_FORMS"] = str(n + 1)


def type_into_entry(officer, a, value_for) -> dict[str, str]:
    """Type `value_for(field)` into every text field of `a`'s form and save; the typed values."""
    url = reverse("assessments:edit", args=[a.pk])
    data = form_data(officer.get(url))
    if a.kind == Assessment.Kind.DEPARTMENT:
        add_expense_row(data)
    typed = {name: value_for(name) for name in entry_fields(data)}
    data.update(typed)
    data[f"indicators-{QUALITATIVE_ROW}-outcome"] = "achieved"
    response = officer.post(url, data)
    assert response.status_code == 302, getattr(response, "context", None) and response.context.get("errors")
    return typed


def review_fields(response) -> dict:
    """The review form as the browser posts it."""
    formset = response.context["formset"]
    data = {}
    for name in formset.management_form.fields:
        value = formset.management_form[name].value()
        data[f"{formset.prefix}-{name}"] = "" if value is None else str(value)
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else str(value)
    return data


def review(reviewer, a, action, value_for) -> dict[str, str]:
    """Start (if needed) and decide the review with `value_for` in every note and the comment."""
    url = reverse("assessments:review", args=[a.pk])
    if Assessment.objects.get(pk=a.pk).state == Assessment.State.SUBMITTED:
        assert reviewer.post(url, {"action": "start_review"}).status_code == 302
    data = review_fields(reviewer.get(url))
    typed = {k: value_for(k) for k in data if re.fullmatch(r"review-\d+-note", k)}
    typed["comment"] = value_for("comment")
    data.update(typed, action=action)
    response = reviewer.post(url, data)
    assert response.status_code == 302, response.context and response.context.get("errors")
    return typed


# --- reading the HTML --------------------------------------------------------------------------


class Markup(HTMLParser):
    """Every tag, attribute and <script> of a page, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.scripts = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))

    handle_startendtag = handle_starttag


KNOWN_TAGS = {
    "html", "head", "meta", "title", "link", "body", "nav", "div", "a", "ul", "li", "span", "form", "input",
    "button", "main", "h1", "h2", "h3", "h4", "h5", "p", "table", "caption", "thead", "tbody", "tfoot", "tr",
    "th", "td", "footer", "script", "label", "textarea", "select", "option", "optgroup", "small", "strong", "em",
    "br", "section", "header", "dl", "dt", "dd", "ol", "details", "summary", "b", "i", "hr", "col", "colgroup",
    "fieldset", "legend", "abbr", "code", "pre", "sup", "sub", "mark", "aside", "article", "noscript",
    "time", "progress", "kbd", "figure", "figcaption", "template", "datalist",
    # Inline SVG charts (includes/chart_*.html, issue 7); held to their own attributes below.
    "svg", "rect", "line", "text", "polyline", "circle",
}
SVG_CHART_ATTRS = {"class", "xmlns", "viewbox", "role", "aria-label", "width", "height"}  # width/height: natural size (issue 17)


def assert_safe_html(html: str, where: str) -> None:
    """No payload executes: no literal payload markup, no event handler, no javascript: URL,
    no element the templates do not write, scripts only from /static/."""
    for literal in ("<script>alert(1)</script>", "<svg/onload", "<XSS>", "<img src=x"):
        assert literal not in html, (where, literal)
    page = Markup()
    page.feed(html)
    assert set(page.tags) <= KNOWN_TAGS, (where, set(page.tags) - KNOWN_TAGS)
    assert [(t, n) for t, n, _ in page.attrs if n.startswith("on")] == [], where
    assert [(t, v) for t, n, v in page.attrs if n in ("href", "src", "action", "formaction", "data", "srcset")
            and "javascript:" in v.replace(" ", "").lower()] == [], where
    assert [s for s in page.scripts if not (s or "").startswith("/static/")] == [], where
    assert [(t, v) for t, n, v in page.attrs if t == "img" or (t == "svg" and n not in SVG_CHART_ATTRS)] == [], where
    assert [v for t, n, v in page.attrs if t == "svg" and n == "class" and not v.startswith("chart-svg")] == [], where


def shown(html: str, typed: dict[str, str]) -> set[str]:
    """The typed fields whose value appears (escaped, as Django writes it) in the page."""
    return {name for name, value in typed.items() if escape(value) in html}


# --- the XSS test ------------------------------------------------------------------------------


def tagged(template, prefix):
    """A value per field: a unique tag (to find the field in the output) in `template`."""
    tags = {}

    def value_for(name):
        if name not in tags:
            tags[name] = template.replace("{tag}", f"{prefix}T{len(tags) + 1:03d}")
        return tags[name]

    return value_for


def publish_through_the_pages(officer, reviewer, a, value_for, capture) -> dict[str, str]:
    """Type into every field, submit (with a comment), get returned (notes and comment), submit
    again, get approved (notes and comment; the export runs eagerly on commit): the typed values."""
    typed = type_into_entry(officer, a, value_for)
    response = officer.post(reverse("assessments:submit", args=[a.pk]), {"comment": value_for("submit")})
    assert (response.status_code, Assessment.objects.get(pk=a.pk).state) == (302, "submitted")
    typed["submit"] = value_for("submit")
    typed.update({f"r1:{k}": v for k, v in review(reviewer, a, "return", lambda n: value_for(f"r1:{n}")).items()})
    return typed


def approve(officer, reviewer, a, value_for, capture) -> dict[str, str]:
    assert officer.post(reverse("assessments:submit", args=[a.pk])).status_code == 302
    with capture(execute=True):  # approval → export (eager Celery) → publish, as after a real commit
        approved = review(reviewer, a, "approve", lambda n: value_for(f"r2:{n}"))
    assert Assessment.objects.get(pk=a.pk).state == Assessment.State.PUBLISHED
    return {f"r2:{k}": v for k, v in approved.items()}


@pytest.mark.parametrize("payload", PAYLOADS, ids=["script", "img-onerror", "javascript-url", "xss-locator",
                                                   "svg-onload"])
def test_payloads_render_escaped_everywhere(payload, media, unit_a, round_2020, alice,
                                            django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    carol = make_reviewer("carol", unit_a)
    officer, reviewer, public = login(alice), login(carol), Client()
    project = valid_assessment(unit_a, round_2020, "项目", user=alice)
    department = valid_assessment(unit_a, round_2020, "", user=alice, kind="department")
    value_for = {a.pk: tagged("{tag}" + payload, f"A{a.pk}") for a in (project, department)}
    typed, pages = {}, {}
    for a in (project, department):
        typed[a.pk] = publish_through_the_pages(officer, reviewer, a, value_for[a.pk], capture)
        # The officer sees the returned review (its comment and row notes) on the detail and edit pages.
        pages[("officer returned", a.pk)] = officer.get(reverse("assessments:detail", args=[a.pk]))
        pages[("officer edit returned", a.pk)] = officer.get(reverse("assessments:edit", args=[a.pk]))
        typed[a.pk].update(approve(officer, reviewer, a, value_for[a.pk], capture))
    for a in (project, department):
        pages[("officer published", a.pk)] = officer.get(reverse("assessments:detail", args=[a.pk]))
        pages[("review published", a.pk)] = reviewer.get(reverse("assessments:review", args=[a.pk]))
        pages[("public detail", a.pk)] = public.get(reverse("disclosure:detail", args=[a.pk]))
        for name in ("disclosure:xlsx", "disclosure:json"):  # the title is in the download's file name
            response = public.get(reverse(name, args=[a.pk]))
            b"".join(response.streaming_content)
            disposition = response["Content-Disposition"]
            assert response.status_code == 200 and re.fullmatch(r"(attachment|inline); filename\*=utf-8''[^\s<>\"]+",
                                                                 disposition), disposition
    pages[("officer list", None)] = officer.get(reverse("assessments:list"))
    pages[("dashboard", None)] = reviewer.get(reverse("assessments:dashboard"))
    pages[("dashboard search", None)] = reviewer.get(reverse("assessments:dashboard"), {"q": payload})
    pages[("public list", None)] = public.get(reverse("disclosure:list"))
    pages[("public search", None)] = public.get(reverse("disclosure:list"), {"q": payload})
    # Withdrawn from public view with the payload as the reason: the 410 page and both histories.
    for a in (project, department):
        typed[a.pk]["unpublish"] = value_for[a.pk]("unpublish")
        with capture(execute=True):  # the public cache is renewed on commit
            response = reviewer.post(reverse("assessments:review", args=[a.pk]),
                                     {"action": "unpublish", "reason": typed[a.pk]["unpublish"]})
        assert (response.status_code, Assessment.objects.get(pk=a.pk).state) == (302, "approved")
        pages[("public gone", a.pk)] = public.get(reverse("disclosure:detail", args=[a.pk]))
        pages[("officer unpublished", a.pk)] = officer.get(reverse("assessments:detail", args=[a.pk]))
        pages[("review unpublished", a.pk)] = reviewer.get(reverse("assessments:review", args=[a.pk]))

    def expected(page, pk, own):
        """Which typed fields each page shows (escaped)."""
        fields = set(typed[pk])
        entry = {f for f in fields if ":" not in f and f not in ("submit", "unpublish")}
        notes = {f for f in fields if re.fullmatch(r"r\d:review-\d+-note", f)}
        title = {"header-project_name"} & fields
        if page in ("officer list", "dashboard", "dashboard search", "public list", "public search"):
            return title
        if not own:
            return set()  # an assessment's texts never show on another assessment's page
        return {
            "officer returned": entry | {"submit", "r1:comment"} | {n for n in notes if n.startswith("r1:")},
            "officer edit returned": entry | {"r1:comment"} | {n for n in notes if n.startswith("r1:")},
            "officer published": entry | {"submit", "r1:comment", "r2:comment"},
            "officer unpublished": entry | {"submit", "r1:comment", "r2:comment", "unpublish"},
            "review published": fields - {"unpublish"},
            "review unpublished": fields,
            "public detail": entry,
            "public gone": set(),
        }[page]

    wrong = []
    for (page, owner), response in pages.items():
        where = f"{page} {owner or ''}"
        assert response.status_code == (410 if page == "public gone" else 200), where
        html = response.content.decode()
        assert_safe_html(html, where)
        if escape(payload) != payload:
            assert payload not in html, where
        for pk in typed:
            if shown(html, typed[pk]) != expected(page, pk, owner == pk):
                wrong.append((where, pk, sorted(shown(html, typed[pk]) ^ expected(page, pk, owner == pk))))
    assert wrong == []


# --- spreadsheet formulas ----------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/{tag}","点击查看")',
    "+{tag}+cmd|' /C calc'!A0",
    "-{tag}-2+3",
    "@SUM({tag})",
]


def formulas():
    """Each field gets the next formula of the list, tagged."""
    tags = {}

    def value_for(name):
        if name not in tags:
            n = len(tags)
            tags[name] = FORMULAS[n % len(FORMULAS)].replace("{tag}", f"F{n + 1:03d}")
            if name == "sections-1-body":  # a formula as the second paragraph of a report section
                tags[name] = f"第一段F{n + 1:03d}。\n{tags[name]}"
        return tags[name]

    return value_for


def test_formulas_are_text_in_xlsx_and_quoted_in_csv(media, unit_a, round_2020, alice,
                                                    django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    carol = make_reviewer("carol", unit_a)
    officer, reviewer, public = login(alice), login(carol), Client()
    project = valid_assessment(unit_a, round_2020, "项目", user=alice)
    department = valid_assessment(unit_a, round_2020, "", user=alice, kind="department")
    typed = {}
    for a in (project, department):
        value_for = formulas()
        typed[a.pk] = type_into_entry(officer, a, value_for)
        assert officer.post(reverse("assessments:submit", args=[a.pk])).status_code == 302
        with capture(execute=True):
            review(reviewer, a, "approve", lambda n: "复核")
        assert Assessment.objects.get(pk=a.pk).state == Assessment.State.PUBLISHED

    for a in (project, department):
        entry = typed[a.pk]
        response = public.get(reverse("disclosure:xlsx", args=[a.pk]))
        assert response.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
        assert [c.coordinate for c in cells if c.data_type == "f"] == []  # no formula anywhere
        by_value = {}
        for c in cells:
            by_value.setdefault(c.value, []).append(c)
        # Every typed text is in a cell of its own, exactly as typed, as a string with quotePrefix;
        # report titles are numbered ("一、=…") so they no longer start with a formula character.
        titles = {k: v for k, v in entry.items() if re.fullmatch(r"sections-\d+-title", k)}
        for name, value in entry.items():
            if name in titles:
                assert any(isinstance(c.value, str) and c.value.endswith("、" + value) for c in cells), name
                continue
            for paragraph in value.split("\n"):  # the report sheet has one row per paragraph
                found = by_value.get(paragraph, [])
                want = ("s", paragraph[0] in "=+-@")
                assert found and all((c.data_type, c.quotePrefix) == want for c in found), (name, paragraph)
        # The JSON document keeps the texts unchanged too.
        doc = json.loads(b"".join(public.get(reverse("disclosure:json", args=[a.pk])).streaming_content))
        assert [(i["name"], i["target"], i["actual"], i["reason"]) for i in doc["indicators"]] == [
            (entry[f"indicators-{n}-name"], entry.get(f"indicators-{n}-target", t), entry.get(f"indicators-{n}-actual", ac),
             entry[f"indicators-{n}-reason"])
            for n, (_, _, _, t, ac, _) in enumerate(VALID_ROWS)
        ]

    # The CSV: every indicator text that starts with = + - @ gets a leading apostrophe.
    response = public.get(reverse("disclosure:list_csv"))
    rows = list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"))))
    header = rows[0]
    cols = [header.index(label) for label in ("编号", "三级指标", "指标值", "实际完成值", "偏差原因")]
    got = sorted(tuple(row[c] for c in cols) for row in rows[1:])

    def quoted(text):
        return "'" + text if text[:1] in "=+-@" else text

    want = sorted(
        (str(a.pk), quoted(typed[a.pk][f"indicators-{n}-name"]),
         quoted(typed[a.pk].get(f"indicators-{n}-target", t)), quoted(typed[a.pk].get(f"indicators-{n}-actual", ac)),
         quoted(typed[a.pk][f"indicators-{n}-reason"]))
        for a in (project, department) for n, (_, _, _, t, ac, _) in enumerate(VALID_ROWS)
    )
    assert got == want
    assert all(v.startswith("'") for row in got for v in (row[1], row[4]))
