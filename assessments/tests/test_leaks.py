"""Nothing leaks (issue 5, "Leak test").

Unique markers are planted in every text of:

- ZZDRAFT7Q3: unit A's drafts (a draft project, a draft department report, a withdrawn one);
- ZZBUNIT8K1: everything of unit B (its name, every assessment in every non-public state, review
  notes and comments), a unit the reviewer of A is not assigned to;
- ZZINTERNAL5M2: what A's reviewer may see but the public may not (submissions, review notes and
  comments, 涉密 projects and 涉密 expense lines, a report withdrawn from public view);
- ZZPUBLIC4P9: A's published reports (the positive control: the crawl must find it).

Then every HTML/JSON/CSV/xlsx/ZIP response reachable as the reviewer assigned to A and as an
anonymous visitor is searched (xlsx: every cell of every sheet; ZIP: every member).
"""

import io
import json
import zipfile
from datetime import date

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from assessments import bulk, flags, reviewing, scoring, tasks, workflow
from assessments.models import (
    Assessment,
    ExportJob,
    FundingRow,
    Goal,
    ProjectExpense,
    ReportSection,
    Round,
    Snapshot,
)
from assessments.readmodel import from_snapshot
from assessments.services import refresh_scores

from .test_access_matrix import body_of, entry_post, make_reviewer, valid_assessment

pytestmark = [pytest.mark.django_db, pytest.mark.exhaustive]

DRAFT, B, INTERNAL, PUBLIC = "ZZDRAFT7Q3", "ZZBUNIT8K1", "ZZINTERNAL5M2", "ZZPUBLIC4P9"
PHONE = "13899990000"  # a mobile number: public pages show 138****0000
HIDDEN_FROM_REVIEWER_A = (DRAFT, B)
HIDDEN_FROM_PUBLIC = (DRAFT, B, INTERNAL, PHONE)


def plant(a, mark, *, phone=""):
    """`mark` in every text of the assessment: header, funding reasons, goals, indicators,
    project expenses, report sections. Scores stay as they were (the texts are qualitative)."""
    if a.kind == Assessment.Kind.PROJECT:
        Assessment.objects.filter(pk=a.pk).update(
            project_name=f"{a.project_name}{mark}", project_leader=f"负责人{mark}", leader_phone=phone,
            supervisor_name=f"主管{mark}", implementer=f"实施{mark}",
        )
    else:
        Assessment.objects.filter(pk=a.pk).update(duties=f"职责{mark}", staff_quota=10, staff_actual=9)
        ProjectExpense.objects.create(assessment=a, position=1, name=f"支出项目{mark}", budget=10, actual=9,
                                      note=f"说明{mark}")
    FundingRow.objects.filter(assessment=a).update(reason=f"原因{mark}")
    Goal.objects.filter(assessment=a).update(target=f"目标{mark}", achieved=f"完成{mark}")
    for n, indicator in enumerate(a.indicators.order_by("position"), start=1):
        indicator.name = f"指标{n}{mark}"
        indicator.reason = f"偏差{mark}"
        if indicator.level1 == "效益指标":  # qualitative: the texts may carry the marker
            indicator.target, indicator.actual = f"有所帮助{mark}", f"有所帮助{mark}"
            indicator.outcome = "achieved"
        indicator.save()
    ReportSection.objects.filter(assessment=a).update(title=f"章节{mark}", body=f"正文{mark}")
    refresh_scores(a)
    a.refresh_from_db()
    return a


def save_review_notes(a, mark):
    """The pending review's rows with a note (and a 复核完成值) carrying `mark`."""
    review = reviewing.pending(a)
    snapshot = Snapshot.objects.filter(assessment=a).latest("number")
    view = from_snapshot(a, snapshot.data)
    inputs = {line.key: scoring.ReviewInput(actual="", outcome=None, score=None, note=f"复核说明{mark}")
              for line in view.indicators}
    reviewing.save(review, inputs, reviewing.build(view, review, inputs).totals)


