"""Officer entry through the Django test client: what a finance officer types, what they see."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import workflow
from assessments.models import Assessment, FundingRow, Indicator, Snapshot, Transition

from .helpers import (
    SEED_001_TABLE_1,
    SEED_004_INDICATORS,
    detail_url,
    edit_url,
    fill_seed_004,
    form_data,
    set_indicators,
)

pytestmark = pytest.mark.django_db


def test_seed_004_typed_in_scores_99_67(alice_client, department):
    data = fill_seed_004(form_data(alice_client.get(edit_url(department))))

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 302
    department.refresh_from_db()
    assert department.self_total == Decimal("99.67")
    assert department.self_grade == "优"
    assert department.indicators.count() == 13
    total = department.funding_rows.get(source=FundingRow.TOTAL)
    assert (total.budget, total.actual) == (Decimal("10949.23"), Decimal("10584.29"))

    page = alice_client.get(detail_url(department))
    view = page.context["view"]
    assert view.result.funding.rate == Decimal("96.67")
    assert view.result.funding.score == Decimal("9.67")
    assert view.result.indicator_total == Decimal("90.00")
    assert [str(i.score) for i in view.indicators] == ["5.00"] * 6 + ["10.00", "5.00", "5.00"] + ["10.00"] * 4
    html = page.content.decode()
    assert '<td class="num fw-bold" id="total-score">99.67</td>' in html
    assert '<div class="fs-5" id="summary-grade">优</div>' in html
    assert '<td class="num rate">96.67%</td>' in html
    assert '<td class="num score">9.67</td>' in html


def test_seed_004_submit_records_transition_and_snapshot(alice_client, alice, department):
    alice_client.post(edit_url(department), fill_seed_004(form_data(alice_client.get(edit_url(department)))))

    response = alice_client.post(reverse("assessments:submit", args=[department.pk]))

    assert response.status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    transition = Transition.objects.get(assessment=department)
    assert (transition.action, transition.from_state, transition.to_state, transition.actor) == (
        "submit", "draft", "submitted", alice
    )
    snapshot = Snapshot.objects.get(assessment=department)
    assert snapshot.number == 1
    assert snapshot.data["total_score"] == "99.67"
    assert snapshot.data["grade"] == "优"
    assert snapshot.data["funding"][0] == {
        "source": "total", "label": "合计", "initial_budget": None, "budget": "10949.23", "actual": "10584.29",
        "rate": "96.67", "weight": "10.00", "score": "9.67", "suggested_score": "9.67", "score_entered": None,
        "reason": "", "extra": {},
    }
    assert snapshot.data["template"] == {"code": "department", "name": "部门整体支出绩效自评表", "version": 1}
    assert len(snapshot.data["indicators"]) == 13


def test_live_preview_scores_unsaved_input(alice_client, department):
    data = fill_seed_004(form_data(alice_client.get(edit_url(department))))

    response = alice_client.post(reverse("assessments:preview", args=[department.pk]), data)

    result = response.json()
    assert (result["total"], result["grade"], result["weight_total"]) == ("99.67", "优", "100")
    assert result["funding"]["rate"] == "96.67"
    assert result["funding"]["score"] == "9.67"
    assert [r["score"] for r in result["indicators"]][:3] == ["5.00", "5.00", "5.00"]
    assert department.indicators.count() == 0  # nothing saved


def test_explanation_per_row(alice_client, project):
    data = set_indicators(form_data(alice_client.get(edit_url(project))), [
        ("产出指标", "数量指标", "公众安全感民意调查", "≥10次", "10次", "5"),
    ])
    alice_client.post(edit_url(project), data)

    view = alice_client.get(detail_url(project)).context["view"]

    assert view.indicators[0].result.explanation == "≥10次，实际 10次：达成，得满分 5.00"


def test_seed_001_table_without_weights(alice_client, project):
    data = form_data(alice_client.get(edit_url(project)))
    data.update({
        "header-project_leader": "刘雄", "header-leader_phone": "13875709408",
        "header-implementer": "中共南岳区委政法委员会",
        "funding-0-initial_budget": "36", "funding-0-actual": "30.64", "funding-0-reason": "单位用其它资金弥补该项经费支出",
        "funding-1-initial_budget": "36", "funding-1-actual": "9.8", "funding-1-reason": "本年财政实拨支出金额",
        "funding-2-initial_budget": "", "funding-2-actual": "10",
    })
    set_indicators(data, SEED_001_TABLE_1)

    assert alice_client.post(edit_url(project), data).status_code == 302

    view = alice_client.get(detail_url(project)).context["view"]
    assert view.weights_used is False
    assert view.total is None and view.grade is None
    assert view.result.funding.rate == Decimal("85.11")
    assert view.result.funding.reason_required is True
    parsed = [(i.result.target.operator, i.result.target.number, i.result.target.unit) for i in view.indicators[:5]]
    assert parsed[4] == ("=", Decimal("36"), "万元")
    assert (view.indicators[4].result.actual.number, view.indicators[4].result.actual.unit) == (Decimal("30.64"), "万元")
    assert [i.result.kind for i in view.indicators] == ["quantitative"] * 5 + ["qualitative"] * 2 + ["quantitative"]
    project.refresh_from_db()
    assert project.self_total is None


def test_spread_default_weights(alice_client, project):
    data = set_indicators(form_data(alice_client.get(edit_url(project))), SEED_001_TABLE_1)
    alice_client.post(edit_url(project), data)
    data = form_data(alice_client.get(edit_url(project)))
    data["action"] = "spread_weights"

    response = alice_client.post(edit_url(project), data)

    assert response.status_code == 302
    weights = list(project.indicators.order_by("position").values_list("weight", flat=True))
    assert sum(weights[:5]) == Decimal("50")
    assert sum(weights[5:7]) == Decimal("30")
    assert weights[7] == Decimal("10")


def test_weight_total_95_blocks_submit(alice_client, department):
    data = fill_seed_004(form_data(alice_client.get(edit_url(department))))
    data["indicators-12-weight"] = "5"  # 满意度 10 → 5: total 95
    data["action"] = "submit"

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 400
    department.refresh_from_db()
    assert department.state == Assessment.State.DRAFT
    assert department.self_total == Decimal("94.67")  # the draft was saved
    messages = [p.message for p in response.context["problems"]]
    assert "分值合计 95（预算执行率 10 + 绩效指标 85），应为 100" in messages
    assert "满意度指标分值合计 5，应为 10" in messages
    assert "分值合计 95（预算执行率 10 + 绩效指标 85），应为 100" in response.content.decode()


def test_qualitative_score_outside_band_is_refused(alice_client, department):
    data = fill_seed_004(form_data(alice_client.get(edit_url(department))))
    data["indicators-10-outcome"] = "partial"
    data["indicators-10-score"] = "8.5"
    data["indicators-10-reason"] = "部分重点人员稳控未达预期"
    data["action"] = "submit"

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 400
    problems = [p for p in response.context["problems"] if p.field == "score"]
    assert len(problems) == 1 and problems[0].row == 11
    assert "得分应在 6.00–7.99 之间" in problems[0].message
    department.refresh_from_db()
    assert department.state == Assessment.State.DRAFT


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("funding-0-actual", "一万元", "请输入数字金额（单位：万元），例如 36 或 30.64。"),
        ("funding-0-actual", "-5", "金额不能为负数。"),
        ("funding-0-actual", "1.23456", "金额最多保留四位小数（万元，精确到元）。"),
        # 10 MB of UTF-8 text (3 bytes a character)
        ("sections-3-body", "长" * (10 * 1024 * 1024 // 3), "内容过长：最多 50000 字，当前 3495253 字。"),
    ],
)
def test_bad_input_gets_field_error_and_keeps_typing(alice_client, department, field, value, message):
    data = fill_seed_004(form_data(alice_client.get(edit_url(department))))
    data["header-duties"] = "新输入的部门职责"
    data[field] = value

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert any(message in e for e in response.context["errors"])
    # Everything typed is still on the page...
    assert "新输入的部门职责" in html
    assert "指标1：群众对全区政法工作满意度" in html
    # ...and nothing half-saved: the stored draft is unchanged.
    department.refresh_from_db()
    assert department.duties == ""
    assert department.indicators.count() == 0


def test_funding_error_names_table_row_and_field(alice_client, department):
    data = form_data(alice_client.get(edit_url(department)))
    data["funding-0-actual"] = "abc"

    response = alice_client.post(edit_url(department), data)

    # The table is named as the 表样 names it (部门整体支出表: 整体资金（万元）).
    assert "整体资金合计「全年执行数」：请输入数字金额（单位：万元），例如 36 或 30.64。" in response.context["errors"]
    assert 'value="abc"' in response.content.decode()


def test_amount_pasted_from_excel_is_normalised(alice_client, department):
    data = form_data(alice_client.get(edit_url(department)))
    data["funding-0-budget"] = "１０,９４９.２３万元"

    assert alice_client.post(edit_url(department), data).status_code == 302
    assert department.funding_rows.get(source="total").budget == Decimal("10949.23")


def test_level2_outside_its_level1_suggestions_is_kept_with_a_warning(alice_client, department):
    """二级 is an open list (the 表样 only suggests): a value written otherwise is kept, and the
    officer is told; 一级 must be one of the template's."""
    data = set_indicators(form_data(alice_client.get(edit_url(department))), [
        ("效益指标", "数量指标", "错配", "≥1次", "1次", "5"),
    ])

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 302
    assert Indicator.objects.get(assessment=department).level2 == "数量指标"
    page = alice_client.get(edit_url(department)).content.decode()
    assert "第1行「错配」：二级指标“数量指标”不在本表样对“效益指标”的建议中（经济效益指标、社会效益指标、生态效益指标、可持续影响指标），已按原文保留" in page

    data = set_indicators(form_data(alice_client.get(edit_url(department))), [
        ("效果指标", "数量指标", "错配", "≥1次", "1次", "5"),
    ])
    response = alice_client.post(edit_url(department), data)
    assert response.status_code == 400
    assert "绩效指标第2行「一级指标」：一级指标“效果指标”不是本表样的一级指标。" in response.context["errors"]


