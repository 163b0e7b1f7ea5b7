"""Issue 14: approved 绩效目标, 目标调整, 填报任务, reminders and 待办."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from assessments import season, workflow
from assessments.models import (
    Assessment,
    AuditEvent,
    FundingRow,
    Indicator,
    Membership,
    Rectification,
    Region,
    Reminder,
    TargetAdjustment,
    TargetSet,
    Task,
    Unit,
)
from assessments.services import create_assessment, refresh_scores

from .conftest import make_officer
from .helpers import form_data
from .season_helpers import TARGET_ROWS, target_workbook, use_national_project_template

pytestmark = pytest.mark.django_db

PROJECT = "综治、平安建设经费"
TODAY = datetime.date(2021, 3, 10)


@pytest.fixture
def bureau(reviewer):
    from django.test import Client

    client = Client()  # not the `client` fixture: alice_client is that one
    client.force_login(reviewer)
    return client


@pytest.fixture
def national(round_2020):
    use_national_project_template(round_2020)
    return round_2020


def load(round_, unit, project=PROJECT, rows=TARGET_ROWS):
    return season.load_target_set(round_=round_, sheet=season.TargetSheet(
        unit, project, goals="全年开展平安建设宣传，维护社会稳定。",
        rows=[season.TargetRow(l1, l2, name, target, Decimal(w)) for l1, l2, name, target, w in rows],
    ))


def upload(client, round_, data, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("assessments:season_targets"), {
        "round": round_.pk, "file": SimpleUploadedFile("绩效目标.xlsx", data), **extra,
    })


def issue(round_, units, *, starts_on=None, due_on=None, warn_days=3, project=PROJECT):
    tasks, _ = season.issue_tasks(
        round_=round_, specs=season.specs_for_units(units, project_name=project),
        starts_on=starts_on or timezone.localdate() - datetime.timedelta(days=1),
        due_on=due_on or timezone.localdate() + datetime.timedelta(days=10), warn_days=warn_days,
    )
    return tasks


def fill_actuals(a):
    """Actuals for every row and the funding: submit's checks pass."""
    FundingRow.objects.filter(assessment=a, source="total").update(initial_budget=100, budget=100, actual=95)
    actuals = {"≥10次": "12次", "≥8次": "9次", "≥90%": "92%", "有所提升": "有所提升", "≥95%": "96%"}
    for row in Indicator.objects.filter(assessment=a):
        row.actual = actuals.get(row.target, "达成")
        row.outcome = "achieved" if row.target == "有所提升" else ""
        row.save()
    refresh_scores(a)
    a.refresh_from_db()


# --- approved targets -------------------------------------------------------------------------


def test_the_workbook_gives_one_target_set_per_sheet(bureau, national, unit_a, unit_b, region):
    unit_c = Unit.objects.create(name="长沙市岳麓区司法局", short_name="岳麓司法局", region=region)
    data = target_workbook([
        {"title": "岳麓政法委", "project": PROJECT, "implementer": unit_a.name},
        {"title": "测试单位", "project": "法治宣传经费", "implementer": unit_b.short_name, "rows": TARGET_ROWS[:2]},
        {"title": "司法局", "project": "社区矫正经费", "implementer": unit_c.name},
    ])

    response = upload(bureau, national, data)

    assert response.status_code == 200, response.content.decode()[:3000]
    sets = {(ts.unit.name, ts.project_name): ts for ts in TargetSet.objects.select_related("unit")}
    assert sorted(sets) == [
        (unit_b.name, "法治宣传经费"), (unit_a.name, PROJECT), (unit_c.name, "社区矫正经费"),
    ] or sorted(sets) == sorted([(unit_a.name, PROJECT), (unit_b.name, "法治宣传经费"), (unit_c.name, "社区矫正经费")])
    rows = list(sets[(unit_a.name, PROJECT)].indicators.values_list("level1", "level2", "name", "target", "weight"))
    assert rows == [(l1, l2, n, t, Decimal(w)) for l1, l2, n, t, w in TARGET_ROWS]
    assert sets[(unit_a.name, PROJECT)].goals == "全年开展平安建设宣传，维护社会稳定。"
    assert sets[(unit_b.name, "法治宣传经费")].indicators.count() == 2
    assert [item["rows"] for item in response.context["report"]["loaded"]] == [4, 2, 4]
    assert AuditEvent.objects.filter(action="targets.load").count() == 3


def test_a_sheet_naming_an_unknown_unit_is_reported_not_loaded(bureau, national, unit_a):
    data = target_workbook([{"title": "外单位", "project": PROJECT, "implementer": "某某县财政局"}])

    response = upload(bureau, national, data)

    assert response.status_code == 400
    assert response.context["report"]["problems"] == ["工作表“外单位”：实施单位“某某县财政局”不是您可下达的预算单位。"]
    assert not TargetSet.objects.exists()


