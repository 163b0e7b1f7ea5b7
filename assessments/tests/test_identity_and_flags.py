"""Indicator identity and risk flags stay right across imports, submissions and returns."""

import io
import uuid
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from assessments import diff, figures, readmodel, workflow
from assessments.models import (
    Assessment,
    FundingRow,
    Indicator,
    IndicatorReview,
    Membership,
    Review,
    Round,
    Snapshot,
    Transition,
)
from assessments.services import create_assessment, refresh_scores

from .conftest import make_officer
from .test_history import L_TRAIN, make, row
from .test_import import import_via_views, new_pk, seed_001_workbook, seed_004_workbook, to_bytes, upload
from .test_review import clean_rows, make_submission

pytestmark = pytest.mark.django_db


def replace_from(client, assessment, workbook):
    url = reverse("assessments:import_replace", kwargs={"pk": assessment.pk})
    preview = client.get(upload(client, to_bytes(workbook), url=url)["Location"])
    confirm = reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]})
    assert client.post(confirm, {"confirm_replace": "on"}).status_code == 302


def return_with_note(assessment, officer, reviewer, note):
    """Submit (snapshot) and return the assessment with a 复核说明 on its first indicator."""
    t = Transition.objects.create(assessment=assessment, action="submit", from_state="draft", to_state="submitted", actor=officer)
    snapshot = Snapshot.objects.create(assessment=assessment, number=1, transition=t,
                                       data=readmodel.load(assessment.pk).to_dict())
    first = Indicator.objects.filter(assessment=assessment).order_by("position").first()
    review = Review.objects.create(assessment=assessment, snapshot=snapshot, number=1, reviewer=reviewer,
                                   decision=Review.Decision.RETURNED, decided_at=timezone.now())
    IndicatorReview.objects.create(review=review, indicator_key=first.key, note=note)
    Assessment.objects.filter(pk=assessment.pk).update(state="returned", submitted_at=timezone.now())


def test_reimporting_into_a_returned_assessment_keeps_comments_and_shows_no_change(client, alice, reviewer, department):
    client.force_login(alice)
    replace_from(client, department, seed_004_workbook())
    return_with_note(department, alice, reviewer, "请补充佐证材料XYZ")
    before = readmodel.load(department.pk).to_dict()
    replace_from(client, department, seed_004_workbook())  # the same workbook again
    after = readmodel.load(department.pk).to_dict()
    assert [c for c in diff.compare(before, after) if c.section == "绩效指标"] == []
    html = client.get(reverse("assessments:edit", args=[department.pk])).content.decode()
    assert html.count("请补充佐证材料XYZ") == 1


def test_importing_a_project_that_was_secret_last_year_keeps_it_secret(client, alice, unit_a):
    Round.objects.create(year=2021, title="2021年度绩效自评")
    Round.objects.create(year=2022, title="2022年度绩效自评", is_open=True)
    old = create_assessment(unit=unit_a, round=Round.objects.get(year=2021), kind="project", layout="project",
                            project_name="综治、平安建设经费")
    Assessment.objects.filter(pk=old.pk).update(state="approved", confidential=True)
    client.force_login(alice)
    preview, confirm = import_via_views(client, to_bytes(seed_001_workbook()), round=Round.objects.get(year=2022).pk)
    assert "本单位上一年度的同名项目为涉密项目：导入后的草稿同样标为涉密，不会公开（如已解密，请在填报页取消“涉密”）。" in preview.context["notes"]
    new = Assessment.objects.get(pk=new_pk(confirm))
    assert (new.round.year, new.project_name, new.confidential) == (2022, "综治、平安建设经费", True)


def test_submit_stores_the_year_over_year_flags_of_what_is_submitted(client, alice, reviewer, unit_a, round_2020):
    # 2019: the same indicator, handed in after 2020's last save, with an actual of 20次.
    old = make(unit_a, 2019, state="draft", rows=[row(L_TRAIN, "培训次数", "≥10次", "20次")])
    cur = make_submission(unit_a, round_2020, name=None, kind="department", state="draft", rows=clean_rows())
    Indicator.objects.filter(assessment=cur, name="培训次数").update(lineage=L_TRAIN)
    refresh_scores(cur)
    assert "target_below_last" not in cur.risk_flags  # 2019 is a draft: not history yet
    Assessment.objects.filter(pk=old.pk).update(state="approved")
    workflow.perform(alice, cur, "submit")
    cur.refresh_from_db()
    assert "target_below_last" in cur.risk_flags.split(",")
    assert "target_below_last" in Snapshot.objects.get(assessment=cur).data["risk_flags"]
    client.force_login(reviewer)
    page = client.get(reverse("assessments:dashboard"), {"round": round_2020.pk, "flag": "target_below_last"})
    assert [a.pk for a in page.context["page"]] == [cur.pk]


def test_reviewer_sees_the_flags_of_the_submitted_version_not_the_draft(client, alice, reviewer, unit_a, round_2020):
    make(unit_a, 2019, state="approved", rows=[row(L_TRAIN, "培训次数", "≥10次", "20次")])
    cur = make_submission(unit_a, round_2020, kind="department", state="draft", rows=clean_rows(output={3: "≥25次", 4: "30次"}))
    Indicator.objects.filter(assessment=cur, name="培训次数").update(lineage=L_TRAIN)
    workflow.perform(alice, cur, "submit")
    Assessment.objects.filter(pk=cur.pk).update(state="returned")
    # The officer lowers the target in the returned draft (not submitted): 5 < last year's 20.
    Indicator.objects.filter(assessment=cur, name="培训次数").update(target="≥5次")
    refresh_scores(cur)
    assert "target_below_last" in Assessment.objects.get(pk=cur.pk).risk_flags
    client.force_login(reviewer)
    page = client.get(reverse("assessments:review", args=[cur.pk]))
    assert "target_below_last" not in [f.code for f in page.context["flag_list"]]
    dashboard = client.get(reverse("assessments:dashboard"), {"round": round_2020.pk})
    (shown,) = [a for a in dashboard.context["page"] if a.pk == cur.pk]
    assert "target_below_last" not in [f.code for f in shown.flag_list]