def test_rows_can_be_reordered_and_deleted_without_javascript(alice_client, department):
    rows = SEED_004_INDICATORS[:3]
    alice_client.post(edit_url(department), set_indicators(form_data(alice_client.get(edit_url(department))), rows))
    data = form_data(alice_client.get(edit_url(department)))
    data["indicators-0-ORDER"], data["indicators-2-ORDER"] = "3", "1"
    data["indicators-1-DELETE"] = "on"

    assert alice_client.post(edit_url(department), data).status_code == 302

    names = list(department.indicators.order_by("position").values_list("name", flat=True))
    assert names == [SEED_004_INDICATORS[2][2], SEED_004_INDICATORS[0][2]]


def test_add_rows_without_javascript(alice_client, department):
    alice_client.post(edit_url(department), set_indicators(form_data(alice_client.get(edit_url(department))), SEED_004_INDICATORS[:2]))
    data = form_data(alice_client.get(edit_url(department)))
    data["action"] = "add_indicators"

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 302
    assert response["Location"] == f"{edit_url(department)}?add_indicators=3#indicators"
    page = alice_client.get(response["Location"])
    assert page.context["entry"].indicators.total_form_count() == 5


def test_stale_draft_is_not_overwritten(alice_client, department):
    data = form_data(alice_client.get(edit_url(department)))
    data["header-duties"] = "第二个窗口的内容"
    Assessment.objects.filter(pk=department.pk).update(version=department.version + 1, duties="第一个窗口已保存")

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 409
    html = response.content.decode()
    assert "第二个窗口的内容" in html  # what was typed stays in the form…
    assert '<section class="card mb-5 border-warning" id="conflict-version">' in html
    assert response.context["conflict"].assessment.duties == "第一个窗口已保存"  # …beside the saved version
    department.refresh_from_db()
    assert department.duties == "第一个窗口已保存"

    # Having seen both, the officer saves again on purpose: now it is not a silent overwrite.
    data["version"] = str(response.context["form_version"])
    assert alice_client.post(edit_url(department), data).status_code == 302
    department.refresh_from_db()
    assert department.duties == "第二个窗口的内容"


