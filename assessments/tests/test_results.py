"""结果应用 (issue 15 §3): rules → advice, the bureau confirms or overrides with a reason, the unit
sees it, the round exports it."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from assessments import results
from assessments.models import Advice, ApplicationRule, Assessment, AuditEvent, ResultApplication
from assessments.services import create_assessment

from .test_access_matrix import make_reviewer

pytestmark = pytest.mark.django_db


def graded(unit, round_, name, *, self_total, self_grade, review_total=None, review_grade="", state="approved"):
    a = create_assessment(unit=unit, round=round_, kind="project", layout="project", project_name=name)
    Assessment.objects.filter(pk=a.pk).update(
        state=state, self_total=Decimal(self_total), self_grade=self_grade,
        review_total=None if review_total is None else Decimal(review_total), review_grade=review_grade,
    )
    a.refresh_from_db()
    return a


def test_default_and_custom_rules(unit_a, round_2020):
    assert [(r.grade, r.advice, r.reduce_percent) for r in results.rules_for(round_2020)] == [
        ("优", "prioritize", None), ("良", "maintain", None), ("中", "reduce", Decimal("10.00")), ("差", "cancel", None)]
    ApplicationRule.objects.create(round=round_2020, position=1, grade="中", score_min=Decimal("70"), advice=Advice.REDUCE,
                                   reduce_percent=Decimal("5"))
    ApplicationRule.objects.create(round=round_2020, position=2, grade="中", advice=Advice.REDUCE, reduce_percent=Decimal("20"))
    ApplicationRule.objects.create(round=round_2020, position=3, grade="差", advice=Advice.ADJUST)
    rules = results.rules_for(round_2020)
    assert results.suggest(rules, "中", Decimal("75.00")).reduce_percent == Decimal("5.00")
    assert results.suggest(rules, "中", Decimal("69.99")).reduce_percent == Decimal("20.00")
    assert results.suggest(rules, "差", Decimal("40")).advice == "adjust"
    assert results.suggest(rules, "优", Decimal("95")) is None  # the round's rules replace the defaults
    # The basis is the 复核 result where there is one.
    a = graded(unit_a, round_2020, "甲", self_total="92.00", self_grade="优", review_total="78.00", review_grade="中")
    assert results.basis(a) == ("中", Decimal("78.00"))
    b = graded(unit_a, round_2020, "乙", self_total="92.00", self_grade="优")
    assert results.basis(b) == ("优", Decimal("92.00"))


def test_confirm_or_override_with_reason(unit_a, round_2020, reviewer):
    a = graded(unit_a, round_2020, "甲", self_total="92.00", self_grade="优", review_total="75.50", review_grade="中")
    r = results.confirm(reviewer, a, advice="reduce", reduce_percent=Decimal("10.00"), reason="")
    assert (r.suggested, r.suggested_percent, r.advice, r.reduce_percent, r.grade, r.score, r.overridden) == (
        "reduce", Decimal("10.00"), "reduce", Decimal("10.00"), "中", Decimal("75.50"), False)
    with pytest.raises(results.ResultRefused, match="确认结果与规则建议不同，须填写调整理由。"):
        results.confirm(reviewer, a, advice="reduce", reduce_percent=Decimal("15"), reason="  ")
    r = results.confirm(reviewer, a, advice="reduce", reduce_percent=Decimal("15"), reason="连续两年执行率低于80%")
    r.refresh_from_db()
    assert (r.advice, r.reduce_percent, r.reason, r.overridden) == ("reduce", Decimal("15.00"), "连续两年执行率低于80%", True)
    assert ResultApplication.objects.count() == 1
    events = list(AuditEvent.objects.filter(action__startswith="result.").order_by("id").values_list("action", "details"))
    assert events == [
        ("result.confirm", {"suggested": "核减 10.00%", "advice": "核减 10.00%", "reason": ""}),
        ("result.override", {"suggested": "核减 10.00%", "advice": "核减 15%", "reason": "连续两年执行率低于80%"}),
    ]
    draft = graded(unit_a, round_2020, "丙", self_total="92.00", self_grade="优", state="submitted")
    with pytest.raises(results.ResultRefused, match="审核通过后才能确认结果应用。"):
        results.confirm(reviewer, draft, advice="prioritize", reduce_percent=None, reason="")


def test_the_page_confirms_keeps_input_and_the_unit_sees_it(client, unit_a, unit_b, round_2020, reviewer, alice):
    a = graded(unit_a, round_2020, "综治经费", self_total="95.00", self_grade="优", review_total="93.00", review_grade="优")
    graded(unit_b, round_2020, "乙单位项目", self_total="70.00", self_grade="中")
    client.force_login(reviewer)
    url = reverse("assessments:results") + f"?round={round_2020.pk}"
    page = client.get(url).content.decode()
    assert page.count("data-suggested>优先保障<") == 1 and page.count("data-suggested>核减 10.00%<") == 1
    response = client.post(url, {"assessment": a.pk, "advice": "reduce", "reason": "抽查发现问题"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "核减比例（%）：选择“核减”须填写核减比例。" in body
    assert 'value="抽查发现问题"' in body
    response = client.post(url, {"assessment": a.pk, "advice": "adjust", "reason": ""})
    assert response.status_code == 400
    assert "确认结果与规则建议不同，须填写调整理由。" in response.content.decode()
    response = client.post(url, {"assessment": a.pk, "advice": "adjust", "reason": "项目明年调整实施内容"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('assessments:results')}?round={round_2020.pk}&page=1#result-{a.pk}"
    assert ResultApplication.objects.get(assessment=a).advice == "adjust"
    # The unit sees it on its page.
    client.force_login(alice)
    page = client.get(reverse("assessments:detail", args=[a.pk])).content.decode()
    assert "结果应用（财政部门确认）：<strong>调整</strong>，依据等级“优”；说明：项目明年调整实施内容" in page
    # A reviewer of unit B only cannot confirm A's.
    carol = make_reviewer("carol", unit_b)
    client.force_login(carol)
    assert client.post(url, {"assessment": a.pk, "advice": "prioritize"}).status_code == 404
    assert ResultApplication.objects.get(assessment=a).advice == "adjust"


def test_xlsx_export_holds_the_page_rows(client, unit_a, unit_b, round_2020, reviewer):
    unit_a.supervisor = "长沙市岳麓区委"
    unit_a.save()
    a = graded(unit_a, round_2020, "综治经费", self_total="95.00", self_grade="优", review_total="93.00", review_grade="优")
    graded(unit_b, round_2020, "乙单位项目", self_total="70.00", self_grade="中")
    results.confirm(reviewer, a, advice="prioritize", reduce_percent=None, reason="")
    client.force_login(reviewer)
    response = client.get(reverse("assessments:results_xlsx") + f"?round={round_2020.pk}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "2020年度绩效自评结果应用"
    assert rows[1] == ["编号", "预算单位", "主管部门", "自评", "自评总分", "复核总分", "依据等级", "规则建议", "确认结果",
                       "调整理由", "确认人", "确认时间"]
    # Units ordered by name: 中共长沙市岳麓区委员会政法委员会 before 中共长沙市岳麓区财政局测试单位 (code points).
    assert [r[1:10] for r in rows[2:]] == sorted([
        ["中共长沙市岳麓区委员会政法委员会", "长沙市岳麓区委", "2020年度综治经费绩效自评", 95, 93, "优", "优先保障", "优先保障", None],
        ["中共长沙市岳麓区财政局测试单位", None, "2020年度乙单位项目绩效自评", 70, None, "中", "核减 10.00%", "（未确认）", None],
    ], key=lambda r: r[0])


def test_the_page_is_paged_and_a_refused_row_is_shown_on_its_page(client, unit_a, round_2020, reviewer):
    made = [graded(unit_a, round_2020, f"项目{k:03d}", self_total="95.00", self_grade="优") for k in range(1, 53)]
    client.force_login(reviewer)
    url = reverse("assessments:results") + f"?round={round_2020.pk}"
    page = client.get(url).content.decode()
    assert page.count('name="assessment"') == 50
    assert "第 1 / 2 页，共 52 份" in page
    assert client.get(url + "&page=2").content.decode().count('name="assessment"') == 2
    # Rows are ordered by unit, kind, project name: 项目052 is on page 2; a refusal shows that page.
    response = client.post(url + "&page=1", {"assessment": made[-1].pk, "advice": "cancel", "reason": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "第 2 / 2 页，共 52 份" in body and "确认结果与规则建议不同，须填写调整理由。" in body


def test_a_confirmed_row_and_a_refused_row_read_as_typed(client, unit_a, unit_b, round_2020, reviewer):
    """The rows (a Jinja2 template, ADR 0023), cell by cell: a confirmed result with its reason, who
    confirmed it (by name, the login in small print) and when (北京时间); a refused one keeps what
    was typed; each row's form posts with its own CSRF token."""
    import re
    from datetime import UTC, datetime

    from django.test import Client

    reviewer.first_name = "王复核"
    reviewer.save()
    a = graded(unit_a, round_2020, "综治经费", self_total="95.00", self_grade="优", review_total="76.00", review_grade="中")
    b = graded(unit_b, round_2020, "乙单位项目", self_total="70.00", self_grade="中")
    results.confirm(reviewer, a, advice="reduce", reduce_percent=Decimal("15"), reason="执行率偏低")
    ResultApplication.objects.filter(assessment=a).update(confirmed_at=datetime(2021, 6, 30, 16, 5, tzinfo=UTC))
    client.force_login(reviewer)
    url = reverse("assessments:results") + f"?round={round_2020.pk}"

    def row(html, pk):
        found = html.split(f'<tr id="result-{pk}">')[1].split("</tr>")[0]
        return re.sub(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]+">', "", re.sub(r"\s*\n\s*", "", found))

    options = lambda chosen: "".join(  # noqa: E731
        f'<option value="{v}" {"selected" if v == chosen else ""}>{label}</option>' for v, label in Advice.choices)
    assert row(client.get(url).content.decode(), a.pk) == (
        f'<td>{unit_a.name}</td><td><a href="/assessments/review/{a.pk}/">2020年度综治经费绩效自评</a></td>'
        '<td class="text-end">95.00</td><td class="text-end">76.00</td><td>中</td><td data-suggested>核减 10.00%</td>'
        '<td><div data-confirmed>核减 15.00%（理由：执行率偏低）<span class="small text-body-secondary"><span class="person">王复核 '
        f'<small class="text-body-secondary person-login">{reviewer.username}</small></span> 2021-07-01 00:05</span></div>'
        f'<form method="post" action="?round={round_2020.pk}&amp;page=1" class="d-flex flex-wrap gap-1 align-items-end">'
        f'<input type="hidden" name="assessment" value="{a.pk}">'
        f'<div><label class="form-label small mb-0" for="advice-{a.pk}">确认结果</label>'
        f'<select class="form-select form-select-sm" name="advice" id="advice-{a.pk}">{options("reduce")}</select></div>'
        f'<div><label class="form-label small mb-0" for="percent-{a.pk}">核减比例（%）</label>'
        f'<input class="form-control form-control-sm" name="reduce_percent" id="percent-{a.pk}" size="6" value="15.00"></div>'
        f'<div><label class="form-label small mb-0" for="reason-{a.pk}">调整理由</label>'
        f'<input class="form-control form-control-sm" name="reason" id="reason-{a.pk}" maxlength="2000" value="执行率偏低"></div>'
        '<button class="btn btn-sm btn-outline-primary" type="submit">重新确认</button></form></td>'
    )
    refused = client.post(url, {"assessment": b.pk, "advice": "reduce", "reduce_percent": "", "reason": "<无>"})
    assert refused.status_code == 400
    assert row(refused.content.decode(), b.pk).split('<td data-suggested>核减 10.00%</td>')[1] == (
        f'<td><form method="post" action="?round={round_2020.pk}&amp;page=1" class="d-flex flex-wrap gap-1 align-items-end">'
        f'<input type="hidden" name="assessment" value="{b.pk}">'
        f'<div><label class="form-label small mb-0" for="advice-{b.pk}">确认结果</label>'
        f'<select class="form-select form-select-sm" name="advice" id="advice-{b.pk}">{options("reduce")}</select></div>'
        f'<div><label class="form-label small mb-0" for="percent-{b.pk}">核减比例（%）</label>'
        f'<input class="form-control form-control-sm" name="reduce_percent" id="percent-{b.pk}" size="6" value=""></div>'
        f'<div><label class="form-label small mb-0" for="reason-{b.pk}">调整理由</label>'
        f'<input class="form-control form-control-sm" name="reason" id="reason-{b.pk}" maxlength="2000" value="&lt;无&gt;"></div>'
        '<button class="btn btn-sm btn-outline-primary" type="submit">确认</button></form>'
        '<div class="invalid-feedback d-block field-error">核减比例（%）：选择“核减”须填写核减比例。</div></td>'
    )
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reviewer)
    page = strict.get(url).content.decode()
    token = page.split(f'<tr id="result-{b.pk}">')[1].split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    posted = strict.post(url, {"csrfmiddlewaretoken": token, "assessment": b.pk, "advice": "reduce", "reduce_percent": "10",
                               "reason": ""})
    assert posted.status_code == 302
    assert ResultApplication.objects.get(assessment=b).advice == "reduce"