def take(a, steps, *, officer, reviewer, mark):
    """Run workflow actions on `a`; comments and review notes carry `mark`."""
    for action in steps:
        if action == "notes":
            save_review_notes(a, mark)
            continue
        if action == "publish":
            drive_export(a)
            continue
        actor = officer if action in workflow.OFFICER_ACTIONS else reviewer
        workflow.perform(actor, a, action, f"意见{mark}")
    a.refresh_from_db()
    return a


def drive_export(a):
    """The export job the approval queued, run as the worker would: files, then publish."""
    tasks.run_export(ExportJob.objects.get(assessment=a, status=ExportJob.Status.QUEUED).pk)
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED


TO_PUBLISHED = ["submit", "start_review", "notes", "approve", "publish"]


@pytest.fixture
def planted(settings, tmp_path, unit_a, unit_b, round_2020, alice, bob):
    settings.MEDIA_ROOT = tmp_path / "media"
    round_2020.deadline = date(2021, 3, 31)  # past: the dashboard lists late units too
    round_2020.save()
    round_2021 = Round.objects.create(year=2021, title="2021年度绩效自评")
    carol = make_reviewer("carol", unit_a)
    dave = make_reviewer("dave", unit_b)
    a_ = dict(officer=alice, reviewer=carol)
    b_ = dict(officer=bob, reviewer=dave)
    objs = {}

    # Unit A: drafts.
    objs["a_draft"] = plant(valid_assessment(unit_a, round_2020, "甲草稿", user=alice), DRAFT)
    dept = valid_assessment(unit_a, round_2021, "", user=alice, kind="department")
    objs["a_draft_department"] = plant(dept, DRAFT)
    withdrawn = take(valid_assessment(unit_a, round_2020, "甲撤回", user=alice), ["submit", "withdraw"],
                     mark=INTERNAL, **a_)
    objs["a_withdrawn"] = plant(withdrawn, DRAFT)
    # Unit A: what its reviewer sees, the public not.
    objs["a_in_review"] = take(plant(valid_assessment(unit_a, round_2020, "甲审核中", user=alice), INTERNAL),
                               ["submit", "start_review", "notes"], mark=INTERNAL, **a_)
    secret = valid_assessment(unit_a, round_2020, "甲涉密", user=alice)
    Assessment.objects.filter(pk=secret.pk).update(confidential=True)
    objs["a_confidential"] = take(plant(secret, INTERNAL), ["submit", "start_review", "approve"], mark=INTERNAL, **a_)
    objs["a_unpublished"] = take(plant(valid_assessment(unit_a, round_2020, "甲撤销公开", user=alice), INTERNAL),
                                 TO_PUBLISHED + ["unpublish"], mark=INTERNAL, **a_)
    # Unit A: published (public texts; internal comments, notes, 涉密 expense line and the phone).
    objs["a_published"] = take(plant(valid_assessment(unit_a, round_2020, "甲公开", user=alice), PUBLIC, phone=PHONE),
                               TO_PUBLISHED, mark=INTERNAL, **a_)
    dept = plant(valid_assessment(unit_a, round_2020, "", user=alice, kind="department"), PUBLIC)
    ProjectExpense.objects.create(assessment=dept, position=2, name=f"涉密项目{INTERNAL}", budget=5, actual=5,
                                  note=f"涉密说明{INTERNAL}", confidential=True)
    objs["a_published_department"] = take(dept, TO_PUBLISHED, mark=INTERNAL, **a_)

    # Unit B: everything, in every state that is not public.
    unit_b.name, unit_b.short_name = f"乙单位{B}", f"乙{B}"
    unit_b.save()
    for state, steps in {
        "draft": [],
        "submitted": ["submit"],
        "in_review": ["submit", "start_review", "notes"],
        "returned": ["submit", "start_review", "notes", "return"],
        "approved": ["submit", "start_review", "notes", "approve"],
        "unpublished": TO_PUBLISHED + ["unpublish"],
    }.items():
        b = plant(valid_assessment(unit_b, round_2020, f"乙{state}", user=bob), B)
        objs[f"b_{state}"] = take(b, steps, mark=B, **b_)
    objs["b_department_2021"] = take(plant(valid_assessment(unit_b, round_2021, "", user=bob, kind="department"), B),
                                     ["submit", "start_review"], mark=B, **b_)

    # A ZIP of round 2020 for reviewer A.
    job = bulk.request(round_2020, carol)
    bulk.build(job.pk)
    objs["bulk"] = job
    return {"objects": objs, "carol": carol, "rounds": [round_2020, round_2021], "unit_a": unit_a, "unit_b": unit_b}


