"""The lists of published reports: ``disclosure.json`` (one summary per report) and
``disclosure.csv`` (one row per indicator, read from the stored JSON documents).

The views build them for a filtered request, a bounded page at a time; for the whole portal
they are written once per publish generation as files (`exporting.write_lists`), because the
complete CSV of a province is over a hundred megabytes and takes seconds to build.
"""

import csv
import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from portal import storage

from .. import personal_data, sqlwords
from ..models import Assessment

CSV_COLUMNS = [
    ("id", "编号"), ("year", "年度"), ("region", "地区"), ("unit", "单位"), ("kind", "类型"), ("title", "名称"),
    ("level1", "一级指标"), ("level2", "二级指标"), ("name", "三级指标"), ("target", "指标值"), ("actual", "实际完成值"),
    ("weight", "分值"), ("score", "得分"), ("review_score", "复核得分"), ("reason", "偏差原因"),
    ("identifier", "索引号"), ("version", "版本"),
]
KIND_LABELS = dict(Assessment.Kind.choices)


def published():
    # The state written into the statement: one plan for it, with the partial index (sqlwords).
    return Assessment.objects.filter(sqlwords.equals("state", Assessment.State.PUBLISHED), confidential=False)


def listed(qs=None):
    """Published reports as the lists show them: newest publication first (assessment_public_idx)."""
    qs = published() if qs is None else qs
    return (
        qs.select_related("unit__region__parent__parent", "round", "publication")
        .defer("publication__search_text")
        .order_by("-published_at", "-pk")
    )


def summary(a) -> dict:
    return {
        "id": a.pk,
        "kind": a.kind,
        "year": a.round.year,
        "unit": {"name": a.unit.name, "region": a.unit.region.full_name},
        "title": personal_data.mask(a.title),
        "published_at": a.published_at.isoformat() if a.published_at else None,
        "total_score": None if a.self_total is None else f"{a.self_total:.2f}",
        "review_total_score": None if a.review_total is None else f"{a.review_total:.2f}",
        "grade": a.review_grade or a.self_grade or None,
        "identifier": a.index_number,
        "version": a.publication.version,
        "url": reverse("disclosure:detail", args=[a.pk]),
        "xlsx": reverse("disclosure:xlsx", args=[a.pk]),
        "json": reverse("disclosure:json", args=[a.pk]),
    }


def json_bytes(qs, *, page: int | None = None, next_url: str | None = None) -> bytes:
    """The list document; a page of a filtered list also says its number and the next page's URL."""
    results = [summary(a) for a in qs]
    doc = {"count": len(results), "results": results}
    if page is not None:
        doc.update(page=page, next=next_url)
    return json.dumps(doc, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


def csv_bytes(qs) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # so that Excel/WPS open the UTF-8 file as such
    writer = csv.writer(out)
    writer.writerow([label for _, label in CSV_COLUMNS])
    for a in qs:
        doc = stored_json(a)
        for row in doc["indicators"]:
            values = {
                "id": doc["id"], "year": doc["year"], "region": doc["unit"]["region"], "unit": doc["unit"]["name"],
                "kind": KIND_LABELS[doc["kind"]], "title": doc["title"], **row,
                "identifier": doc.get("identifier"), "version": doc.get("version"),
            }
            writer.writerow([csv_safe(values.get(key)) for key, _ in CSV_COLUMNS])
    return out.getvalue().encode("utf-8")


def csv_safe(value):
    """Text that a spreadsheet would run as a formula is written with a leading apostrophe."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def stored_json(a) -> dict:
    return json.loads(storage.read_bytes(a.publication.json.name))
