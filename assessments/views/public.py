"""Public disclosure pages: anyone, no login, no session, cached."""

from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache, caches
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from .. import exporting, figures, history, personal_data
from ..exports import lists
from ..exports.public import build_public
from ..models import Assessment, Region, Round, Transition, Unit
from ..readmodel import with_content

PAGE_SIZE = 20
CACHE_SECONDS = 300
LOCAL_CACHE_SECONDS = 60
SEARCH_COUNT_CAP = 100


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


published = lists.published


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
    qs = published()
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
    return lists.listed(qs), f


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
    return _list_response(request, "json")


@public_page
def disclosure_list_csv(request):
    """One row per indicator across every published report, from the stored JSON documents."""
    return _list_response(request, "csv")


def _list_response(request, fmt: str):
    content_type = {"json": "application/json", "csv": "text/csv; charset=utf-8"}[fmt]
    stored = exporting.list_file(fmt) if not request.GET else None
    if stored is not None:
        # The whole portal's list, written after the last publish or unpublish.
        response = FileResponse(open(stored, "rb"), content_type=content_type)
    else:
        qs, _ = _filtered(request)
        response = HttpResponse(lists.json_bytes(qs) if fmt == "json" else lists.csv_bytes(qs), content_type=content_type)
    if fmt == "csv":
        response["Content-Disposition"] = 'attachment; filename="disclosure.csv"'
    return response


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
        filename=personal_data.mask(f"{a.round.year}-{a.unit.short_name or a.unit.name}-{a.title}.{fmt}"),
    )
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response
