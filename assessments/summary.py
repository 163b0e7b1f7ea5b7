"""The round's 自评汇总表 (xlsx) and 汇总分析报告 (docx) (issue 15 §4).

One read model: `rows()` streams one `SummaryRow` per handed-in assessment (a fixed number of
queries, rows fetched in chunks), `Figures` accumulates the report's numbers while the rows go
by, and the xlsx writer (openpyxl write-only) and the docx writer read only those. Memory stays
bounded by the chunk size and the ten largest gaps, whatever the size of the round.
"""

import heapq
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal import storage

from . import permissions, scoring, supervisors
from .models import Advice, Assessment, FundingRow, Rectification, RoundReport

TWO = Decimal("0.01")
AGREEMENT_POINTS = Decimal("5")
GRADES = ("优", "良", "中", "差")
UNGRADED = "未评定"
# Execution-rate bands (执行率, %): [low, high) except the 90–100 band, which includes 100.
RATE_BANDS = (
    ("低于60%", None, Decimal("60")),
    ("60%（含）至80%", Decimal("60"), Decimal("80")),
    ("80%（含）至90%", Decimal("80"), Decimal("90")),
    ("90%（含）至100%（含）", Decimal("90"), None),
    ("高于100%", None, None),
)
NO_RATE = "无法计算"
AGREEMENT_BANDS = ("差距在±5分以内", "差距超过±5分", "尚无复核总分")
CHART_WIDTH_CM = 15
TOP_GAPS = 10
PROGRESS_EVERY = 250
CHUNK = 500
SUBMITTED_STATES = [s for s in Assessment.State.values if s != Assessment.State.DRAFT]
COLUMNS = (
    ("序号", 6), ("预算单位", 30), ("主管部门", 20), ("类型", 12), ("项目名称", 30), ("预算数（万元）", 14),
    ("执行数（万元）", 14), ("执行率（%）", 10), ("自评分", 8), ("复核分", 8), ("等级", 6), ("整改（未完成/已完成）", 12), ("结果应用", 24),
)


MONEY = Decimal("0.0001")


def _money(value: Decimal | None) -> Decimal | None:
    """万元 to four decimals: SQLite hands back decimals at whatever precision it computed."""
    return None if value is None else value.quantize(MONEY)


def amount_text(value: Decimal) -> str:
    """A sum of 万元 for the report: four decimals at most, two at least ("3549.00", "2894.65", "12.3456")."""
    text = f"{value.quantize(MONEY):f}"
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text


def band_of(rate: Decimal | None) -> str:
    if rate is None:
        return NO_RATE
    if rate < 60:
        return RATE_BANDS[0][0]
    if rate < 80:
        return RATE_BANDS[1][0]
    if rate < 90:
        return RATE_BANDS[2][0]
    if rate <= 100:
        return RATE_BANDS[3][0]
    return RATE_BANDS[4][0]


@dataclass(frozen=True)
class SummaryRow:
    id: int
    unit: str
    supervisor: str
    kind: str
    title: str
    budget: Decimal | None
    actual: Decimal | None
    rate: Decimal | None
    self_total: Decimal | None
    review_total: Decimal | None
    grade: str  # the 复核 grade, else the 自评 grade
    self_grade: str
    review_grade: str
    result: str
    rectification_open: int = 0
    rectification_closed: int = 0

    @property
    def rectification(self) -> str:
        return f"{self.rectification_open}/{self.rectification_closed}"

    @property
    def gap(self) -> Decimal | None:
        if self.self_total is None or self.review_total is None:
            return None
        return self.review_total - self.self_total


def scope(report: RoundReport):
    """What the requester reviews of the round (and the 主管部门), handed in, in the table's order."""
    qs = permissions.reviewer_assessments(report.requested_by).filter(round=report.round_id, state__in=SUBMITTED_STATES)
    if report.supervisor:
        qs = qs.annotate(supervising=supervisors.name()).filter(supervising=report.supervisor)
    return qs.order_by("unit__name", "kind", "project_name", "pk")