def test_a_renamed_word_file_is_refused_with_the_import_message(bureau, national):
    response = upload(bureau, national, b"not a workbook at all")
    assert response.status_code == 400
    assert "xlsx" in response.context["report"]["refused"] or "工作簿" in response.context["report"]["refused"]


def test_the_assessment_starts_from_the_approved_targets_locked(national, unit_a, alice):
    load(national, unit_a)

    a = create_assessment(unit=unit_a, round=national, layout="national", project_name=PROJECT, user=alice)

    rows = list(a.indicators.order_by("position").values_list("name", "target", "weight", "approved_target"))
    assert rows == [(n, t, Decimal(w), t) for _, _, n, t, w in TARGET_ROWS]
    assert list(a.goals.values_list("target", flat=True)) == ["全年开展平安建设宣传，维护社会稳定。"]


def test_carry_over_stays_for_units_without_approved_targets(national, unit_a, unit_b, alice, bob):
    from assessments.models import Round

    load(national, unit_a)
    earlier = Round.objects.create(year=2019, title="2019年度绩效自评")
    last_year = create_assessment(unit=unit_b, round=earlier, layout="national", project_name=PROJECT, user=bob)
    Indicator.objects.create(assessment=last_year, position=1, level1="产出指标", level2="数量指标", name="去年的指标",
                             target="≥5次", weight=Decimal("50"))

    a = create_assessment(unit=unit_b, round=national, layout="national", project_name=PROJECT, user=bob, carry_from=last_year)

    assert list(a.indicators.values_list("name", "target", "approved_target")) == [("去年的指标", "≥5次", "")]


def test_a_forged_post_cannot_change_a_locked_target(alice_client, national, unit_a, alice):
    load(national, unit_a)
    a = create_assessment(unit=unit_a, round=national, layout="national", project_name=PROJECT, user=alice)
    url = reverse("assessments:edit", args=[a.pk])
    data = form_data(alice_client.get(url))
    data.update({
        "indicators-0-target": "≥1次", "indicators-0-weight": "90", "indicators-0-name": "改过的名称",
        "indicators-0-level2": "质量指标", "indicators-0-actual": "12次",
    })

    response = alice_client.post(url, data)

    assert response.status_code == 302
    row = a.indicators.get(position=1)
    assert (row.name, row.level2, row.target, row.weight, row.actual) == (
        "开展平安建设宣传活动次数", "数量指标", "≥10次", Decimal("30.00"), "12次")

    data = form_data(alice_client.get(url))
    data["indicators-1-DELETE"] = "on"
    response = alice_client.post(url, data)
    assert response.status_code == 400
    assert response.context["errors"] == [
        "绩效指标：第2行「矛盾纠纷调处成功率」是批复的绩效指标，不能删除；如需改变指标值，请使用“目标调整”并说明理由。"
    ]
    assert a.indicators.count() == 4


def adjustment(client, a, row, target, reason, **cells) -> dict:
    """The edit page's form as the browser posts it when 提交目标调整 of `row` is pressed: the whole
    entry form (with `cells` changed as typed), the row's two boxes and the button's key."""
    data = form_data(client.get(reverse("assessments:edit", args=[a.pk])))
    data.update(cells)
    data.update({"key": str(row.key), f"adjust-{row.key}-target": target, f"adjust-{row.key}-reason": reason})
    return data


@pytest.mark.usefixtures("rendered_pages")
def test_a_target_adjustment_saves_what_was_typed_in_the_table_first(alice_client, national, unit_a, alice):
    """The adjustment posts the whole entry form: unsaved cells are saved with it, never dropped;
    a bad cell refuses both, keeps everything typed and says why."""
    load(national, unit_a)
    a = create_assessment(unit=unit_a, round=national, layout="national", project_name=PROJECT, user=alice)
    row, other = a.indicators.get(position=1), a.indicators.get(position=2)
    url = reverse("assessments:adjust_target", args=[a.pk])
    n = [f.instance.pk for f in alice_client.get(reverse("assessments:edit", args=[a.pk])).context["entry"].indicators.forms].index(other.pk)

    bad = adjustment(alice_client, a, row, "≥8次", "活动受限", **{f"indicators-{n}-actual": "1次", f"indicators-{n}-score": "abc"})
    response = alice_client.post(url, bad)
    assert response.status_code == 400
    page = response.content.decode()
    assert response.context["errors"][-1] == "目标调整未提交：请先更正上述错误。"
    assert f'name="indicators-{n}-score" value="abc"' in page and "\n1次</textarea>" in page
    assert f'name="adjust-{row.key}-reason" maxlength="2000" aria-label="“开展平安建设宣传活动次数”的调整理由" value="活动受限"' in page
    assert not TargetAdjustment.objects.exists()
    assert a.indicators.get(pk=other.pk).actual == ""

    good = adjustment(alice_client, a, row, "≥8次", "活动受限", **{f"indicators-{n}-actual": "1次"})
    response = alice_client.post(url, good)
    assert response.status_code == 302
    assert a.indicators.get(pk=other.pk).actual == "1次"  # the unsaved cell is saved, not lost
    assert a.indicators.get(pk=row.pk).target == "≥8次"
    assert TargetAdjustment.objects.get().reason == "活动受限"


