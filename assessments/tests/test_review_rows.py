"""The 复核 table's rows (a Jinja2 template, ADR 0023) read as the Django template wrote them: the
主管部门's 初审 beside each row, a long 实际完成值 cut at 120 characters, text escaped, and once the
review is decided the 复核 values read-only, 完成情况 in words (issue 17, part 5)."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from assessments import workflow
from assessments.models import Assessment, Indicator

from .test_access_matrix import valid_assessment
from .test_supervision import client_for, pre_review_post, supervised  # noqa: F401  (a fixture)
from .test_workflow_matrix import review_post

pytestmark = pytest.mark.django_db

LONG = "<b>稳控</b>&重点人员" * 12  # 168 characters


def cells(html: str, number: int) -> list[str]:
    row = re.search(rf'<tr id="review-row-{number}" class="review-row"[^>]*>(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"\s*\n\s*", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_review_rows_read_as_the_reviewer_reads_them(supervised, unit_a, round_2020, alice, reviewer):  # noqa: F811
    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice)
    Indicator.objects.filter(assessment=a, position=2).update(actual=LONG, outcome="achieved")
    workflow.perform(alice, a, "submit")
    url = reverse("assessments:supervise_detail", args=[a.pk])
    client_for(supervised).post(url, pre_review_post(a, "forward", "同意转报。", {0: "45", 1: "30"}))
    a.refresh_from_db()
    assert a.state == Assessment.State.FORWARDED
    bureau = client_for(reviewer)
    html = bureau.get(reverse("assessments:review", args=[a.pk])).content.decode()

    first, second, third = cells(html, 1), cells(html, 2), cells(html, 3)
    assert first[:3] == ["1", "产出指标<br>数量指标",
                         '培训次数<div class="small text-body-secondary evidence-links">无佐证材料</div>']
    assert first[7] == '45.00<div class="explain">初审核减</div>'
    assert second[4] == escape(LONG[:117]) + "..."  # 120 characters, as Django cuts them in zh-hans
    assert second[7] == '30.00<div class="explain">初审核减</div>'
    assert third[7] == "—"
    assert 'name="review-1-actual"' in second[8] and 'aria-label="第2条指标 复核完成值"' in second[8]

    data = review_post(a, "save")
    data.update({"review-1-outcome": "partial", "review-1-score": "20", "review-1-note": "<核减>&说明"})
    assert bureau.post(reverse("assessments:review", args=[a.pk]), data).status_code == 302
    workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "approve")
    html = bureau.get(reverse("assessments:review", args=[a.pk])).content.decode()
    second = cells(html, 2)
    assert second[8:12] == ["", "部分达成年度指标并具有一定效果", "20.00", "&lt;核减&gt;&amp;说明"]
    assert "review-1-actual" not in html


def test_the_review_page_builds_one_row_form_and_writes_the_management_form(unit_a, round_2020, alice, reviewer,
                                                                           monkeypatch):
    """The rows are light (rowforms: one form built, the others written through its fields); the
    template's `formset.management_form`, first tried as formset["management_form"], builds no form
    (it built every row's form, issue 17)."""
    from django.forms import formsets

    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice)
    workflow.perform(alice, a, "submit")
    built = []
    construct = formsets.BaseFormSet._construct_form
    monkeypatch.setattr(formsets.BaseFormSet, "_construct_form", lambda self, i, **kw: built.append(i) or construct(self, i, **kw))
    html = client_for(reviewer).get(reverse("assessments:review", args=[a.pk])).content.decode()
    rows = Indicator.objects.filter(assessment=a).count()
    assert rows >= 3 and built == [0]
    assert f'name="review-TOTAL_FORMS" value="{rows}"' in html and f'name="review-{rows - 1}-score"' in html


def test_the_pre_review_page_writes_the_management_form(supervised, unit_a, round_2020, alice):  # noqa: F811
    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice)
    workflow.perform(alice, a, "submit")
    html = client_for(supervised).get(reverse("assessments:supervise_detail", args=[a.pk])).content.decode()
    rows = Indicator.objects.filter(assessment=a).count()
    assert f'name="review-TOTAL_FORMS" value="{rows}"' in html and f'name="review-{rows - 1}-score"' in html


@pytest.mark.parametrize("layout", ["project", "department"])
def test_an_indicator_rows_notes_are_in_its_last_cell(unit_a, round_2020, alice, layout):
    """The paper form writes a row's 复核意见, its explanation and a score that differs from the
    rule's in the row's last cell, and in no other (the last column is looped over apart: issue 17)."""
    from types import SimpleNamespace

    from assessments import pagecache, readmodel

    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice, kind=layout)
    Indicator.objects.filter(assessment=a, position=1).update(score=1)  # differs from the rule's score
    view = readmodel.build(readmodel.load_content(a.pk))
    first = view.indicators[0]
    html = pagecache.render_paper_form(view, True, {first.key: SimpleNamespace(note="请核实<口径>", score=None)})
    row = re.search(rf'<tr id="indicator-{first.number}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert len(cells) == len([c for c in view.indicator_columns if c.key not in ("level1", "level2")]) + 2  # the first row opens both groups
    *others, last = cells
    assert '<div class="review-note">复核意见：请核实&lt;口径&gt;</div>' in last
    assert '<div class="explain' in last and "score-differs" in last
    assert not any("review-note" in c or "explain" in c for c in others)