# --- reading every kind of response ------------------------------------------------------------


def xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(
        str(cell.value) for ws in book.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None
    ) + "\n" + "\n".join(str(v) for v in vars(book.properties).values() if v)


def member_text(name: str, data: bytes) -> str:
    if name.endswith(".xlsx"):
        return xlsx_text(data)
    return json_text(data) if name.endswith(".json") else data.decode("utf-8")


def json_text(data: bytes) -> str:
    """Re-dumped without \\u escapes, so that any marker is found whatever the encoder did."""
    return json.dumps(json.loads(data.decode("utf-8")), ensure_ascii=False)


def text_of(response) -> str:
    body = body_of(response)
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    kind = response.get("Content-Type", "")
    if "spreadsheetml" in kind:
        text = xlsx_text(body)
    elif body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            text = "\n".join(f"{n}\n{member_text(n, archive.read(n))}" for n in archive.namelist())
    elif "json" in kind and body:
        text = json_text(body)
    else:
        text = body.decode("utf-8")
    return headers + "\n" + text


def crawl(client, urls) -> dict[str, tuple[int, str]]:
    return {url: (r.status_code, text_of(r)) for url in urls for r in [client.get(url)]}


def leaks(pages, hidden) -> list[tuple[str, str]]:
    return [(url, mark) for url, (_, text) in pages.items() for mark in hidden if mark in text]


# --- the URLs ----------------------------------------------------------------------------------


def all_ids(planted):
    return [o.pk for key, o in planted["objects"].items() if key != "bulk"]


def public_urls(planted):
    ids = all_ids(planted)
    unit_a, unit_b = planted["unit_a"], planted["unit_b"]
    lists = [reverse("disclosure:list"), reverse("disclosure:list_json"), reverse("disclosure:list_csv")]
    queries = ["", "?year=2020", "?year=2021", f"?unit={unit_a.pk}", f"?unit={unit_b.pk}", "?kind=project",
               "?kind=department", f"?region={unit_a.region_id}", "?q=ZZ", "?q=甲", "?q=乙", "?q=指标", "?page=2"]
    urls = [url + q for url in lists for q in queries]
    for pk in ids + [987654]:
        urls += [reverse("disclosure:detail", args=[pk]), reverse("disclosure:xlsx", args=[pk]),
                 reverse("disclosure:json", args=[pk])]
    return urls + [reverse("login"), reverse("healthz")]


def reviewer_urls(planted):
    ids = all_ids(planted)
    unit_a, unit_b = planted["unit_a"], planted["unit_b"]
    dashboard = reverse("assessments:dashboard")
    params = [""]
    for rnd in planted["rounds"]:
        params.append(f"?round={rnd.pk}")
        params += [f"?round={rnd.pk}&state={s}" for s in Assessment.State.values]
        params += [f"?round={rnd.pk}&unit={u.pk}" for u in (unit_a, unit_b)]
        params += [f"?round={rnd.pk}&kind={k}" for k in Assessment.Kind.values]
        params += [f"?round={rnd.pk}&flag={f}" for f in flags.FLAGS]
        params += [f"?round={rnd.pk}&q={q}" for q in ("ZZ", "甲", "乙", "撤回", "草稿")]
        params += [f"?round={rnd.pk}&sort={s}" for key in (
            "unit", "kind", "title", "state", "submitted", "self", "review", "gap", "flags") for s in (key, f"-{key}")]
    urls = [dashboard + p for p in params]
    urls += [reverse("home"), reverse("assessments:bulk"),
             reverse("assessments:bulk_download", args=[planted["objects"]["bulk"].pk])]
    for pk in ids + [987654]:
        urls += [reverse("assessments:review", args=[pk]), reverse("assessments:detail", args=[pk]),
                 reverse("assessments:edit", args=[pk])]
    return urls + public_urls(planted)


# --- the tests ---------------------------------------------------------------------------------