def test_a_result_confirmed_by_a_deleted_account_still_shows(client, unit_a, round_2020, reviewer):
    """The confirming account deleted (the result keeps no confirmer): the page and the xlsx say so."""
    a = graded(unit_a, round_2020, "综治经费", self_total="95.00", self_grade="优")
    gone = make_reviewer("gone", unit_a)
    results.confirm(gone, a, advice="prioritize", reduce_percent=None, reason="")
    gone.delete()
    client.force_login(reviewer)
    page = client.get(reverse("assessments:results") + f"?round={round_2020.pk}")
    assert page.status_code == 200
    assert '<span class="small text-body-secondary">（账号已删除）' in page.content.decode()
    sheet = load_workbook(io.BytesIO(client.get(reverse("assessments:results_xlsx") + f"?round={round_2020.pk}").content)).active
    assert list(sheet.iter_rows(min_row=3, values_only=True))[0][10] == "（账号已删除）"


def test_every_row_form_carries_the_pages_csrf_token_and_posts_with_it(unit_a, unit_b, round_2020, reviewer):
    """Each row's form holds the CSRF field, written once for the page (the lazy field, written per
    row, masked the token again 50 times); a form posted with it, CSRF checks on, is accepted."""
    import re

    from django.test import Client

    a = graded(unit_a, round_2020, "综治经费", self_total="95.00", self_grade="优")
    graded(unit_b, round_2020, "乙单位项目", self_total="70.00", self_grade="中")
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    url = reverse("assessments:results") + f"?round={round_2020.pk}"
    page = client.get(url).content.decode()
    tokens = re.findall(r'<form method="post" action="\?round=\d+&amp;page=1"[^>]*>'
                        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">', page)
    assert len(tokens) == 2 and len(set(tokens)) == 1
    response = client.post(url, {"csrfmiddlewaretoken": tokens[0], "assessment": a.pk, "advice": "prioritize"})
    assert response.status_code == 302
    assert ResultApplication.objects.get(assessment=a).advice == "prioritize"


def test_each_reviewer_lists_and_counts_only_the_rows_of_their_units(client, unit_a, unit_b, round_2020, reviewer):
    """The list's pages and count are statements per way a reviewer's units are limited: the bureau
    sees both units, a reviewer assigned unit B only B's, a bureau reviewer who is an officer of A
    only B's; a draft is nobody's."""
    from assessments.models import Membership

    a = graded(unit_a, round_2020, "甲项目", self_total="90.00", self_grade="优")
    b = graded(unit_b, round_2020, "乙项目", self_total="70.00", self_grade="中")
    graded(unit_b, round_2020, "乙草稿", self_total="60.00", self_grade="差", state="draft")
    own = make_reviewer("benwei", bureau_wide=True)
    Membership.objects.create(user=own, unit=unit_a, role=Membership.Role.OFFICER)
    url = reverse("assessments:results") + f"?round={round_2020.pk}"
    for user, expected in ((reviewer, [a.pk, b.pk]), (make_reviewer("zhipai", unit_b), [b.pk]), (own, [b.pk]),
                           (reviewer, [a.pk, b.pk])):
        client.force_login(user)
        page = client.get(url).context["page"]
        assert (page.paginator.count, sorted(row.pk for row in page.object_list)) == (len(expected), expected)