def rows(queryset):
    """One SummaryRow per assessment, streamed in chunks (funding 合计 row by subqueries)."""
    total = FundingRow.objects.filter(assessment=OuterRef("pk"), source=FundingRow.TOTAL)

    def items(closed: bool):
        qs = Rectification.objects.filter(assessment=OuterRef("pk"))
        qs = qs.filter(status=Rectification.Status.CLOSED) if closed else qs.exclude(status=Rectification.Status.CLOSED)
        return Coalesce(Subquery(qs.order_by().values("assessment").annotate(n=Count("id")).values("n")[:1]), 0)

    values = queryset.annotate(
        r_open=items(False), r_closed=items(True), supervisor_label=supervisors.name(),
        f_initial=Subquery(total.values("initial_budget")[:1]),
        f_budget=Subquery(total.values("budget")[:1]),
        f_actual=Subquery(total.values("actual")[:1]),
    ).values_list(
        "pk", "unit__name", "supervisor_label", "kind", "project_name", "round__year", "f_initial", "f_budget",
        "f_actual", "self_total", "review_total", "self_grade", "review_grade", "result_application__advice",
        "result_application__reduce_percent", "r_open", "r_closed",
    )
    kinds = dict(Assessment.Kind.choices)
    for (pk, unit, supervisor, kind, project_name, year, initial, budget, actual, self_total, review_total,
         self_grade, review_grade, advice, percent, r_open, r_closed) in values.iterator(chunk_size=CHUNK):
        initial, budget, actual = _money(initial), _money(budget), _money(actual)
        rate = scoring.funding_rate(scoring.FundingInput(initial_budget=initial, budget=budget, actual=actual))
        title = f"{year}年度{project_name}绩效自评" if kind == Assessment.Kind.PROJECT else f"{year}年度部门整体支出绩效自评"
        if advice:
            result = f"核减 {percent}%" if advice == Advice.REDUCE else Advice(advice).label
        else:
            result = "未确认"
        yield SummaryRow(
            pk, unit, supervisor or "", kinds.get(kind, kind), title, budget if budget is not None else initial,
            actual, rate, self_total, review_total, review_grade or self_grade, self_grade, review_grade, result,
            r_open, r_closed,
        )


def _mean(total: Decimal, n: int) -> Decimal | None:
    return (total / n).quantize(TWO, rounding=ROUND_HALF_UP) if n else None


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(TWO, rounding=ROUND_HALF_UP) if whole else None


@dataclass
class Figures:
    """The 汇总分析报告's numbers, accumulated row by row."""

    count: int = 0
    grades: Counter = field(default_factory=Counter)
    bands: Counter = field(default_factory=Counter)
    budget_sum: Decimal = Decimal(0)
    actual_sum: Decimal = Decimal(0)
    compared: int = 0
    abs_gap_sum: Decimal = Decimal(0)
    gap_sum: Decimal = Decimal(0)
    within: int = 0
    grade_changes: Counter = field(default_factory=Counter)
    results: Counter = field(default_factory=Counter)
    rectification_open: int = 0
    rectification_closed: int = 0
    with_open_rectification: int = 0
    _top: list = field(default_factory=list)  # heap of (|gap|, -id, row): the ten largest

    def add(self, row: SummaryRow) -> None:
        self.count += 1
        self.grades[row.grade if row.grade in GRADES else UNGRADED] += 1
        self.bands[band_of(row.rate)] += 1
        if row.rate is not None:  # the overall rate over the rows whose own rate exists
            self.budget_sum += row.budget
            self.actual_sum += row.actual
        self.results[row.result] += 1
        self.rectification_open += row.rectification_open
        self.rectification_closed += row.rectification_closed
        self.with_open_rectification += row.rectification_open > 0
        gap = row.gap
        if gap is None:
            return
        self.compared += 1
        self.abs_gap_sum += abs(gap)
        self.gap_sum += gap
        self.within += abs(gap) <= AGREEMENT_POINTS
        if row.self_grade != row.review_grade:
            self.grade_changes[(row.self_grade, row.review_grade)] += 1
        item = (abs(gap), -row.id, row)
        if len(self._top) < TOP_GAPS:
            heapq.heappush(self._top, item)
        elif item[:2] > self._top[0][:2]:
            heapq.heapreplace(self._top, item)

    @property
    def overall_rate(self) -> Decimal | None:
        return scoring.funding_rate(scoring.FundingInput(budget=self.budget_sum, actual=self.actual_sum))

    @property
    def grade_table(self) -> list[tuple[str, int, Decimal | None]]:
        return [(g, self.grades[g], _percent(self.grades[g], self.count)) for g in (*GRADES, UNGRADED)]

    @property
    def band_table(self) -> list[tuple[str, int, Decimal | None]]:
        return [(b, self.bands[b], _percent(self.bands[b], self.count)) for b in [b[0] for b in RATE_BANDS] + [NO_RATE]]

    @property
    def agreement_table(self) -> list[tuple[str, int, Decimal | None]]:
        """自评 vs 复核 in bands of the gap: within ±5 points, beyond, and not yet reviewed (shares of all)."""
        return [(label, n, _percent(n, self.count)) for label, n in (
            (AGREEMENT_BANDS[0], self.within), (AGREEMENT_BANDS[1], self.compared - self.within),
            (AGREEMENT_BANDS[2], self.count - self.compared))]

    @property
    def mean_gap(self) -> Decimal | None:
        return _mean(self.abs_gap_sum, self.compared)

    @property
    def mean_signed_gap(self) -> Decimal | None:
        return _mean(self.gap_sum, self.compared)

    @property
    def within_percent(self) -> Decimal | None:
        return _percent(self.within, self.compared)

    @property
    def change_table(self) -> list[tuple[str, str, int]]:
        order = {g: n for n, g in enumerate((*GRADES, ""))}
        return [(old, new, n) for (old, new), n in sorted(
            self.grade_changes.items(), key=lambda kv: (order.get(kv[0][0], 9), order.get(kv[0][1], 9)))]

    @property
    def largest_gaps(self) -> list[SummaryRow]:
        return [row for _, _, row in sorted(self._top, key=lambda t: (-t[0], -t[1]))]

    @property
    def result_table(self) -> list[tuple[str, int]]:
        return sorted(self.results.items(), key=lambda kv: (-kv[1], kv[0]))


