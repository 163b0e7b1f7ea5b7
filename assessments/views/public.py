"""Public disclosure pages: anyone, no login, no session, cached."""

import csv
import io
import json
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache, caches
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from .. import exporting, figures, history
from ..exports.public import build_public
from ..models import Assessment, Region, Round, Transition, Unit
from ..readmodel import with_content

PAGE_SIZE = 20
CACHE_SECONDS = 300
LOCAL_CACHE_SECONDS = 60
SEARCH_COUNT_CAP = 100
CSV_COLUMNS = [
    ("id", "编号"), ("year", "年度"), ("region", "地区"), ("unit", "单位"), ("kind", "类型"), ("title", "名称"),
    ("level1", "一级指标"), ("level2", "二级指标"), ("name", "三级指标"), ("target", "指标值"), ("actual", "实际完成值"),
    ("weight", "分值"), ("score", "得分"), ("review_score", "复核得分"), ("reason", "偏差原因"),
]


def public_page(view):
    """Anonymous, cached server-side per URL until the next publish/unpublish, and cacheable downstream."""

    @login_not_required
    @require_safe
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        key = f"disclosure:{exporting.public_cache_generation()}:{request.get_full_path()}"
        # A per-process copy in front of the shared cache: a hit costs no network round trip.
        hit = local_cache.get(key)
        if hit is None:
            hit = cache.get(key)
            if hit is not None:
                local_cache.set(key, hit, LOCAL_CACHE_SECONDS)
        if hit is not None:
            status, content_type, body, extra = hit
            response = HttpResponse(body, status=status, content_type=content_type)
            for name, value in extra.items():
                response[name] = value
        else:
            response = view(request, *args, **kwargs)
            if not response.streaming and response.status_code in (200, 404, 410):
                extra = {k: response[k] for k in ("Content-Disposition",) if response.has_header(k)}
                entry = (response.status_code, response["Content-Type"], response.content, extra)
                cache.set(key, entry, CACHE_SECONDS)
                local_cache.set(key, entry, LOCAL_CACHE_SECONDS)
        patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
        return response

    return wrapper


local_cache = caches["public_local"]


def published():
    return Assessment.objects.filter(state=Assessment.State.PUBLISHED, confidential=False)


class SearchPaginator(Paginator):
    """Counts a search's matches only up to a cap: a phrase found in most reports would
    otherwise make every page read every report's text just to print the total."""

    capped = False

    @property
    def count(self):
        if not hasattr(self, "_capped_count"):
            n = self.object_list[: SEARCH_COUNT_CAP + 1].count()
            self.capped = n > SEARCH_COUNT_CAP
            self._capped_count = min(n, SEARCH_COUNT_CAP)
        return self._capped_count


def _filter_options() -> dict:
    """Years, regions and units offered by the list's filters: they change only on publish or
    unpublish, so they are kept under the public cache generation."""
    key = f"disclosure-options:{exporting.public_cache_generation()}"
    options = cache.get(key)
    if options is None:
        shown = published()
        options = {
            "years": list(
                Round.objects.filter(Exists(shown.filter(round=OuterRef("pk")))).order_by("-year").values_list("year", flat=True)
            ),
            "regions": list(
                Region.objects.filter(level__in=[Region.Level.CITY, Region.Level.DISTRICT]).order_by("level", "name").values("pk", "name")
            ),
            "units": list(Unit.objects.filter(Exists(shown.filter(unit=OuterRef("pk")))).order_by("name").values("pk", "name")),
        }
        cache.set(key, options, CACHE_SECONDS)
    return options


def _filtered(request):
    # The index assessment_public_idx serves this order; the search text is never shown.
    qs = published().select_related("unit__region__parent__parent", "round", "publication").defer("publication__search_text")
    f = {k: request.GET.get(k, "").strip() for k in ("year", "region", "unit", "kind", "q")}
    if f["year"].isdigit():
        qs = qs.filter(round__year=int(f["year"]))
    if f["region"].isdigit():
        r = int(f["region"])
        qs = qs.filter(Q(unit__region_id=r) | Q(unit__region__parent_id=r) | Q(unit__region__parent__parent_id=r))
    if f["unit"].isdigit():
        qs = qs.filter(unit_id=int(f["unit"]))
    if f["kind"] in Assessment.Kind.values:
        qs = qs.filter(kind=f["kind"])
    if f["q"]:
        qs = qs.filter(publication__search_text__icontains=f["q"][:100])
    return qs.order_by("-published_at", "-pk"), f