def test_rate_bands_use_the_rate_as_shown(unit_a, round_2020):
    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="national", project_name="B")
    Assessment.objects.filter(pk=a.pk).update(state="submitted", submitted_at=timezone.now())
    FundingRow.objects.filter(assessment=a, source="total").update(budget=D("300"), actual=D("300.01"))
    assert readmodel.load(a.pk).result.funding.rate == D("100.00")
    chart = figures.rate_distribution(Assessment.objects.filter(round=round_2020))
    assert chart.table_rows[3] == ("90%–100%", ["1"])
    assert chart.table_rows[4] == ("高于100%", ["0"])


def test_an_oversized_upload_keeps_the_other_choices(client, unit_a, unit_b, round_2020):
    officer = make_officer("multi", unit_a)
    Membership.objects.create(user=officer, unit=unit_b, role=Membership.Role.OFFICER)
    client.force_login(officer)
    big = io.BytesIO(b"PK" + b"\0" * (10 * 1024 * 1024 + 10))
    big.name = "big.xlsx"
    response = client.post(reverse("assessments:import"), {
        "unit": unit_b.pk, "round": round_2020.pk, "layout": "project", "project_name": "我的项目", "file": big,
    })
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"file"}
    assert form["project_name"].value() == "我的项目" and str(form["unit"].value()) == str(unit_b.pk)


def test_an_absurdly_large_actual_is_saved_as_text_not_a_server_error(alice_client, department):
    from .helpers import form_data, set_indicators

    url = reverse("assessments:edit", args=[department.pk])
    data = set_indicators(form_data(alice_client.get(url)), [
        ("产出指标", "数量指标", "培训次数", "≥10次", "1000000000000000000000000000次", "10"),
    ])
    response = alice_client.post(url, data)
    assert response.status_code == 302
    line = readmodel.load(department.pk).indicators[0]
    assert (line.actual, line.score) == ("1000000000000000000000000000次", None)
    assert line.result.explanation == "≥10次，实际完成值无法识别为数字，无法计分"
    assert alice_client.get(reverse("assessments:detail", args=[department.pk])).status_code == 200


def test_a_report_sheet_with_some_sections_leaves_the_others_alone(department):
    from assessments.importing import apply, parser
    from assessments.models import ReportSection

    ReportSection.objects.filter(assessment=department, key="problems").update(body="原有的问题分析")
    ReportSection.objects.filter(assessment=department, key="basic_info").update(body="旧的基本情况")
    parsed = parser.ParsedWorkbook(kind="department", layout="department",
                                   sections=[{"key": "basic_info", "title": "", "body": "新的基本情况"}])
    apply._save(department, parsed, keep_project_name=True)
    bodies = dict(ReportSection.objects.filter(assessment=department).values_list("key", "body"))
    assert (bodies["basic_info"], bodies["problems"]) == ("新的基本情况", "原有的问题分析")


def test_link_lineage_command_links_data_from_before_lineage(unit_a):
    from django.core.management import call_command

    from .test_history import make

    y2019 = make(unit_a, 2019, state="published", rows=[row(L_TRAIN, "培训次数", "≥10次", "20次")])
    # Entered before lineage existed: its own lineage (as migration 0005 left it), same indicator.
    y2020 = make(unit_a, 2020, state="submitted", rows=[row(uuid.uuid4(), "培训次数", "≥10次", "12次")])
    y2021 = make(unit_a, 2021, state="draft", rows=[row(uuid.uuid4(), "培训次数", "≥15次", ""), row(uuid.uuid4(), "新指标", "≥1次", "")])
    out = io.StringIO()
    call_command("link_lineage", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "将链接 2 行指标（2 份自评）。"
    assert Indicator.objects.filter(lineage=L_TRAIN).count() == 1
    out = io.StringIO()
    call_command("link_lineage", stdout=out)
    assert out.getvalue().strip() == "已链接 2 行指标（2 份自评）。"
    assert [i.assessment_id for i in Indicator.objects.filter(lineage=L_TRAIN).order_by("assessment__round__year")] == [
        y2019.pk, y2020.pk, y2021.pk]
    assert Assessment.objects.get(pk=y2020.pk).risk_flags.count("target_below_last") == 1  # 10 < last year's 20
    out = io.StringIO()
    call_command("link_lineage", stdout=out)
    assert out.getvalue().strip() == "已链接 0 行指标（0 份自评）。"


def test_flags_fit_the_field():
    """Every flag code at once, as stored (",code,code,"), with room for a few more."""
    from assessments import flags
    from assessments.models import Assessment

    stored = flags.encode(list(flags.FLAGS))
    assert len(stored) == 210  # 15 flags, target_adjusted (issue 14) included
    assert len(stored) + 5 * len(",satisfaction_no_survey") <= Assessment._meta.get_field("risk_flags").max_length == 400