def test_a_target_adjustment_needs_a_reason_and_is_flagged_for_reviewers(alice_client, national, unit_a, alice, reviewer, client):
    load(national, unit_a)
    a = create_assessment(unit=unit_a, round=national, layout="national", project_name=PROJECT, user=alice)
    row = a.indicators.get(position=1)
    url = reverse("assessments:adjust_target", args=[a.pk])

    data = adjustment(alice_client, a, row, "≥8次", "")
    response = alice_client.post(url, data)
    assert response.status_code == 400
    assert response.context["errors"] == ["草稿已保存，目标调整未提交：目标调整须填写理由（指标“开展平安建设宣传活动次数”）。"]
    assert f'name="adjust-{row.key}-target" maxlength="1000" aria-label="“开展平安建设宣传活动次数”调整后的指标值" value="≥8次"' in (
        response.content.decode())  # what was typed is still there
    assert a.indicators.get(pk=row.pk).target == "≥10次"

    data = adjustment(alice_client, a, row, "≥8次", "疫情期间集中活动受限")
    response = alice_client.post(url, data, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "草稿已保存。已将“开展平安建设宣传活动次数”的指标值由“≥10次”调整为“≥8次”（批复值“≥10次”），审核人将看到调整理由。"
    ]
    adj = TargetAdjustment.objects.get()
    assert (adj.approved_target, adj.previous_target, adj.new_target, adj.reason) == ("≥10次", "≥10次", "≥8次", "疫情期间集中活动受限")
    a.refresh_from_db()
    assert ",target_adjusted," in a.risk_flags

    fill_actuals(a)
    try:
        workflow.perform(alice, a, "submit")
    except workflow.SubmissionInvalid as exc:
        raise AssertionError([p.message for p in exc.problems]) from exc
    client.force_login(reviewer)
    dashboard = client.get(reverse("assessments:dashboard"), {"round": national.pk, "flag": "target_adjusted"})
    assert [x.pk for x in dashboard.context["page"]] == [a.pk]
    page = client.get(reverse("assessments:review", args=[a.pk])).content.decode()
    assert "批复指标值：≥10次（已调整，理由：疫情期间集中活动受限）" in page


# --- tasks ------------------------------------------------------------------------------------


def test_tasks_from_the_approved_targets_and_the_officer_starts_from_one(bureau, national, unit_a, unit_b, alice, alice_client):
    load(national, unit_a)
    load(national, unit_b, project="法治宣传经费")
    today = timezone.localdate()
    response = bureau.post(reverse("assessments:season"), {
        "round": national.pk, "source": "targets", "starts_on": str(today), "due_on": str(today + datetime.timedelta(days=20)),
        "warn_days": "5",
    }, follow=True)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert [str(m) for m in response.context["messages"]] == ["已下达 2 项填报任务。"]
    assert sorted(Task.objects.values_list("unit__name", "project_name", "warn_days")) == sorted([
        (unit_a.name, PROJECT, 5), (unit_b.name, "法治宣传经费", 5)])

    home = alice_client.get(reverse("assessments:list"))
    assert [(t.title, t.status_label, t.days_left) for t in home.context["tasks"]] == [(PROJECT, "未开始", 20)]
    assert "还剩 20 天" in home.content.decode()

    task = Task.objects.get(unit=unit_a)
    response = alice_client.post(reverse("assessments:task_start", args=[task.pk]))
    task.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == reverse("assessments:edit", args=[task.assessment_id])
    assert task.assessment.template_version.template.code == "national"
    assert task.assessment.indicators.exclude(approved_target="").count() == 4
    home = alice_client.get(reverse("assessments:list"))
    assert [t.status_label for t in home.context["tasks"]] == ["填报中"]