# --- writers --------------------------------------------------------------------------------------


def write_xlsx(path: Path, title: str, source, progress=None) -> Figures:
    """Stream the rows into a write-only workbook at `path`; returns the figures."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    figures = Figures()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("自评汇总表")
    for n, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    sheet.freeze_panes = "A3"
    heading = WriteOnlyCell(sheet, title)
    heading.font = Font(bold=True, size=14)
    sheet.append([heading])
    header = []
    for name, _ in COLUMNS:
        cell = WriteOnlyCell(sheet, name)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
        header.append(cell)
    sheet.append(header)
    formats = {5: "0.0000", 6: "0.0000", 7: "0.00", 8: "0.00", 9: "0.00"}
    for n, row in enumerate(source, start=1):
        figures.add(row)
        values = [n, row.unit, row.supervisor, row.kind, row.title, row.budget, row.actual, row.rate,
                  row.self_total, row.review_total, row.grade, row.rectification, row.result]
        cells = []
        for index, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value)
            if index in formats:
                cell.number_format = formats[index]
            cells.append(cell)
        sheet.append(cells)
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)
    workbook.save(path)
    return figures


def _text(value) -> str:
    return "—" if value is None else str(value)


def write_docx(path: Path, title: str, scope_text: str, f: Figures) -> None:
    """The 汇总分析报告: every number from `f`; each chart a PNG bar chart with a caption, above the
    table of its numbers (see ADR 0020)."""
    from io import BytesIO

    from docx import Document
    from docx.shared import Cm

    from .exports.charts_png import bar_chart

    doc = Document()
    doc.add_heading(title, level=0)
    doc.add_paragraph(f"汇总范围：{scope_text}。生成时间：{timezone.localtime().strftime('%Y-%m-%d %H:%M')}。"
                      "本报告的数字均取自绩效自评门户，可在此基础上修改。")

    def table(headers, body):
        t = doc.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, headers, strict=True):
            cell.text = text
        for values in body:
            cells = t.add_row().cells
            for cell, value in zip(cells, values, strict=True):
                cell.text = _text(value)
        return t

    figures = 0

    def chart(caption, rows_):
        """A bar chart of the (label, count, …) rows, then its caption: 图N caption."""
        nonlocal figures
        figures += 1
        png = bar_chart(caption, [r[0] for r in rows_], [r[1] for r in rows_])
        doc.add_picture(BytesIO(png), width=Cm(CHART_WIDTH_CM))
        doc.add_paragraph(f"图{figures} {caption}", style="Caption")

    doc.add_heading("一、总体情况", level=1)
    doc.add_paragraph(
        f"本次汇总自评 {f.count} 份；可计算执行率的 {f.count - f.bands[NO_RATE]} 份预算数合计 {amount_text(f.budget_sum)} 万元，"
        f"执行数合计 {amount_text(f.actual_sum)} 万元，总体预算执行率 {_text(f.overall_rate)}%。"
    )
    doc.add_heading("二、评价等级分布", level=1)
    doc.add_paragraph("等级以复核等级为准，尚未复核的以自评等级计。")
    chart("评价等级分布（份数）", f.grade_table)
    table(("等级", "份数", "占比（%）"), f.grade_table)
    doc.add_heading("三、预算执行率分布", level=1)
    chart("预算执行率分布（份数）", f.band_table)
    table(("执行率区间", "份数", "占比（%）"), f.band_table)
    doc.add_heading("四、自评与复核的一致性", level=1)
    doc.add_paragraph(
        f"已有复核总分的自评 {f.compared} 份：自评与复核总分的平均差距（绝对值）{_text(f.mean_gap)} 分，"
        f"平均差距（复核减自评）{_text(f.mean_signed_gap)} 分；差距在 ±5 分以内的 {f.within} 份，"
        f"占 {_text(f.within_percent)}%。"
    )
    chart("自评与复核总分的差距（份数）", f.agreement_table)
    table(("自评与复核", "份数", "占比（%）"), f.agreement_table)
    table(("自评等级", "复核等级", "份数"), [(old or "无", new or "无", n) for old, new, n in f.change_table] or [("无", "无", 0)])
    doc.add_heading("五、自评与复核差距最大的十份自评", level=1)
    table(("序号", "预算单位", "自评", "自评分", "复核分", "差距"),
          [(n, r.unit, r.title, r.self_total, r.review_total, r.gap) for n, r in enumerate(f.largest_gaps, start=1)])
    doc.add_heading("六、整改情况", level=1)
    doc.add_paragraph(
        f"下达整改事项 {f.rectification_open + f.rectification_closed} 项，已完成 {f.rectification_closed} 项，"
        f"未完成 {f.rectification_open} 项（涉及 {f.with_open_rectification} 份自评）。"
    )
    doc.add_heading("七、结果应用", level=1)
    table(("结果应用", "份数"), f.result_table)
    doc.save(path)


# --- the job --------------------------------------------------------------------------------------


def request(round_, user, supervisor: str = "") -> RoundReport:
    return RoundReport.objects.create(round=round_, requested_by=user, supervisor=supervisor.strip())


def build(report_id: int) -> None:
    """Build both files of the job, reporting progress; a failure is recorded on the job."""
    job = RoundReport.objects.select_related("round", "requested_by").get(pk=report_id)
    stem = f"round-{job.round.year}-{report_id}"
    names = [f"summary/{stem}.xlsx", f"summary/{stem}.docx"]
    # Written to a private temporary folder, then stored through the storage API (the local disk,
    # or the S3 bucket every web machine reads): nothing half-written is ever stored.
    with tempfile.TemporaryDirectory(prefix="portal-summary-") as tmp:
        parts = [Path(tmp) / f"{stem}.xlsx", Path(tmp) / f"{stem}.docx"]
        try:
            if job.requested_by is None:
                raise ValueError("申请人账号已删除")
            qs = scope(job)
            RoundReport.objects.filter(pk=report_id).update(status=RoundReport.Status.RUNNING, total=qs.count(), done=0)
            who = f"主管部门“{job.supervisor}”" if job.supervisor else "全部主管部门"
            figures = write_xlsx(
                parts[0], f"{job.round.title}自评汇总表（{who}）", rows(qs),
                progress=lambda n: RoundReport.objects.filter(pk=report_id).update(done=n),
            )
            write_docx(parts[1], f"{job.round.title}汇总分析报告", f"{job.round.title}，{who}，已提交的自评", figures)
            for part, name in zip(parts, names, strict=True):
                with open(part, "rb") as handle:
                    storage.put(name, handle)
        except Exception as exc:
            RoundReport.objects.filter(pk=report_id).update(
                status=RoundReport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
            )
            raise
    RoundReport.objects.filter(pk=report_id).update(
        status=RoundReport.Status.DONE, done=figures.count, xlsx=names[0], docx=names[1],
        finished_at=timezone.now(),
    )
