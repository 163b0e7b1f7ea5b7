"""The Word (.docx) copy of a public report (issue 16), for bureaus to edit and seal.

Built with python-docx from the same public read model as the page, xlsx, JSON and PDF, in the
PDF's order: the metadata block, the version, the snapshot hash and a QR code to the version's
permalink; the 自评表 (header, 资金情况, 资金结构, 年度总体目标, 绩效指标 with its header row
repeated on each page, the total row); then the 自评报告. Cell texts are the template's cells
(`columns.cell`), so they read exactly as the page does.
"""

import io
import zipfile

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from .. import columns, scoring
from ..templatetags.portal import chinese_number, funding_cell
from .pdf import permalink, qr_png
from .public import PublicReport
from .xlsx import _ZIP_TIME

FONT = "宋体"


def _style(doc) -> None:
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(18)
    section.top_margin = section.bottom_margin = Mm(18)


def _page_numbers(doc) -> None:
    """第 x 页 共 y 页 in the footer (PAGE and NUMPAGES fields, filled in by Word/WPS)."""
    paragraph = doc.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for text, field in (("第 ", "PAGE"), (" 页 共 ", "NUMPAGES"), (" 页", None)):
        paragraph.add_run(text)
        if field:
            run = paragraph.add_run()
            for kind, instr in (("begin", None), (None, f" {field} "), ("end", None)):
                if kind:
                    element = OxmlElement("w:fldChar")
                    element.set(qn("w:fldCharType"), kind)
                else:
                    element = OxmlElement("w:instrText")
                    element.set(qn("xml:space"), "preserve")
                    element.text = instr
                run._r.append(element)