def test_reviewer_of_a_sees_no_draft_and_nothing_of_unit_b(planted):
    client = Client()
    client.force_login(planted["carol"])
    pages = crawl(client, reviewer_urls(planted))
    assert leaks(pages, HIDDEN_FROM_REVIEWER_A) == []
    # The crawl did read what the reviewer may see (positive controls).
    o = planted["objects"]
    for key in ("a_in_review", "a_confidential", "a_unpublished", "a_published", "a_published_department"):
        status, text = pages[reverse("assessments:review", args=[o[key].pk])]
        assert status == 200, key
        assert (PUBLIC if key.startswith("a_published") else INTERNAL) in text, key
    for key in ("a_draft", "a_draft_department", "a_withdrawn", "b_draft", "b_submitted", "b_in_review",
                "b_returned", "b_approved", "b_unpublished", "b_department_2021"):
        assert pages[reverse("assessments:review", args=[o[key].pk])][0] == 404, key
    status, text = pages[reverse("assessments:bulk_download", args=[o["bulk"].pk])]
    assert status == 200 and PUBLIC in text and INTERNAL not in text
    assert PUBLIC in pages[reverse("assessments:dashboard")][1]


def test_anonymous_sees_only_published_texts(planted):
    pages = crawl(Client(), public_urls(planted))
    assert leaks(pages, HIDDEN_FROM_PUBLIC) == []
    o = planted["objects"]
    for key in ("a_published", "a_published_department"):
        for name in ("disclosure:detail", "disclosure:xlsx", "disclosure:json"):
            status, text = pages[reverse(name, args=[o[key].pk])]
            assert status == 200 and PUBLIC in text, (key, name)
    assert PUBLIC in pages[reverse("disclosure:list_csv")][1]
    assert "138****0000" in pages[reverse("disclosure:detail", args=[o["a_published"].pk])][1]
    expected = {key: 410 if key.endswith("unpublished") else 404 for key in o if key not in (
        "bulk", "a_published", "a_published_department")}
    assert {key: pages[reverse("disclosure:detail", args=[o[key].pk])][0] for key in expected} == expected
    assert {key: pages[reverse("disclosure:xlsx", args=[o[key].pk])][0] for key in expected} == expected


def test_reviewer_does_not_see_edits_made_after_a_return(client, alice, unit_a, round_2020, settings, tmp_path):
    """A returned assessment is being revised: until it is submitted again, its new texts and its
    new score are a draft. The reviewer's pages show the submission they returned."""
    settings.MEDIA_ROOT = tmp_path / "media"
    carol = make_reviewer("carol", unit_a)
    a = take(valid_assessment(unit_a, round_2020, "退回项目", user=alice), ["submit", "start_review", "return"],
             officer=alice, reviewer=carol, mark=INTERNAL)
    submitted = ("2020年度退回项目绩效自评", a.self_total)
    officer = Client()
    officer.force_login(alice)
    data = entry_post(a)
    data.update({"header-project_name": f"改名{DRAFT}", "header-project_leader": f"负责人{DRAFT}",
                 "indicators-0-name": f"新指标{DRAFT}", "indicators-0-weight": "40",
                 "sections-0-body": f"新正文{DRAFT}"})
    assert officer.post(reverse("assessments:edit", args=[a.pk]), data).status_code == 302
    live = Assessment.objects.get(pk=a.pk)
    assert (live.state, live.title) == ("returned", f"2020年度改名{DRAFT}绩效自评")
    assert live.self_total != submitted[1]  # the draft's own score differs from the submitted one

    client.force_login(carol)
    dashboard = client.get(reverse("assessments:dashboard"))
    listed = [(row.pk, row.title, row.self_total) for row in dashboard.context["page"]]
    pages = crawl(client, [reverse("assessments:dashboard"), reverse("assessments:dashboard") + "?q=退回",
                           reverse("assessments:review", args=[a.pk])])
    assert {url: status for url, (status, _) in pages.items()} == dict.fromkeys(pages, 200)
    assert {"listed": listed, "leaks": leaks(pages, [DRAFT])} == {
        "listed": [(a.pk, *submitted)], "leaks": []}