def test_tasks_for_all_units_of_a_region_and_from_a_list(bureau, round_2020, unit_a, unit_b, region):
    today = timezone.localdate()
    dates = {"starts_on": str(today), "due_on": str(today + datetime.timedelta(days=5))}
    bureau.post(reverse("assessments:season"), {"round": round_2020.pk, "source": "region", "region": region.parent.pk, **dates},
                follow=True)
    assert sorted(Task.objects.values_list("unit__name", "kind")) == [(unit_b.name, "department"), (unit_a.name, "department")] \
        or sorted(Task.objects.values_list("unit__name", "kind")) == sorted([(unit_a.name, "department"), (unit_b.name, "department")])

    response = bureau.post(reverse("assessments:season"), {
        "round": round_2020.pk, "source": "list", **dates,
        "list": f"单位,项目\n{unit_a.short_name},{PROJECT}\n{unit_b.name}\t部门整体支出\n",
    }, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["已下达 1 项填报任务；1 项已存在，未重复下达。"]
    assert Task.objects.filter(unit=unit_a, kind="project", project_name=PROJECT).exists()

    response = bureau.post(reverse("assessments:season"), {
        "round": round_2020.pk, "source": "list", **dates, "list": "不存在的单位,某项目\n"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "第1行：找不到预算单位“不存在的单位”（或您无权为其下达任务）。",
        "名单中有无法识别的单位，本次未下达任何任务；请改正后重新提交。",
    ]


def test_a_due_date_before_the_start_is_refused(round_2020, unit_a):
    with pytest.raises(season.SeasonRefused, match="截止日期（2021-01-01）不能早于开始日期（2021-02-01）"):
        issue(round_2020, [unit_a], starts_on=datetime.date(2021, 2, 1), due_on=datetime.date(2021, 1, 1))


def test_a_cancelled_task_cannot_be_submitted(national, unit_a, alice, bureau):
    load(national, unit_a)
    (task,) = issue(national, [unit_a])
    a = season.start_task(alice, task)
    fill_actuals(a)

    response = bureau.post(reverse("assessments:season_task", args=[task.pk]), {"action": "cancel", "reason": ""}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["取消任务须填写理由。"]
    bureau.post(reverse("assessments:season_task", args=[task.pk]), {"action": "cancel", "reason": "项目已撤销"})

    with pytest.raises(workflow.TransitionRefused, match="该自评的填报任务已被财政局取消（理由：项目已撤销），不能提交。"):
        workflow.perform(alice, a, "submit")
    a.refresh_from_db()
    assert a.state == Assessment.State.DRAFT
    task.refresh_from_db()
    assert season.status_of(task) == Task.Status.CANCELLED


def test_extend_moves_the_deadline_with_a_reason(round_2020, unit_a, bureau):
    (task,) = issue(round_2020, [unit_a])
    new = task.due_on + datetime.timedelta(days=7)
    bureau.post(reverse("assessments:season_task", args=[task.pk]), {"action": "extend", "due_on": str(new), "reason": "单位申请"},
                follow=True)
    task.refresh_from_db()
    assert (task.due_on, task.extend_reason) == (new, "单位申请")
    response = bureau.post(reverse("assessments:season_task", args=[task.pk]),
                           {"action": "extend", "due_on": str(task.due_on), "reason": "再延"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [f"新的截止日期须晚于当前截止日期（{new}）。"]


def test_statuses_and_the_late_list_cover_every_task(round_2020, unit_a, unit_b, region, alice, bob, reviewer):
    unit_c = Unit.objects.create(name="长沙市岳麓区司法局", short_name="岳麓司法局", region=region)
    past = timezone.localdate() - datetime.timedelta(days=2)
    tasks = {t.unit_id: t for t in issue(round_2020, [unit_a, unit_b, unit_c], starts_on=past - datetime.timedelta(days=10),
                                         due_on=past)}
    a = season.start_task(alice, tasks[unit_a.pk])
    fill_actuals(a)
    Assessment.objects.filter(pk=a.pk).update(state=Assessment.State.SUBMITTED)
    season.start_task(bob, tasks[unit_b.pk])

    late = list(season.late_tasks(round_2020, Unit.objects.all()))
    assert [t.unit.name for t in late] == sorted([unit_b.name, unit_c.name])
    statuses = {t.unit_id: season.status_of(t) for t in Task.objects.select_related("assessment")}
    assert statuses == {unit_a.pk: "submitted", unit_b.pk: "overdue", unit_c.pk: "overdue"}


# --- reminders --------------------------------------------------------------------------------


def test_reminders_at_the_lead_time_and_on_the_deadline_once_each(round_2020, unit_a, unit_b, alice, bob):
    alice.email, bob.email = "alice@yuelu.example.cn", "bob@test.example.cn"
    alice.save()
    bob.save()
    due = TODAY + datetime.timedelta(days=3)
    tasks = {t.unit_id: t for t in issue(round_2020, [unit_a, unit_b], starts_on=TODAY - datetime.timedelta(days=10),
                                         due_on=due, warn_days=3)}
    a = season.start_task(bob, tasks[unit_b.pk]) if False else None  # noqa: F841 — bob's unit submits below
    b = create_assessment(unit=unit_b, round=round_2020, kind="project", layout="project", project_name=PROJECT, user=bob)
    Assessment.objects.filter(pk=b.pk).update(state=Assessment.State.SUBMITTED)
    mail.outbox = []

    assert season.due_reminders(TODAY - datetime.timedelta(days=1)) == {"lead": 0, "deadline": 0}
    assert season.due_reminders(TODAY) == {"lead": 1, "deadline": 0}
    assert season.due_reminders(TODAY) == {"lead": 0, "deadline": 0}
    assert season.due_reminders(TODAY + datetime.timedelta(days=1)) == {"lead": 0, "deadline": 0}
    assert season.due_reminders(due) == {"lead": 0, "deadline": 1}
    assert season.due_reminders(due + datetime.timedelta(days=1)) == {"lead": 0, "deadline": 0}

    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["alice@yuelu.example.cn"], f"【绩效自评】还剩 3 天截止：2020年度绩效自评 {PROJECT}"),
        (["alice@yuelu.example.cn"], f"【绩效自评】今天截止：2020年度绩效自评 {PROJECT}"),
    ]
    assert list(Reminder.objects.values_list("task__unit_id", "kind")) == [(unit_a.pk, "lead"), (unit_a.pk, "deadline")]


def test_one_click_reminds_every_late_task(round_2020, unit_a, unit_b, alice, bob, bureau):
    alice.email = "alice@yuelu.example.cn"
    alice.save()
    past = timezone.localdate() - datetime.timedelta(days=1)
    issue(round_2020, [unit_a, unit_b], starts_on=past - datetime.timedelta(days=5), due_on=past)
    mail.outbox = []

    response = bureau.post(reverse("assessments:season_remind_late"), {"round": round_2020.pk}, follow=True)

    # bob has no e-mail address: nobody to remind there.
    assert [str(m) for m in response.context["messages"]] == ["已催办 1 项逾期任务。"]
    assert [m.to for m in mail.outbox] == [["alice@yuelu.example.cn"]]
    assert mail.outbox[0].subject == f"【绩效自评】已逾期：2020年度绩效自评 {PROJECT}"
    assert "截止日期：" in mail.outbox[0].body and "（已逾期 1 天）" in mail.outbox[0].body
    assert Reminder.objects.get().kind == "manual"


# --- 待办 -------------------------------------------------------------------------------------


def _officer_world(region, round_2020, n):
    """n units, each with an officer, a task, a returned assessment and a submitted one with two
    整改事项 (one open and overdue, one answered); one reviewer for all."""
    from .test_access_matrix import make_reviewer

    units = [Unit.objects.create(name=f"测试单位{n}-{i}", region=region) for i in range(n)]
    officer = make_officer(f"officer{n}", units[0])
    for unit in units[1:]:
        Membership.objects.create(user=officer, unit=unit, role=Membership.Role.OFFICER)
    issue(round_2020, units)
    for unit in units:
        a = create_assessment(unit=unit, round=round_2020, kind="department", layout="department")
        Assessment.objects.filter(pk=a.pk).update(state=Assessment.State.RETURNED)
        b = create_assessment(unit=unit, round=round_2020, kind="project", layout="project", project_name="另一个项目")
        Assessment.objects.filter(pk=b.pk).update(state=Assessment.State.SUBMITTED, submitted_at=timezone.now())
        for status in (Rectification.Status.OPEN, Rectification.Status.ANSWERED):
            Rectification.objects.create(assessment=b, problem="资金支付进度慢", action="加快支付",
                                         due_date=timezone.localdate() - datetime.timedelta(days=2), status=status)
    reviewer = make_reviewer(f"shenhe{n}", *units)
    return officer, reviewer


def reviewer_units(reviewer):
    from assessments import permissions

    return permissions.reviewable_units(reviewer)


@pytest.mark.usefixtures("rendered_pages")
@pytest.mark.parametrize("role", ["officer", "reviewer"])
def test_the_todo_page_costs_the_same_queries_for_1_and_30_units(client, region, round_2020, role, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts, sizes = [], []
    for n in (1, 30):
        officer, reviewer = _officer_world(region, round_2020, n)
        client.force_login(officer if role == "officer" else reviewer)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("assessments:todo"))
        assert response.status_code == 200
        counts.append(len(ctx))
        sizes.append([(s.key, s.count) for s in response.context["sections"]])
        if role == "reviewer":  # each waiting submission links to its own 复核 page, titled by unit and report
            review = next(s for s in response.context["sections"] if s.key == "review")
            waiting = Assessment.objects.filter(unit__in=reviewer_units(reviewer), state=Assessment.State.SUBMITTED)
            assert sorted((i.text, i.url, i.note) for i in review.items) == sorted(
                (f"{a.unit.name} · {a.title}", reverse("assessments:review", args=[a.pk]),
                 f"已提交，提交于 {timezone.localtime(a.submitted_at):%Y-%m-%d %H:%M}") for a in waiting)
        Task.objects.all().delete()
    assert counts[0] == counts[1]
    if role == "officer":
        assert sizes == [[("tasks", 1), ("returned", 1), ("rectify", 1)], [("tasks", 30), ("returned", 30), ("rectify", 30)]]
    else:
        assert sizes == [[("review", 1), ("rectify_review", 1)], [("review", 30), ("rectify_review", 30)]]


def test_the_todo_count_for_the_navigation(alice_client, round_2020, unit_a):
    issue(round_2020, [unit_a])
    response = alice_client.get(reverse("assessments:todo_count"))
    assert response.json() == {"total": 1}
    assert "no-store" in response["Cache-Control"]


def test_open_rectifications_on_the_officers_and_the_reviewers_todo(alice_client, bureau, client, round_2020, unit_a,
                                                                     unit_b):
    """整改 (issue 15) on the 待办: the unit's officers see what they must answer (overdue ones
    marked), the reviewers the answers waiting for their decision; the navigation count has both."""
    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project", project_name=PROJECT)
    Assessment.objects.filter(pk=a.pk).update(state=Assessment.State.APPROVED)
    today = timezone.localdate()
    late = Rectification.objects.create(assessment=a, problem="资金支付进度慢", action="加快支付",
                                        due_date=today - datetime.timedelta(days=3))
    soon = Rectification.objects.create(assessment=a, problem="满意度调查样本不足", action="补充调查",
                                        indicators=[{"lineage": "x", "name": "群众满意度"}],
                                        due_date=today + datetime.timedelta(days=5))
    answered = Rectification.objects.create(assessment=a, problem="档案不全", action="补齐档案", due_date=today,
                                            status=Rectification.Status.ANSWERED)
    Rectification.objects.create(assessment=a, problem="已完成的", action="无", due_date=today,
                                 status=Rectification.Status.CLOSED)

    page = alice_client.get(reverse("assessments:todo"))
    (section,) = [s for s in page.context["sections"] if s.key == "rectify"]
    assert (section.title, section.count) == ("待答复的整改事项", 2)
    url = reverse("assessments:rectifications", args=[a.pk])
    assert [(i.text, i.url, i.note, i.urgent) for i in section.items] == [
        (f"{unit_a.short_name or unit_a.name} · {a.title} · 资金支付进度慢", f"{url}#item-{late.pk}",
         f"2020年度 · 涉及指标：（整体） · 整改期限 {late.due_date:%Y-%m-%d}，已逾期 3 天", True),
        (f"{unit_a.short_name or unit_a.name} · {a.title} · 满意度调查样本不足", f"{url}#item-{soon.pk}",
         f"2020年度 · 涉及指标：群众满意度 · 整改期限 {soon.due_date:%Y-%m-%d}，还剩 5 天", False),
    ]
    assert alice_client.get(reverse("assessments:todo_count")).json() == {"total": 2}

    page = bureau.get(reverse("assessments:todo"))
    assert [(s.key, s.count) for s in page.context["sections"]] == [("rectify_review", 1)]
    (item,) = page.context["sections"][0].items
    url = reverse("assessments:review_rectifications", args=[a.pk])
    assert (item.url, item.note, item.urgent) == (
        f"{url}#item-{answered.pk}", f"2020年度 · 涉及指标：（整体） · 整改期限 {today:%Y-%m-%d}", False)
    assert '<section class="card mb-3" id="todo-rectify_review">' in page.content.decode()
    assert bureau.get(reverse("assessments:todo_count")).json() == {"total": 1}

    # Another unit's items: never on the officer's 待办, nor on that of a reviewer of unit_a only.
    other = create_assessment(unit=unit_b, round=round_2020, kind="project", layout="project", project_name=PROJECT)
    Assessment.objects.filter(pk=other.pk).update(state=Assessment.State.APPROVED)
    Rectification.objects.create(assessment=other, problem="别的单位的问题", action="整改", due_date=today)
    Rectification.objects.create(assessment=other, problem="别的单位的答复", action="整改", due_date=today,
                                 status=Rectification.Status.ANSWERED)
    page = alice_client.get(reverse("assessments:todo"))
    assert [s.count for s in page.context["sections"] if s.key == "rectify"] == [2]
    from .test_access_matrix import make_reviewer

    client.force_login(make_reviewer("zhipai-a", unit_a))
    page = client.get(reverse("assessments:todo"))
    assert [(s.key, [i.url for i in s.items]) for s in page.context["sections"] if s.key == "rectify_review"] == [
        ("rectify_review", [f"{url}#item-{answered.pk}"])]


def test_an_excel_import_cannot_replace_approved_targets(national, unit_a, alice):
    """从Excel导入 goes through the entry form: it cannot drop or rewrite the locked rows."""
    from assessments.builtin_templates import BY_CODE
    from assessments.importing import apply, parser

    load(national, unit_a)
    data = target_workbook([{"title": "表", "project": PROJECT, "implementer": unit_a.name,
                             "rows": [("产出指标", "数量指标", "别的指标", "≥1次", "50")]}])
    parsed = parser.parse_workbook(data, chosen=BY_CODE["national"])

    outcome = apply.import_new(user=alice, unit=unit_a, round_=national, layout="national", parsed=parsed, project_name=PROJECT)

    assert outcome.assessment is None
    assert outcome.errors[0].startswith("绩效指标：第1行「开展平安建设宣传活动次数」是批复的绩效指标，不能删除")
    assert not Assessment.objects.exists()


def test_the_officer_pages_show_the_deadline_and_days_left(alice_client, national, unit_a, alice, django_assert_num_queries):
    load(national, unit_a)
    (task,) = issue(national, [unit_a], due_on=timezone.localdate() + datetime.timedelta(days=6))
    a = season.start_task(alice, task)
    due = task.due_on.strftime("%Y-%m-%d")
    for name in ("assessments:edit", "assessments:detail"):
        page = alice_client.get(reverse(name, args=[a.pk])).content.decode()
        assert f"至 {due}（还剩 6 天）" in page, name


def test_an_extension_allows_new_reminders_for_the_new_deadline(round_2020, unit_a, alice, bureau):
    alice.email = "alice@yuelu.example.cn"
    alice.save()
    (task,) = issue(round_2020, [unit_a], starts_on=TODAY - datetime.timedelta(days=10), due_on=TODAY, warn_days=2)
    season.send_reminder(task, "manual")
    assert season.due_reminders(TODAY) == {"lead": 0, "deadline": 1}
    season.extend_task(task, TODAY + datetime.timedelta(days=5), "单位申请延期")
    assert season.due_reminders(TODAY + datetime.timedelta(days=3)) == {"lead": 1, "deadline": 0}
    assert season.due_reminders(TODAY + datetime.timedelta(days=5)) == {"lead": 0, "deadline": 1}
    assert list(Reminder.objects.order_by("id").values_list("kind", "due_on")) == [
        ("manual", TODAY), ("deadline", TODAY), ("lead", TODAY + datetime.timedelta(days=5)),
        ("deadline", TODAY + datetime.timedelta(days=5))]


@pytest.mark.parametrize("page", ["assessments:season", "assessments:spot_checks"])
def test_pages_naming_every_region_cost_the_same_queries_for_3_and_35_regions(bureau, region, round_2020, page):
    """The 下达任务 and 抽查 forms name every region by its full name (省市区): the parents come with
    it (`RegionQuerySet.full_names`), not one query per region (the benchmark's province:
    137 regions, 259 queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = bureau
    province = region.parent.parent
    url = reverse(page)
    client.get(url)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(ctx))
        city = Region.objects.create(name=f"第{len(counts)}市", level=Region.Level.CITY, parent=province)
        for n in range(15):
            Region.objects.create(name=f"第{n}区", level=Region.Level.DISTRICT, parent=city)
    assert counts[0] == counts[1]
    html = client.get(url).content.decode()
    assert '>湖南省第2市第14区</option>' in html


def test_the_targets_form_names_its_unit_by_typing_not_from_a_list(bureau, unit_a, unit_b, round_2020, region):
    """The 预算单位 box of the 批复目标 upload: typed, with server suggestions (not a list of every
    unit); its name overrides the sheets' 实施单位, an unknown name is refused with the typed text kept."""
    Unit.objects.bulk_create(Unit(name=f"测试县第{i:03d}局", region=region) for i in range(300))
    page = bureau.get(reverse("assessments:season_targets"), {"round": round_2020.pk}).content.decode()
    assert "测试县第" not in page
    assert f'data-suggest-url="{reverse("assessments:unit_suggest")}"' in page
    data = target_workbook([{"title": "甲", "project": PROJECT, "implementer": "某个别的名称"}])
    refused = upload(bureau, round_2020, data, unit_name="没有这个单位")
    assert refused.status_code == 400
    assert refused.context["report"]["refused"] == ("预算单位：“没有这个单位”不是您可下达的预算单位，"
                                                    "请按全称或简称填写（或留空，按各工作表的“实施单位”）。")
    assert 'value="没有这个单位"' in refused.content.decode()
    loaded = upload(bureau, round_2020, data, unit_name=unit_a.short_name)
    assert loaded.status_code == 200
    assert list(TargetSet.objects.values_list("unit__name", "project_name")) == [(unit_a.name, PROJECT)]



def test_an_assigned_reviewer_sees_the_tasks_of_their_units_only(client, region, round_2020, unit_a, unit_b):
    """填报任务 lists the tasks and target sets of the units the reviewer reviews, never their own."""
    from .test_access_matrix import make_reviewer

    unit_c = Unit.objects.create(name="长沙市岳麓区司法局", short_name="岳麓司法局", region=region)
    issue(round_2020, [unit_a, unit_b, unit_c])
    for unit in (unit_a, unit_b, unit_c):
        TargetSet.objects.create(round=round_2020, unit=unit, kind="project", project_name=f"{unit.short_name}项目")
    assigned = make_reviewer("zhipai", unit_b, unit_c)
    Membership.objects.create(user=assigned, unit=unit_c, role=Membership.Role.OFFICER)
    client.force_login(assigned)
    response = client.get(reverse("assessments:season") + f"?round={round_2020.pk}")
    assert [t.unit_id for t in response.context["tasks"]] == [unit_b.pk]
    assert "按本批次已载入的批复绩效目标（1 项）" in response.content.decode()  # unit_b's
    bureau = make_reviewer("quanbu", bureau_wide=True)
    client.force_login(bureau)
    response = client.get(reverse("assessments:season") + f"?round={round_2020.pk}")
    assert sorted(t.unit_id for t in response.context["tasks"]) == sorted([unit_a.pk, unit_b.pk, unit_c.pk])
    assert "按本批次已载入的批复绩效目标（3 项）" in response.content.decode()


@pytest.fixture
def every_kind_of_task(national, unit_a, unit_b, region, alice, bob):
    """Tasks of every status on one page: submitted, started, not started, overdue, cancelled with
    its reason, extended with its reason, one from approved targets, a name that needs escaping."""
    unit_c = Unit.objects.create(name='长沙市<岳麓>区"司法"局', short_name="岳麓司法局", region=region)
    unit_d = Unit.objects.create(name="长沙市天心区司法局", short_name="天心司法局", region=region)
    load(national, unit_a)
    past = timezone.localdate() - datetime.timedelta(days=2)
    issued, _ = season.issue_tasks(round_=national, specs=season.specs_from_targets(national, Unit.objects.all()),
                                   starts_on=past - datetime.timedelta(days=10), due_on=timezone.localdate(), warn_days=2)
    late = issue(national, [unit_b, unit_c], starts_on=past - datetime.timedelta(days=10), due_on=past, project="执法经费")
    later = issue(national, [unit_d], project="")
    a = season.start_task(alice, issued[0])
    Assessment.objects.filter(pk=a.pk).update(state=Assessment.State.SUBMITTED)
    season.start_task(bob, late[0])
    season.cancel_task(late[1], "单位已撤并 <合并>")
    season.extend_task(later[0], timezone.localdate() + datetime.timedelta(days=30), "系统故障，顺延")
    return national


def test_the_task_rows_show_every_status_with_its_reason_link_and_actions(bureau, every_kind_of_task, unit_a, unit_b,
                                                                          region):
    html = bureau.get(reverse("assessments:season"), {"round": every_kind_of_task.pk}).content.decode()
    rows = []
    for pk, row in re.findall(r'<tr data-task="(\d+)">(.*?)</tr>', html, re.S):
        cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append((int(pk), cells[:6], re.findall(r'<form method="post" action="([^"]+)"', row),
                     re.findall(r'<a href="([^"]+)">查看自评</a>', row), row.count('name="csrfmiddlewaretoken"')))
    today = timezone.localdate()
    started, past = today - datetime.timedelta(days=12), today - datetime.timedelta(days=2)
    targets, late, cancelled, later = Task.objects.order_by("pk")
    assert rows == [
        (late.pk, [unit_b.name, "项目支出：执法经费", f"{started} 至 {past}", "3", "逾期 查看自评", "0"],
         [reverse("assessments:season_task", args=[late.pk])], [reverse("assessments:review", args=[late.assessment_id])], 1),
        (cancelled.pk, ["长沙市&lt;岳麓&gt;区&quot;司法&quot;局", "项目支出：执法经费", f"{started} 至 {past}", "3",
                        "已取消 取消理由：单位已撤并 &lt;合并&gt;", "0"], [], [], 0),
        (targets.pk, [unit_a.name, f"项目支出：{PROJECT} 批复目标", f"{started} 至 {today}", "2", "已提交 查看自评", "0"], [],
         [reverse("assessments:review", args=[targets.assessment_id])], 0),
        (later.pk, ["长沙市天心区司法局", "部门整体支出",
                    f"{today - datetime.timedelta(days=1)} 至 {today + datetime.timedelta(days=30)} 延期理由：系统故障，顺延", "3",
                    "未开始", "0"], [reverse("assessments:season_task", args=[later.pk])], [], 1),
    ]
    assert f'<option value="{region.pk}">{region.full_name}</option>' in html