def _table(doc, rows: int, cols: int):
    """A new table and its cells by row and column. `Table.cell()` rebuilds the whole grid on each
    call (quadratic in the cells: two seconds for a 40-row table); the grid is read once here."""
    table = doc.add_table(rows=rows, cols=cols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    return table, [list(row.cells) for row in table.rows]


def _repeat_header(row) -> None:
    """Word repeats a row marked tblHeader at the top of each page the table spans."""
    props = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    props.append(header)
    cant_split = OxmlElement("w:cantSplit")
    props.append(cant_split)


def _keep_rows_whole(table) -> None:
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _set(cell, text, *, bold=False, center=False) -> None:
    """Write into a new (empty) cell: one run in its paragraph."""
    paragraph = cell.paragraphs[0]
    run = paragraph.add_run(str(text) if text is not None else "")
    if bold:
        run.bold = True
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _heading(doc, text: str, size: int = 14) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold = True
    run.font.size = Pt(size)


def _meta(doc, report: PublicReport) -> None:
    rows = report.meta.rows
    table, grid = _table(doc, (len(rows) + 1) // 2, 4)
    for n, (label, text) in enumerate(rows):
        row, col = divmod(n, 2)
        _set(grid[row][col * 2], label, bold=True, center=True)
        _set(grid[row][col * 2 + 1], text)
    url = permalink(report, report.meta.version)
    paragraph = doc.add_paragraph()
    paragraph.add_run().add_picture(io.BytesIO(qr_png(url)), width=Mm(22))
    paragraph.add_run(f"  扫码或访问 {url} 核对公开版本。第 {report.meta.version} 版 · 提交快照 SHA-256：{report.meta.snapshot_sha256}")
    if report.correction:
        _heading(doc, "更正说明", 12)
        if report.correction.get("reason"):
            doc.add_paragraph(f"更正原因：{report.correction['reason']}")
        changes = report.correction.get("changes") or []
        table, grid = _table(doc, len(changes) + 1, 5)
        for col, label in enumerate(("部分", "行", "栏目", "更正前", "更正后")):
            _set(grid[0][col], label, bold=True, center=True)
        for n, c in enumerate(changes, start=1):
            for col, key in enumerate(("section", "row", "field", "before", "after")):
                _set(grid[n][col], c[key])


def _form(doc, report: PublicReport) -> None:
    view, a, spec = report.view, report.assessment, report.view.table
    _heading(doc, f"{a.round.year}年度{a.project_name if a.is_project else ''}{spec.title}", 15)
    header_rows = view.header_rows
    if header_rows:
        table, grid = _table(doc, len(header_rows), 4)
        for r, row in enumerate(header_rows):
            if len(row) == 1:
                _set(grid[r][0], row[0].label, bold=True, center=True)
                grid[r][1].merge(grid[r][3])
                _set(grid[r][1], row[0].text)
            else:
                for n, h in enumerate(row[:2]):
                    _set(grid[r][n * 2], h.label, bold=True, center=True)
                    _set(grid[r][n * 2 + 1], h.text)

    cols = view.funding_columns
    doc.add_paragraph(spec.funding_caption)
    table, grid = _table(doc, len(view.funding) + 1, len(cols) + 1)
    _set(grid[0][0], spec.funding_label_header, bold=True, center=True)
    for n, c in enumerate(cols, start=1):
        _set(grid[0][n], c.label, bold=True, center=True)
    for r, f in enumerate(view.funding, start=1):
        _set(grid[r][0], f.label)
        for n, c in enumerate(cols, start=1):
            _set(grid[r][n], funding_cell(f, c).text)

    if view.structure:
        doc.add_paragraph(spec.structure_caption)
        table, grid = _table(doc, len(view.structure) + 1, 3)
        for n, label in enumerate(spec.structure_labels):
            _set(grid[0][n], label, bold=True, center=True)
        for r, s in enumerate(view.structure, start=1):
            _set(grid[r][0], s.label)
            _set(grid[r][1], columns.amount_text(s.budget))
            _set(grid[r][2], columns.amount_text(s.actual))

    doc.add_paragraph(spec.goal_caption)
    table, grid = _table(doc, max(len(view.goals), 1) + 1, 2)
    _set(grid[0][0], spec.goal_labels[0], bold=True, center=True)
    _set(grid[0][1], spec.goal_labels[1], bold=True, center=True)
    for r, g in enumerate(view.goals, start=1):
        _set(grid[r][0], g.target)
        _set(grid[r][1], g.achieved)

    icols = view.indicator_columns
    doc.add_paragraph(spec.indicator_heading if spec.indicator_caption_weight else "绩效指标")
    table, grid = _table(doc, len(view.indicators) + 1 + (1 if view.weights_used else 0), len(icols))
    for n, c in enumerate(icols):
        _set(grid[0][n], c.label, bold=True, center=True)
    _repeat_header(table.rows[0])
    for r, line in enumerate(view.indicators, start=1):
        for n, c in enumerate(icols):
            if c.key == "level1":
                text = line.level1_caption
            elif c.key == "level2":
                text = line.level2
            else:
                text = columns.cell(line, c, "indicators").text
            _set(grid[r][n], text)
    if view.weights_used:
        last = len(view.indicators) + 1
        col = 0
        for seg in view.total_row:
            span = max(seg.span, 1)
            if span > 1:
                grid[last][col].merge(grid[last][col + span - 1])
            text = {
                "label": "总分", "label_grade": f"总分（等级：{view.grade}）" if view.grade else "总分",
                "weight": scoring.fmt_weight(view.result.weight_total) if view.result.weight_total is not None else "",
                "score": scoring.fmt(view.total) if view.total is not None else "",
                "grade": f"等级：{view.grade}" if view.grade else "",
            }.get(seg.kind, "")
            _set(grid[last][col], text, bold=seg.kind.startswith("label"))
            col += span
    _keep_rows_whole(table)

    for b in view.blocks:
        doc.add_paragraph(f"{b.title}：{b.body}")
    for h in view.footer:
        doc.add_paragraph(f"{h.label}：{h.text}")
    if report.review_total is not None:
        doc.add_paragraph(f"财政复核总分 {scoring.fmt(report.review_total)}（{report.review_grade}）")

    if view.project_expenses:
        doc.add_paragraph("项目支出明细")
        table, grid = _table(doc, len(view.project_expenses) + 1, 4)
        for n, label in enumerate(("项目名称", "年初预算（万元）", "实际支出（万元）", "说明")):
            _set(grid[0][n], label, bold=True, center=True)
        for r, p in enumerate(view.project_expenses, start=1):
            _set(grid[r][0], p.name)
            _set(grid[r][1], columns.amount_text(p.budget))
            _set(grid[r][2], columns.amount_text(p.actual))
            _set(grid[r][3], p.note)


def _report(doc, report: PublicReport) -> None:
    view, spec = report.view, report.view.table
    if not spec.sections:
        return
    doc.add_page_break()
    _heading(doc, spec.report_title, 15)
    if report.assessment.is_project and not view.has_report:
        doc.add_paragraph("（本项目自评表未附文字报告）")
        return
    for s in view.sections:
        paragraph = doc.add_paragraph()
        paragraph.add_run(f"{chinese_number(s.number)}、{s.title}").bold = True
        for text in (s.body or "无").split("\n"):
            doc.add_paragraph(text)


def build(report: PublicReport):
    doc = Document()
    _style(doc)
    _page_numbers(doc)
    props = doc.core_properties
    a, meta = report.assessment, report.meta
    props.title = f"{a.unit.name}{a.title}"
    props.author = meta.publisher if meta else a.unit.name
    props.identifier = meta.identifier or "" if meta else ""
    props.subject = meta.theme if meta else ""
    props.version = str(meta.version) if meta else "1"
    props.keywords = f"索引号 {meta.identifier}; 提交快照 SHA-256 {meta.snapshot_sha256}" if meta else ""
    props.comments = ""
    props.last_modified_by = ""
    if meta and meta.modified:
        props.created = props.modified = meta.modified.replace(microsecond=0)
    props.revision = 1
    _heading(doc, f"{a.unit.name}{a.title}", 16)
    byline = doc.add_paragraph(report.byline)
    byline.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if meta:
        _meta(doc, report)
    _form(doc, report)
    _report(doc, report)
    return doc


def to_bytes(report: PublicReport) -> bytes:
    """The .docx; equal content gives equal bytes (python-docx stamps each zip entry with the time
    of writing: the entries are copied with one fixed time, as the xlsx writer does)."""
    written = io.BytesIO()
    build(report).save(written)
    out = io.BytesIO()
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            stable = zipfile.ZipInfo(entry.filename, date_time=_ZIP_TIME)
            stable.compress_type = zipfile.ZIP_DEFLATED
            stable.external_attr = 0o600 << 16
            target.writestr(stable, source.read(entry.filename))
    return out.getvalue()