def submitted(alice, department):
    FundingRow.objects.filter(assessment=department, source="total").update(budget=100, actual=100)
    Indicator.objects.create(
        assessment=department, position=1, level1="产出指标", level2="数量指标", name="培训", target="≥10次", actual="10次"
    )
    workflow.perform(alice, department, "submit")
    return department


def test_submitted_assessment_refuses_edits(alice_client, alice, department):
    data = form_data(alice_client.get(edit_url(department)))
    submitted(alice, department)
    data["header-duties"] = "提交后偷偷修改"

    response = alice_client.post(edit_url(department), data)

    assert response.status_code == 403
    assert "该自评当前状态为“已提交”，不能修改。如需修改，请先撤回（审核开始前可撤回）。" in response.content.decode()
    department.refresh_from_db()
    assert department.duties == ""
    get = alice_client.get(edit_url(department))
    assert get.status_code == 302 and get["Location"] == detail_url(department)


def test_withdraw_until_review_starts(alice_client, alice, reviewer, department):
    submitted(alice, department)

    assert alice_client.post(reverse("assessments:withdraw", args=[department.pk])).status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.DRAFT

    workflow.perform(alice, department, "submit")
    workflow.perform(reviewer, department, "start_review")
    response = alice_client.post(reverse("assessments:withdraw", args=[department.pk]), follow=True)
    assert "财政局已开始审核，不能再撤回。如需修改，请联系审核人退回修改。" in response.content.decode()
    department.refresh_from_db()
    assert department.state == Assessment.State.IN_REVIEW
    assert list(Transition.objects.filter(assessment=department).values_list("action", flat=True)) == [
        "submit", "withdraw", "submit", "start_review"
    ]


