"""The floors of the PDF and Word copies of a report (issue 16): the same library rendering a
minimal document of the same length.

PDF: WeasyPrint laying out the report's text — every text node of the portal's PDF HTML, in order
— as plain paragraphs in the same A4 page box and the same CJK font, with no table, no metadata
block, no QR code and no running header or page counter. What remains is the cost of shaping,
breaking and embedding that much CJK text with WeasyPrint, which the portal cannot go below.

Word: python-docx writing the same texts, one paragraph each, into a fresh document and saving it:
what the library costs for that much content with no table, no style, no picture.
"""

import html
import io
import re

_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.S)

FLOOR_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 10pt; line-height: 1.45; }
p { margin: 0 0 2pt; }
"""


def texts(report_html: str) -> list[str]:
    """The text nodes of the portal's PDF HTML, in document order (its <head> left out)."""
    body = report_html.split("<body>", 1)[-1]
    return [t for t in (html.unescape(part).strip() for part in _TAGS.split(body) if part) if t]


def pdf_floor_html(parts: list[str]) -> str:
    paragraphs = "".join(f"<p>{html.escape(t)}</p>" for t in parts)
    return f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><style>{FLOOR_CSS}</style></head><body>{paragraphs}</body></html>"


def pdf_floor(floor_html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=floor_html).write_pdf()


def docx_floor(parts: list[str]) -> bytes:
    from docx import Document

    document = Document()
    for text in parts:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
