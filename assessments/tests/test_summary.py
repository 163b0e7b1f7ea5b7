"""自评汇总表 (xlsx) and 汇总分析报告 (docx) of a round (issue 15 §4): built by the Celery job with
progress; every figure equals a separate computation from the database."""

import io
import random
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.urls import reverse
from docx import Document
from docx.shared import Cm
from docx.table import Table
from openpyxl import load_workbook
from PIL import Image

from assessments import rectification, results, summary
from assessments.exports.charts_png import bar_chart
from assessments.models import Assessment, FundingRow, Rectification, RoundReport, Unit
from assessments.services import create_assessment

from .test_access_matrix import make_reviewer

pytestmark = pytest.mark.django_db
TWO = Decimal("0.01")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def grade_of(total):
    return "优" if total >= 90 else "良" if total >= 80 else "中" if total >= 60 else "差"


def make_round(region, round_, n=16):
    """n handed-in projects over two 主管部门 (seeded values), one without a review, one without
    funding, and a draft (never counted)."""
    rng = random.Random(7)
    units = [Unit.objects.create(name=f"汇总测试单位{i}", region=region, supervisor=s)
             for i, s in enumerate(("市委政法委", "市财政局"))]
    made = []
    for k in range(1, n + 1):
        a = create_assessment(unit=units[k % 2], round=round_, kind="project", layout="project", project_name=f"项目{k:02d}")
        budget = Decimal(rng.randint(50, 500))
        actual = (budget * Decimal(rng.choice(["0.55", "0.75", "0.85", "0.95", "1.00", "1.05"]))).quantize(Decimal("0.0001"))
        if k == n:  # no funding entered: no rate
            budget = actual = None
        FundingRow.objects.filter(assessment=a, source="total").update(initial_budget=budget, actual=actual)
        self_total = Decimal(rng.randint(5500, 9999)) / 100
        review_total = None if k == 1 else max(Decimal(0), self_total + Decimal(rng.randint(-1200, 800)) / 100)
        Assessment.objects.filter(pk=a.pk).update(
            state="approved" if review_total is not None else "submitted",
            self_total=self_total, self_grade=grade_of(self_total),
            review_total=review_total, review_grade=grade_of(review_total) if review_total is not None else "",
        )
        made.append(a)
    create_assessment(unit=units[0], round=round_, kind="project", layout="project", project_name="草稿项目")
    return units, made


def expected(supervisor=""):
    """The figures computed again, straight from the database, without the summary module."""
    qs = Assessment.objects.exclude(state="draft")
    if supervisor:
        qs = qs.filter(unit__supervisor=supervisor)
    grades, bands, gaps, changes = Counter(), Counter(), [], Counter()
    budget_sum = actual_sum = Decimal(0)
    for a in qs:
        grades[a.review_grade or a.self_grade] += 1
        f = FundingRow.objects.get(assessment=a, source="total")
        if f.initial_budget is None:
            bands["无法计算"] += 1
        else:
            rate = (f.actual / f.initial_budget * 100).quantize(TWO, rounding=ROUND_HALF_UP)
            bands["低于60%" if rate < 60 else "60%（含）至80%" if rate < 80 else "80%（含）至90%" if rate < 90
                  else "90%（含）至100%（含）" if rate <= 100 else "高于100%"] += 1
            budget_sum += f.initial_budget
            actual_sum += f.actual
        if a.review_total is not None:
            gaps.append((a.review_total - a.self_total, a))
            if a.self_grade != a.review_grade:
                changes[(a.self_grade, a.review_grade)] += 1
    n = len(gaps)
    return {
        "count": qs.count(), "grades": grades, "bands": bands, "budget_sum": budget_sum, "actual_sum": actual_sum,
        "rate": (actual_sum / budget_sum * 100).quantize(TWO, rounding=ROUND_HALF_UP),
        "compared": n,
        "mean_gap": (sum(abs(g) for g, _ in gaps) / n).quantize(TWO, rounding=ROUND_HALF_UP),
        "mean_signed_gap": (sum(g for g, _ in gaps) / n).quantize(TWO, rounding=ROUND_HALF_UP),
        "within": sum(1 for g, _ in gaps if abs(g) <= 5),
        "top": [a.pk for g, a in sorted(gaps, key=lambda p: (-abs(p[0]), p[1].pk))[:10]],
        "changes": changes,
    }