def test_double_submit_makes_one_transition(alice, department):
    submitted(alice, department)
    stale = Assessment.objects.get(pk=department.pk)
    stale.state = Assessment.State.DRAFT  # a second tab still showing the draft

    with pytest.raises(workflow.TransitionRefused, match="状态刚刚已被更改"):
        workflow.perform(alice, stale, "submit")
    assert Transition.objects.filter(assessment=department).count() == 1
    assert Snapshot.objects.filter(assessment=department).count() == 1


def test_create_department_and_project(alice_client, round_2020):
    response = alice_client.post(reverse("assessments:create"), {"round": round_2020.pk, "layout": "department", "unit": ""})
    # the single unit is filled in by the hidden field's initial value in a browser; posting it empty is an error
    assert response.status_code == 200
    unit_id = response.context["form"].fields["unit"].initial

    response = alice_client.post(reverse("assessments:create"), {"round": round_2020.pk, "layout": "department", "unit": unit_id})
    assert response.status_code == 302
    a = Assessment.objects.get()
    assert (a.kind, a.layout, a.title) == ("department", "department", "2020年度部门整体支出绩效自评")
    assert list(a.funding_rows.values_list("source", flat=True)) == ["total", "fiscal", "other"]
    assert a.report_sections.count() == 11

    again = alice_client.post(reverse("assessments:create"), {"round": round_2020.pk, "layout": "department", "unit": unit_id})
    assert "本单位2020年度的部门整体支出绩效自评已存在。" in again.content.decode()

    no_name = alice_client.post(reverse("assessments:create"), {"round": round_2020.pk, "layout": "national", "unit": unit_id})
    assert "项目支出自评须填写项目名称。" in no_name.content.decode()

    alice_client.post(reverse("assessments:create"), {"round": round_2020.pk, "layout": "national", "unit": unit_id, "project_name": "雪亮工程"})
    national = Assessment.objects.get(kind="project")
    assert list(national.funding_rows.values_list("source", flat=True)) == ["total", "fiscal", "carryover", "other"]


def test_national_layout_rate_uses_full_year_budget(alice_client, unit_a, round_2020, alice):
    from assessments.services import create_assessment

    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="national", project_name="雪亮工程")
    data = form_data(alice_client.get(edit_url(a)))
    data.update({"funding-0-initial_budget": "50", "funding-0-budget": "67", "funding-0-actual": "56.18"})
    alice_client.post(edit_url(a), data)

    page = alice_client.get(edit_url(a))

    assert page.context["view"].result.funding.rate == Decimal("83.85")
    assert "全年预算数（A）" in page.content.decode()


class TestAccess:
    def test_anonymous_is_sent_to_login(self, client, department):
        for url in (reverse("assessments:list"), detail_url(department), edit_url(department)):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith("/login/?next=")

    def test_other_units_officer_gets_404(self, client, bob, department):
        client.force_login(bob)
        assert client.get(detail_url(department)).status_code == 404
        assert client.get(edit_url(department)).status_code == 404
        assert client.post(edit_url(department), {"header-duties": "x"}).status_code == 404
        assert client.post(reverse("assessments:submit", args=[department.pk])).status_code == 404
        assert client.post(reverse("assessments:withdraw", args=[department.pk])).status_code == 404
        assert client.post(reverse("assessments:preview", args=[department.pk])).status_code == 404
        assert client.get(detail_url(department).replace(str(department.pk), "999999")).status_code == 404

    def test_list_shows_only_own_unit(self, client, alice, bob, department, unit_b, round_2020):
        from assessments.services import create_assessment

        create_assessment(unit=unit_b, round=round_2020, kind="project", layout="project", project_name="乙单位项目")
        client.force_login(bob)
        titles = [a.title for a in client.get(reverse("assessments:list")).context["page"]]
        assert titles == ["2020年度乙单位项目绩效自评"]


