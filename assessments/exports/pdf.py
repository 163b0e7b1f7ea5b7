"""The PDF of a public report (issue 16): A4, the 自评表 in its template's layout, then the 自评报告.

Rendered by WeasyPrint from the same public read model as the page, the xlsx and the JSON, with
the template the page uses for the form (`includes/paper_form.html`) and a print stylesheet
(`public/pdf/report.css`): the indicator table's header row repeats on each page, no row is split
across pages, and each page says "第 x 页 共 y 页". The metadata block, the version, the hash of
the submitted snapshot and a QR code to the permalink come first, so that a printed or sealed copy
can be checked against the published version. The CJK font (Noto CJK, Debian's fonts-noto-cjk) is
embedded as a subset; the text stays extractable (pdftotext).
"""

import io

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from .public import PublicReport


def permalink(report: PublicReport, version: int | None = None) -> str:
    base = settings.PORTAL_BASE_URL.rstrip("/")
    if version is None:
        return base + reverse("disclosure:detail", args=[report.assessment.pk])
    return base + reverse("disclosure:version", args=[report.assessment.pk, version])


def qr_svg_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=1)


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=6, border=1)
    return out.getvalue()


def html(report: PublicReport) -> str:
    version = report.meta.version if report.meta else 1
    url = permalink(report, version)
    return render_to_string(
        "public/pdf/report.html",
        {"report": report, "view": report.view, "a": report.assessment, "meta": report.meta,
         "permalink": url, "qr": qr_svg_data_uri(url), "byline": report.byline},
    )


def to_bytes(report: PublicReport) -> bytes:
    from weasyprint import HTML  # loads pango: only where exports run

    document = HTML(string=html(report), base_url=str(settings.BASE_DIR)).render()
    meta = report.meta
    document.metadata.title = f"{report.assessment.unit.name}{report.assessment.title}"
    document.metadata.authors = [meta.publisher] if meta else []
    document.metadata.keywords = [meta.theme, meta.identifier or ""] if meta else []
    document.metadata.created = document.metadata.modified = (
        meta.modified.isoformat() if meta and meta.modified else None
    )
    return document.write_pdf()
