"""The PDF and Word copies of a public report (issue 16): built by the export job from the public
read model; A4, the indicator table's header repeated on each page, no row split, 第 x 页 共 y 页,
every indicator extractable (pdftotext), the version, the snapshot hash and the permalink; the
Word file opens with python-docx and holds every value of the JSON document."""

import io
import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import docx
import pytest
from django.conf import settings
from django.urls import reverse

from assessments import exporting
from assessments.models import FundingRow, Indicator, Publication, ReportSection
from assessments.services import create_assessment, refresh_scores

from .helpers import body
from .test_access_matrix import drive, make_reviewer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("print_copies"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed"),
]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def _level(n: int) -> tuple[str, str, int]:
    """一级, 二级 and 分值 of row n: 产出 25 × 2 = 50, 效益 10 × 3 = 30, 满意度 5 × 2 = 10 (+ 10 for funding)."""
    if n < 25:
        return "产出指标", ("数量指标", "质量指标", "时效指标")[n // 9], 2
    if n < 35:
        return "效益指标", "社会效益指标", 3
    return "满意度指标", "服务对象满意度指标", 2


ROWS = [
    (*_level(n)[:2], f"第{n + 1:02d}项指标（{'培训宣传' if n % 2 else '矛盾纠纷排查'}）", f"≥{10 + n}次", f"{10 + n}次", _level(n)[2])
    for n in range(40)
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def forty(unit_a, round_2020, alice):
    """A published project report of 40 indicator rows and a three-section 自评报告."""
    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project", project_name="平安建设四十项", user=alice)
    FundingRow.objects.filter(assessment=a, source="total").update(initial_budget=100, budget=100, actual=95)
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=name, target=t, actual=ac, weight=w)
        for n, (l1, l2, name, t, ac, w) in enumerate(ROWS, start=1)
    )
    for n, section in enumerate(ReportSection.objects.filter(assessment=a).order_by("id"), start=1):
        section.body = f"第{n}部分。" + "本单位按照年度绩效目标组织实施，资金使用规范，绩效目标基本完成。" * 3
        section.save()
    refresh_scores(a)
    a.refresh_from_db()
    return drive(a, "published", officer=alice, reviewer=make_reviewer("carol", unit_a))


def pdftotext(path: Path) -> list[str]:
    """The text of each page in drawing order (a cell's lines together) with all white space removed."""
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return ["".join(page.split()) for page in text.split("\f")[:-1]]


def test_pdf_of_a_40_row_report(client, forty, media):
    publication = Publication.objects.get(assessment=forty)
    response = client.get(reverse("disclosure:pdf", args=[forty.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = body(response)
    assert data.startswith(b"%PDF-")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / "report-40-rows.pdf"
    pdf.write_bytes(data)
    if shutil.which("pdftoppm"):  # the PDF rendered to PNG, one file a page, kept as a test artifact
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(ARTIFACTS / "report-40-rows")], check=True)

    pages = pdftotext(pdf)
    assert len(pages) == EXPECTED_PAGES
    for n, page in enumerate(pages, start=1):
        assert f"第{n}页共{len(pages)}页" in page
    # The indicator table's header row is repeated at the top of each page it spans (1 to 3).
    assert ["一级指标二级指标三级指标" in page for page in pages] == [True, True, True, False]
    found = []
    for _, _, name, target, actual, _ in ROWS:
        holding = [n for n, page in enumerate(pages, start=1) if name in page]
        assert len(holding) == 1, name  # found, and on one page only: no row split across pages
        assert f"{target}{actual}" in pages[holding[0] - 1], name  # the row's cells together
        found.append(holding[0])
    assert found == sorted(found) and found[0] == 1 and found[-1] == EXPECTED_PAGES - 1
    assert "项目绩效自评报告一、" in pages[2] and "十一、" in pages[3]  # the 自评报告 after the table
    flat = "".join(pages)
    assert forty.index_number in pages[0]
    assert "第1版" in pages[0]
    assert publication.snapshot_sha256 in pages[0]
    assert f"http://127.0.0.1:8000/disclosure/{forty.pk}/v1/" in pages[0]  # beside the QR code
    # The total row (总分, 分值 100, 得分 99.50) once, at the end: not repeated on each page.
    assert flat.count("总分10099.50等级：优") == 1 and "总分10099.50等级：优" in pages[-2]


# A4 portrait: page 1 holds the metadata block, the QR code, the header, funding and goal tables
# and the first rows; the 40 rows (each name wrapping onto two lines in the 三级指标 column) and
# the total row fill the rest, the project table's (empty) 自评报告 closing the last page.
EXPECTED_PAGES = 4


def test_exporting_again_gives_the_same_pdf_and_word_bytes(forty):
    before = Publication.objects.get(assessment=forty)
    exporting.write_files(forty.pk)
    after = Publication.objects.get(assessment=forty)
    assert (after.pdf_sha256, after.docx_sha256, after.json_sha256, after.xlsx_sha256) == (
        before.pdf_sha256, before.docx_sha256, before.json_sha256, before.xlsx_sha256)
    assert len(after.pdf_sha256) == len(after.docx_sha256) == 64


def test_docx_opens_and_holds_every_value_of_the_json(client, forty):
    response = client.get(reverse("disclosure:docx", args=[forty.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    document = docx.Document(io.BytesIO(body(response)))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts += [cell.text for cell in row.cells]
    text = "\n".join(texts)
    doc = json.loads(body(client.get(reverse("disclosure:json", args=[forty.pk]))))

    def values(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in NOT_PRINTED:
                    yield from values(value)
        elif isinstance(node, list):
            for value in node:
                yield from values(value)
        elif isinstance(node, str) and node:
            yield node

    def printed(value: str) -> bool:
        """As typed, or as the form prints a weight ("10.00" is 分值 "10")."""
        return value in text or (WEIGHT.fullmatch(value) is not None and f"{Decimal(value).normalize():f}" in text)

    missing = sorted({v for v in values(doc) if not printed(v)})
    assert missing == [], "|".join(missing)
    assert document.core_properties.identifier == forty.index_number
    assert document.core_properties.version == "1"
    # The indicator table's header row repeats on each page (w:tblHeader).
    indicator_table = next(t for t in document.tables if t.rows[0].cells[0].text == "一级指标")
    assert indicator_table.rows[0]._tr.trPr.xpath("./w:tblHeader")
    assert len(indicator_table.rows) == 1 + 40 + 1


WEIGHT = re.compile(r"\d+\.\d\d")

# Keys of the JSON document that name things rather than say them: codes, keys, lineages, enum
# values and machine formats (their printed form is checked through the labels and values above).
NOT_PRINTED = {
    "kind", "layout", "code", "key", "lineage", "source", "item", "outcome", "operator", "published_at", "issued",
    "modified", "access_rights", "score_entered", "suggested_score", "target_text", "actual_text",
}