def test_list_rows_read_cell_by_cell(alice_client, unit_a, round_2020, department):
    """我的绩效自评's rows (a Jinja2 template): year, linked title, kind, unit, state, total, grade and
    the last change in 北京时间; blanks as —; names escaped."""
    import datetime
    import re

    from django.utils import timezone

    from assessments.services import create_assessment

    project = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project",
                                project_name="<b>平安</b>建设经费")
    changed = datetime.datetime(2020, 12, 31, 17, 5, tzinfo=datetime.UTC)  # 2021-01-01 01:05 北京时间
    Assessment.objects.filter(pk=project.pk).update(state="returned", self_total=Decimal("86.5"), self_grade="良",
                                                    updated_at=changed)
    Assessment.objects.filter(pk=department.pk).update(updated_at=changed - datetime.timedelta(days=1))
    html = alice_client.get(reverse("assessments:list")).content.decode()
    body = html[html.index("<th>最后修改</th>"):]
    rows = re.findall(r"<tr>(.*?)</tr>", body[:body.index("</tbody>")], re.S)
    cells = [[re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"
    assert cells == [
        ["2020", f'<a href="/assessments/{department.pk}/">2020年度部门整体支出绩效自评</a>', "部门整体支出", "岳麓区委政法委",
         '<span class="badge state-draft text-bg-secondary">草稿</span>', "—", "—", "2020-12-31 01:05"],
        ["2020", f'<a href="/assessments/{project.pk}/">2020年度&lt;b&gt;平安&lt;/b&gt;建设经费绩效自评</a>', "项目支出",
         "岳麓区委政法委", '<span class="badge state-returned text-bg-danger">退回修改</span>', "86.50", "良",
         "2021-01-01 01:05"],
    ]


def test_list_names_the_open_rounds_each_unit_has_not_started(client, alice, unit_a, unit_b, round_2020):
    """Without tasks, 我的绩效自评 says which unit has not started its 部门整体支出 assessment in which
    open round (newest first), with the deadline; closed rounds and started ones are not named."""
    import datetime
    import re

    from assessments.models import Membership, Round
    from assessments.services import create_assessment

    Membership.objects.create(user=alice, unit=unit_b, role=Membership.Role.OFFICER)
    later = Round.objects.create(year=2021, title="2021年度绩效自评", deadline=datetime.date(2022, 3, 31))
    Round.objects.create(year=2019, title="2019年度绩效自评", is_open=False)
    create_assessment(unit=unit_a, round=round_2020, kind="department", layout="department")
    client.force_login(alice)
    html = client.get(reverse("assessments:list")).content.decode()
    due = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in re.findall(r"<li>(.*?)</li>", html, re.S)
           if "尚未开始" in item]
    assert due == [
        "2021年度绩效自评：岳麓区委政法委尚未开始部门整体支出绩效自评（截止 2022年3月31日） 开始填报",
        "2021年度绩效自评：测试单位尚未开始部门整体支出绩效自评（截止 2022年3月31日） 开始填报",
        "2020年度绩效自评：测试单位尚未开始部门整体支出绩效自评 开始填报",
    ]
    assert f'href="/assessments/new/?round={later.pk}&layout=department"' in html


class TestQueryCounts:
    def make_rows(self, assessment, n):
        Indicator.objects.bulk_create(
            Indicator(assessment=assessment, position=i, level1="产出指标", level2="数量指标", name=f"指标{i}",
                      target="≥10次", actual="10次", weight=Decimal("1"))
            for i in range(n)
        )

    def count(self, client, url):
        client.get(url)  # the account's roles are read once, then kept in the cache (ADR 0024)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    def test_edit_page_queries_do_not_grow_with_rows(self, alice_client, unit_a, round_2020, project, django_assert_num_queries):
        from assessments.services import create_assessment

        other = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project", project_name="另一个项目")
        self.make_rows(project, 1)
        self.make_rows(other, 30)
        one = self.count(alice_client, edit_url(project))
        with django_assert_num_queries(one):
            alice_client.get(edit_url(other))

    def test_detail_page_queries_do_not_grow_with_rows(self, alice_client, department, project, django_assert_num_queries):
        self.make_rows(department, 1)
        self.make_rows(project, 30)
        one = self.count(alice_client, detail_url(department))
        with django_assert_num_queries(one):
            alice_client.get(detail_url(project))

    def test_list_queries_do_not_grow_with_assessments(self, alice_client, unit_a, round_2020, department, django_assert_num_queries):
        from assessments.services import create_assessment

        one = self.count(alice_client, reverse("assessments:list"))
        for n in range(29):
            create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project", project_name=f"项目{n}")
        with django_assert_num_queries(one):
            alice_client.get(reverse("assessments:list"))