def pct(n, whole=16):
    return (Decimal(n) * 100 / whole).quantize(TWO, rounding=ROUND_HALF_UP)


def build_as(client, user, round_, capture, supervisor=""):
    client.force_login(user)
    with capture(execute=True):
        response = client.post(reverse("assessments:summaries"), {"round": str(round_.pk), "supervisor": supervisor})
    assert response.status_code == 302 and response["Location"] == reverse("assessments:summaries")
    return RoundReport.objects.order_by("-id").first()


def test_figures_equal_a_separate_computation(client, region, round_2020, reviewer, media,
                                              django_capture_on_commit_callbacks):
    _, made = make_round(region, round_2020)
    made[1].refresh_from_db()
    results.confirm(reviewer, made[1], advice="prioritize", reduce_percent=None, reason="依据复核结果")
    for problem in ("问题一", "问题二"):
        rectification.open_item(reviewer, made[1], problem=problem, indicator_keys=[], action="整改", due_date=date(2021, 6, 30))
    made[2].refresh_from_db()
    closed = rectification.open_item(reviewer, made[2], problem="问题三", indicator_keys=[], action="整改", due_date=date(2021, 6, 30))
    Rectification.objects.filter(pk=closed.pk).update(status="closed")
    job = build_as(client, reviewer, round_2020, django_capture_on_commit_callbacks)
    assert (job.status, job.total, job.done, job.error) == ("done", 16, 16, "")
    assert (job.xlsx.name, job.docx.name) == (f"summary/round-2020-{job.pk}.xlsx", f"summary/round-2020-{job.pk}.docx")
    want = expected()

    f = summary.Figures()
    for row in summary.rows(summary.scope(job)):
        f.add(row)
    assert f.count == want["count"] == 16
    assert dict(f.grades) == dict(want["grades"])
    assert {k: v for k, v in f.bands.items() if v} == dict(want["bands"])
    assert (f.budget_sum, f.actual_sum, f.overall_rate) == (want["budget_sum"], want["actual_sum"], want["rate"])
    assert [summary.amount_text(Decimal(v)) for v in ("3549", "2894.65", "12.3456", "1.5")] == ["3549.00", "2894.65", "12.3456", "1.50"]
    assert (f.compared, f.mean_gap, f.mean_signed_gap, f.within) == (
        want["compared"], want["mean_gap"], want["mean_signed_gap"], want["within"])
    assert f.compared == 15
    assert [r.id for r in f.largest_gaps] == want["top"]
    assert dict(f.grade_changes) == dict(want["changes"])
    assert f.result_table == [("未确认", 15), ("优先保障", 1)]

    # The xlsx: one row per assessment, in the page's order, with the same numbers.
    client.force_login(reviewer)
    response = client.get(reverse("assessments:summary_xlsx", args=[job.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][0] == "2020年度绩效自评自评汇总表（全部主管部门）"
    assert cells[1] == tuple(name for name, _ in summary.COLUMNS)
    body = cells[2:]
    assert len(body) == 16
    by_title = {r[4]: r for r in body}
    second = by_title["2020年度项目02绩效自评"]
    a2 = Assessment.objects.get(pk=made[1].pk)
    f2 = FundingRow.objects.get(assessment=a2, source="total")
    assert second[1:4] == ("汇总测试单位0", "市委政法委", "项目支出")
    assert (Decimal(str(second[5])), Decimal(str(second[6]))) == (f2.initial_budget, f2.actual)
    assert Decimal(str(second[7])) == (f2.actual / f2.initial_budget * 100).quantize(TWO, rounding=ROUND_HALF_UP)
    assert (Decimal(str(second[8])), Decimal(str(second[9])), second[10], second[11], second[12]) == (
        a2.self_total, a2.review_total, a2.review_grade, "2/0", "优先保障")
    assert by_title["2020年度项目03绩效自评"][11] == "0/1"
    assert (f.rectification_open, f.rectification_closed, f.with_open_rectification) == (2, 1, 1)
    assert sum(1 for r in body if r[10] == "优") == want["grades"]["优"]

    # The docx opens with python-docx and holds the same numbers.
    response = client.get(reverse("assessments:summary_docx", args=[job.pk]))
    doc = Document(io.BytesIO(b"".join(response.streaming_content)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert (f"本次汇总自评 16 份；可计算执行率的 15 份预算数合计 {want['budget_sum']:.2f} 万元，执行数合计 {want['actual_sum']:.2f} 万元，"
            f"总体预算执行率 {want['rate']}%。") in text
    assert (f"已有复核总分的自评 15 份：自评与复核总分的平均差距（绝对值）{want['mean_gap']} 分，平均差距（复核减自评）"
            f"{want['mean_signed_gap']} 分；差距在 ±5 分以内的 {want['within']} 份") in text
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    assert "下达整改事项 3 项，已完成 1 项，未完成 2 项（涉及 1 份自评）。" in text
    grades_table, bands_table, agreement_table, changes_table, top_table, results_table = tables
    assert agreement_table == [["自评与复核", "份数", "占比（%）"],
                               ["差距在±5分以内", str(want["within"]), str(pct(want["within"]))],
                               ["差距超过±5分", str(15 - want["within"]), str(pct(15 - want["within"]))],
                               ["尚无复核总分", "1", "6.25"]]
    assert grades_table[1:] == [
        [g, str(want["grades"][g]), str((Decimal(want["grades"][g]) * 100 / 16).quantize(TWO, rounding=ROUND_HALF_UP))]
        for g in ("优", "良", "中", "差")] + [["未评定", "0", "0.00"]]
    assert {r[0]: int(r[1]) for r in bands_table[1:] if r[1] != "0"} == dict(want["bands"])
    assert sum(int(r[2]) for r in changes_table[1:]) == sum(want["changes"].values())
    titles = {a.pk: a.title for a in Assessment.objects.all()}
    assert [r[2] for r in top_table[1:]] == [titles[pk] for pk in want["top"]]
    assert results_table[1:] == [["未确认", "15"], ["优先保障", "1"]]

    # The charts: three PNG bar charts (grades, execution-rate bands, agreement), 15 cm wide, each
    # above its table with a caption, drawn from the same numbers as the tables.
    assert len(doc.inline_shapes) == 3
    pngs = [doc.part.related_parts[shape._inline.graphic.graphicData.pic.blipFill.blip.embed].blob
            for shape in doc.inline_shapes]
    for shape, png in zip(doc.inline_shapes, pngs, strict=True):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(io.BytesIO(png)).size == (1200, 600)
        assert (shape.width, shape.height) == (Cm(15), Cm(7.5))
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert captions == ["图1 评价等级分布（份数）", "图2 预算执行率分布（份数）", "图3 自评与复核总分的差距（份数）"]
    assert pngs == [
        bar_chart("评价等级分布（份数）", ["优", "良", "中", "差", "未评定"], [want["grades"][g] for g in ("优", "良", "中", "差", "未评定")]),
        bar_chart("预算执行率分布（份数）", [r[0] for r in bands_table[1:]], [int(r[1]) for r in bands_table[1:]]),
        bar_chart("自评与复核总分的差距（份数）", ["差距在±5分以内", "差距超过±5分", "尚无复核总分"], [want["within"], 15 - want["within"], 1]),
    ]
    body = list(doc.element.body.iterchildren())
    pictures = [n for n, el in enumerate(body) if el.xpath(".//pic:pic")]
    for at, table in zip(pictures, (grades_table, bands_table, agreement_table), strict=True):
        caption, following = body[at + 1], next(el for el in body[at + 1:] if el.tag.endswith("}tbl"))
        assert caption.xpath("string(.)").startswith("图")
        assert [[c.text for c in row.cells] for row in Table(following, doc._body).rows] == table


def test_per_supervisor_and_only_the_requesters_units(client, region, round_2020, reviewer, media,
                                                      django_capture_on_commit_callbacks):
    units, _ = make_round(region, round_2020)
    job = build_as(client, reviewer, round_2020, django_capture_on_commit_callbacks, supervisor="市财政局")
    assert (job.status, job.total, job.supervisor) == ("done", 8, "市财政局")
    f = summary.Figures()
    for row in summary.rows(summary.scope(job)):
        f.add(row)
    want = expected("市财政局")
    assert (f.count, dict(f.grades), f.mean_gap) == (want["count"], dict(want["grades"]), want["mean_gap"])
    # An assigned reviewer's table holds only the units assigned.
    carol = make_reviewer("carol", units[0])
    job = build_as(client, carol, round_2020, django_capture_on_commit_callbacks)
    assert (job.status, job.total) == ("done", 8)
    # The files are the requester's: another reviewer gets 404, as for a missing job.
    client.force_login(reviewer)
    assert client.get(reverse("assessments:summary_xlsx", args=[job.pk])).status_code == 404
    assert client.get(reverse("assessments:summary_docx", args=[job.pk])).status_code == 404
    page = client.get(reverse("assessments:summaries")).content.decode()
    assert '<div class="progress-bar bulk-100">8/8</div>' in page
    assert '<option value="市财政局">市财政局</option>' in page


def test_a_failed_job_says_why(region, round_2020, reviewer, media):
    job = summary.request(round_2020, None)
    with pytest.raises(ValueError):
        summary.build(job.pk)
    job.refresh_from_db()
    assert (job.status, job.error, job.xlsx.name) == ("failed", "ValueError: 申请人账号已删除", "")
    assert not (media / "summary").exists()  # nothing stored


def test_progress_is_reported_while_rows_are_written(region, round_2020, reviewer, media, monkeypatch):
    make_round(region, round_2020)
    monkeypatch.setattr(summary, "PROGRESS_EVERY", 5)
    seen = []
    original = RoundReport.objects.filter

    def watching(*args, **kwargs):
        qs = original(*args, **kwargs)
        update = qs.update

        def recorded(**changes):
            if set(changes) == {"done"}:
                seen.append(changes["done"])
            return update(**changes)

        qs.update = recorded
        return qs

    job = summary.request(round_2020, reviewer)
    monkeypatch.setattr(RoundReport.objects, "filter", watching)
    summary.build(job.pk)
    assert seen == [5, 10, 15]
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.percent) == ("done", 16, 16, 100)


def test_supervising_unit_names_the_supervisor_in_the_filter_and_the_table(client, region, round_2020, reviewer, media,
                                                                           django_capture_on_commit_callbacks):
    """Issue 14's 主管部门 level before the free text: units[1] (text 市财政局) is supervised by
    市卫生健康委员会; the filter, the page's choices and the table's column read that name."""
    units, _ = make_round(region, round_2020)
    bureau = Unit.objects.create(name="市卫生健康委员会", region=region)
    Unit.objects.filter(pk=units[1].pk).update(supervisor_unit=bureau)
    job = build_as(client, reviewer, round_2020, django_capture_on_commit_callbacks, supervisor="市卫生健康委员会")
    assert (job.status, job.total) == ("done", 8)
    assert {row.supervisor for row in summary.rows(summary.scope(job))} == {"市卫生健康委员会"}
    sheet = load_workbook(io.BytesIO(b"".join(
        client.get(reverse("assessments:summary_xlsx", args=[job.pk])).streaming_content))).active
    header = next(r for r in sheet.iter_rows(values_only=True) if "主管部门" in r)
    column = header.index("主管部门")
    values = [r[column] for r in sheet.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert values == ["市卫生健康委员会"] * 8
    job = build_as(client, reviewer, round_2020, django_capture_on_commit_callbacks, supervisor="市财政局")
    assert (job.status, job.total) == ("done", 0)
    page = client.get(reverse("assessments:summaries")).content.decode()
    assert '<option value="市卫生健康委员会">市卫生健康委员会</option>' in page
    assert '<option value="市委政法委">市委政法委</option>' in page
    assert '<option value="市财政局">' not in page
    # Each name once (distinct in the database), in order, however many units share it.
    for n in range(3):
        Unit.objects.create(name=f"同一主管部门的单位{n}", region=region, supervisor="市委政法委")
    Unit.objects.create(name="另一个单位", region=region, supervisor="区财政局")
    response = client.get(reverse("assessments:summaries"))
    assert response.context["supervisors"] == sorted(["区财政局", "市卫生健康委员会", "市委政法委"])
    assert response.content.decode().count('<option value="市委政法委">') == 1