def _summary(a) -> dict:
    return {
        "id": a.pk,
        "kind": a.kind,
        "year": a.round.year,
        "unit": {"name": a.unit.name, "region": a.unit.region.full_name},
        "title": a.title,
        "published_at": a.published_at.isoformat() if a.published_at else None,
        "total_score": None if a.self_total is None else f"{a.self_total:.2f}",
        "review_total_score": None if a.review_total is None else f"{a.review_total:.2f}",
        "grade": a.review_grade or a.self_grade or None,
        "url": reverse("disclosure:detail", args=[a.pk]),
        "xlsx": reverse("disclosure:xlsx", args=[a.pk]),
        "json": reverse("disclosure:json", args=[a.pk]),
    }


@public_page
def disclosure_list(request):
    qs, f = _filtered(request)
    page = (SearchPaginator if f["q"] else Paginator)(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "filters": f,
        "query": params.urlencode(),
        **_filter_options(),
        # For one region and year: execution rate and total score per unit (one query).
        "charts": figures.public_units(qs) if f["year"].isdigit() and f["region"].isdigit() else [],
    }
    return render(request, "public/list.html", context)


@public_page
def disclosure_list_json(request):
    qs, f = _filtered(request)
    results = [_summary(a) for a in qs]
    return JsonResponse({"count": len(results), "results": results}, json_dumps_params={"ensure_ascii": False})


@public_page
def disclosure_list_csv(request):
    """One row per indicator across every published report, from the stored JSON documents."""
    qs, f = _filtered(request)
    out = io.StringIO()
    out.write("\ufeff")  # so that Excel/WPS open the UTF-8 file as such
    writer = csv.writer(out)
    writer.writerow([label for _, label in CSV_COLUMNS])
    for a in qs:
        doc = _stored_json(a)
        for row in doc["indicators"]:
            values = {
                "id": doc["id"], "year": doc["year"], "region": doc["unit"]["region"], "unit": doc["unit"]["name"],
                "kind": dict(Assessment.Kind.choices)[doc["kind"]], "title": doc["title"], **row,
            }
            writer.writerow([_csv_safe(values.get(key)) for key, _ in CSV_COLUMNS])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="disclosure.csv"'
    return response


def _csv_safe(value):
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


def _stored_json(a) -> dict:
    with open(Path(settings.MEDIA_ROOT) / a.publication.json.name, encoding="utf-8") as handle:
        return json.load(handle)


def _published_or_gone(pk: int, *, content: bool = False):
    """The published assessment, or a 410 page if it was withdrawn from public view, else 404.

    ``content=True`` fetches its rows too (one fetch for the whole page)."""
    qs = published().select_related("unit", "round", "publication").defer("publication__search_text")
    a = (with_content(qs) if content else qs).filter(pk=pk).first()
    if a is not None and hasattr(a, "publication"):
        return a, None
    if Transition.objects.filter(assessment_id=pk, action="unpublish").exists() and not published().filter(pk=pk).exists():
        return None, "gone"
    raise Http404


def _gone(request):
    return render(request, "public/gone.html", status=410)


@public_page
def disclosure_detail(request, pk):
    a, gone = _published_or_gone(pk, content=True)
    if gone:
        return _gone(request)
    report = build_public(a)
    return render(
        request,
        "public/detail.html",
        {
            "report": report,
            "view": report.view,
            "a": report.assessment,
            "funding_chart": figures.funding(report.view),
            # Earlier years only from published, non-涉密 reports of the same unit.
            "year_history": history.for_page(report.view, public=True),
        },
    )


@login_not_required
@require_safe
def disclosure_file(request, pk, fmt):
    a, gone = _published_or_gone(pk)
    if gone:
        return _gone(request)
    stored = getattr(a.publication, fmt)
    path = Path(settings.MEDIA_ROOT) / stored.name
    if not path.exists():
        raise Http404
    content_type = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "json": "application/json; charset=utf-8",
    }[fmt]
    response = FileResponse(
        open(path, "rb"), content_type=content_type, as_attachment=(fmt == "xlsx"),
        filename=f"{a.round.year}-{a.unit.short_name or a.unit.name}-{a.title}.{fmt}",
    )
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response
