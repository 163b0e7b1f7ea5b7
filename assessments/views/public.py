"""Public disclosure pages: anyone, no login, no session, cached.

What may be cached is decided from the validated parameters (`assessments.params`), never from
the raw query string: parameters a view does not know are ignored, so ``?rt=1`` … ``?rt=30``
are one page and one cache entry, and the whole-portal lists are the prebuilt files whatever the
query string says. A page is kept (in the shared cache, and a small copy per process) only when
each of its filter values is one the list offers; free-text searches are never kept. Downstream
caches may store public pages but must revalidate them every time (``no-cache`` with an ETag),
so a withdrawn report is gone for them as soon as it is gone here.
"""

import hashlib
import json
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache, caches
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, get_conditional_response, patch_cache_control
from django.views.decorators.http import require_safe

from portal import jinja2, storage

from .. import (
    childrows,
    exporting,
    figures,
    history,
    params,
    personal_data,
    publishing,
    readmodel,
    rectification,
)
from ..exports import lists
from ..exports import public as public_export
from ..exports.public import build_public
from ..models import Assessment, PublishedVersion, Region, Round, Unit

PAGE_SIZE = 20
# Reports per page of a filtered disclosure.json / disclosure.csv (the whole portal's are files).
LIST_PAGE_SIZE = 200
CACHE_SECONDS = 300
LOCAL_CACHE_SECONDS = 60
SEARCH_COUNT_CAP = 100
# A page larger than this is not copied into each process (a list page of the benchmark's
# province is 209 KiB, a detail page 53 KiB); larger than SHARED_ENTRY_MAX_BYTES, not kept at all.
LOCAL_ENTRY_MAX_BYTES = 256 * 1024
SHARED_ENTRY_MAX_BYTES = 4 * 1024 * 1024
CACHED_STATUSES = (200, 410)  # a 404 is cheap to answer and its ids are unbounded: never kept

LIST_FILTERS = {
    "year": params.Int(1, 9999),
    "region": params.Int(),
    "unit": params.Int(),  # links to one unit's reports (the form sends unit_name)
    "unit_name": params.Text(100),
    "kind": params.Choice(Assessment.Kind.values),
    "q": params.Text(100),
}
LIST_PARAMS = {**LIST_FILTERS, "page": params.PAGE}
UNIT_SUGGESTIONS = 20
UNIT_SUGGEST_PARAMS = {"q": params.Text(100)}


def public_page(spec: dict | None = None, *, storable=None):
    """Anonymous and cached per view and validated parameters until the next publish or unpublish.

    The view is called as ``view(request, p, *args)`` with ``p`` the parameters read with `spec`;
    ``storable(p)`` says whether its answer may be kept (default: always), and a view can refuse
    one answer by setting ``response.public_cache = False``.
    """
    spec = spec or {}

    def decorate(view):
        @login_not_required
        @require_safe
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            p = params.read(request.GET, spec)
            keep = storable is None or storable(p)
            key = f"public:{exporting.public_cache_generation()}:{request.path}?{params.canonical(p)}"
            hit = _get(key) if keep else None
            if hit is not None:
                status, content_type, body, extra, etag = hit
                response = HttpResponse(body, status=status, content_type=content_type)
                for name, value in extra.items():
                    response[name] = value
            else:
                response = view(request, p, *args, **kwargs)
                etag = None
                if not response.streaming and response.status_code in CACHED_STATUSES:
                    etag = f'"{hashlib.md5(response.content, usedforsecurity=False).hexdigest()}"'
                    if keep and getattr(response, "public_cache", True):
                        extra = {k: response[k] for k in ("Content-Disposition", "Link") if response.has_header(k)}
                        _set(key, (response.status_code, response["Content-Type"], response.content, extra, etag))
            return _downstream(request, response, etag)

        return wrapper

    return decorate


def _get(key):
    """The cached page: the process's own copy first, then the shared cache."""
    local = caches["public_local"]
    hit = local.get(key)
    if hit is None:
        hit = cache.get(key)
        if hit is not None and len(hit[2]) <= LOCAL_ENTRY_MAX_BYTES:
            local.set(key, hit, LOCAL_CACHE_SECONDS)
    return hit


def _set(key, entry):
    size = len(entry[2])
    if size <= SHARED_ENTRY_MAX_BYTES:
        cache.set(key, entry, CACHE_SECONDS)
    if size <= LOCAL_ENTRY_MAX_BYTES:
        caches["public_local"].set(key, entry, LOCAL_CACHE_SECONDS)


def _downstream(request, response, etag=None):
    """Caches between us and the reader may keep a public answer but must ask again each time
    (a withdrawn report must not outlive its withdrawal there); the ETag makes asking cheap."""
    if response.status_code == 304:
        return response
    if response.status_code not in (*CACHED_STATUSES, 404):
        add_never_cache_headers(response)
        return response
    patch_cache_control(response, public=True, no_cache=True)
    if etag:
        response["ETag"] = etag
        conditional = get_conditional_response(request, etag=etag, response=response)
        if conditional is not response and getattr(response, "file_to_stream", None) is not None:
            # 304 Not Modified: the file is not sent. Close it alone: response.close() would also
            # signal the end of the request (and close the database connection) mid-request.
            response.file_to_stream.close()
        return conditional
    return response


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
    """Years and regions offered by the list's filters: they change only on publish or
    unpublish, so they are kept under the public cache generation."""
    key = f"disclosure-options:{exporting.public_cache_generation()}"
    options = caches["public_local"].get(key)
    if options is not None:
        return options
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
        }
        cache.set(key, options, CACHE_SECONDS)
    caches["public_local"].set(key, options, LOCAL_CACHE_SECONDS)
    return options


def _offered(p) -> bool:
    """Whether a list's answer may be kept: no free-text search, and each filter value one that
    the list offers (so the number of kept pages is bounded by the published data)."""
    if p.q is not None or p.unit_name is not None:
        return False
    if p.year is None and p.region is None and p.unit is None:
        return True
    options = _filter_options()
    return (
        (p.year is None or p.year in options["years"])
        and (p.region is None or any(r["pk"] == p.region for r in options["regions"]))
        and (p.unit is None or published().filter(unit_id=p.unit).exists())
    )


def _filtered(p):
    qs = published()
    if p.year is not None:
        qs = qs.filter(round__year=p.year)
    if p.region is not None:
        r = p.region
        qs = qs.filter(Q(unit__region_id=r) | Q(unit__region__parent_id=r) | Q(unit__region__parent__parent_id=r))
    if p.unit is not None:
        qs = qs.filter(unit_id=p.unit)
    elif p.unit_name is not None:
        exact = _published_unit(p.unit_name)
        if exact is not None:  # a name as suggested (or as a link showed it): that unit alone
            qs = qs.filter(unit_id=exact)
        else:
            qs = qs.filter(Q(unit__name__icontains=p.unit_name) | Q(unit__short_name__icontains=p.unit_name))
    if p.kind is not None:
        qs = qs.filter(kind=p.kind)
    if p.q is not None:
        qs = qs.filter(publication__search_text__icontains=p.q)
    return lists.listed(qs)


# Every published report, as the unfiltered list reads it (issue 17).
_LISTED = childrows.Statement(lambda: lists.listed())
_LISTED_COUNT = childrows.Statement(lambda: childrows.counting(lists.published()))


@public_page(LIST_PARAMS, storable=_offered)
def disclosure_list(request, p):
    if p.unit is None and p.unit_name is not None:
        exact = _published_unit(p.unit_name)
        if exact is not None:  # one unit, by its full name: its canonical (and kept) page
            return redirect(f"{request.path}?{params.canonical({**p, 'unit': exact, 'unit_name': None, 'page': None})}")
    if all(p[name] is None for name in LIST_FILTERS):
        # The whole list (most visits): counted and read a page at a time by statements compiled once.
        qs = None
        page = Paginator(childrows.Paged(_LISTED.all, count=lambda: sum(_LISTED_COUNT.all())), PAGE_SIZE).get_page(p.page)
    else:
        qs = _filtered(p)
        page = (SearchPaginator if p.q else Paginator)(qs, PAGE_SIZE).get_page(p.page)
    context = {
        "page": page,
        "filters": p.as_form(),
        "query": params.canonical(p, without=("page",)),
        **_filter_options(),
        # The 单位 filter is a text box that suggests names as one types (unit_suggest), not a list
        # of every unit with a published report (3,000 in the benchmark's province).
        "unit_name": p.unit_name or _unit_name(p.unit),
        # For one region and year: execution rate and total score per unit (one query).
        "charts": figures.public_units(qs) if p.year is not None and p.region is not None else [],
    }
    # The rows and the ~140 regions offered: a Jinja2 template (ADR 0023), rendered where the page places them.
    links = {f"{name}_link": params.pk_link(f"disclosure:{name}") for name in ("detail", "xlsx", "json")}
    for part in ("rows", "regions"):
        context[f"{part}_html"] = jinja2.part("public/list_parts.html", {**context, **links, "part": part})
    response = render(request, "public/list.html", context)
    # A page number past the end shows the last page: answered, but not kept under that number.
    response.public_cache = p.page is None or page.number == p.page
    return response


def _published_unit(name: str) -> int | None:
    """The unit with a published report whose full name is exactly `name`."""
    return Unit.objects.filter(name=name, assessments__in=published()).values_list("pk", flat=True).first()


def _unit_name(pk):
    if pk is None:
        return ""
    return Unit.objects.filter(pk=pk, assessments__in=published()).values_list("name", flat=True).first() or ""


@public_page(UNIT_SUGGEST_PARAMS, storable=lambda p: p.q is None)
def unit_suggest(request, p):
    """Names of the units with a published report that contain `q` (name or short name), for the
    list's 单位 box: at most 20, alphabetical; JSON."""
    units = Unit.objects.filter(Exists(published().filter(unit=OuterRef("pk"))))
    if p.q is not None:
        units = units.filter(Q(name__icontains=p.q) | Q(short_name__icontains=p.q))
    names = list(units.order_by("name").values_list("name", "short_name")[:UNIT_SUGGESTIONS])
    return JsonResponse({"units": [{"name": name, "short_name": short} for name, short in names]})


@public_page(LIST_PARAMS, storable=_offered)
def disclosure_list_json(request, p):
    return _list_response(request, p, "json")


@public_page(LIST_PARAMS, storable=_offered)
def disclosure_list_csv(request, p):
    """One row per indicator across every published report, from the stored JSON documents."""
    return _list_response(request, p, "csv")


LIST_CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


def _list_response(request, p, fmt: str):
    if not p.given(*LIST_FILTERS):
        response = _whole_portal_list(request, fmt)
    else:
        response = _filtered_list(request, p, fmt)
    if fmt == "csv" and response.status_code == 200:
        response["Content-Disposition"] = 'attachment; filename="disclosure.csv"'
    return response


def _whole_portal_list(request, fmt: str):
    """The whole portal's list: the file written for the current generation. When it is missing
    (the rebuild after a publish has not run) this request writes it, unless another process is
    writing it right now: then the reader is asked to come back shortly."""
    stored = exporting.list_file(fmt)
    if stored is None and exporting.write_lists(wait=False):
        stored = exporting.list_file(fmt)
    if stored is None:
        response = HttpResponse("公开清单正在生成，请稍后再试。", status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "10"
        return response
    try:
        stream = storage.open_stream(stored)
    except FileNotFoundError:  # removed by a newer generation's build since list_file() looked
        raise Http404 from None
    response = FileResponse(stream, content_type=LIST_CONTENT_TYPES[fmt])
    response["Content-Length"] = str(stream.size)
    # A list file is written once per generation and never changed: its name and size identify it.
    generation = stored.rsplit("/", 1)[-1].split(".")[0]
    return _downstream(request, response, f'"{generation}-{fmt}-{stream.size:x}"')


def _filtered_list(request, p, fmt: str):
    """A filtered list, LIST_PAGE_SIZE reports a page (newest first): bounded work and size
    whatever the filters match. The next page is linked (JSON "next", CSV ``Link`` header)."""
    number = p.page or 1
    start = (number - 1) * LIST_PAGE_SIZE
    reports = list(_filtered(p)[start : start + LIST_PAGE_SIZE + 1])
    if not reports and number > 1:
        raise Http404
    more = len(reports) > LIST_PAGE_SIZE
    reports = reports[:LIST_PAGE_SIZE]
    next_url = None
    if more:
        query = params.canonical({**p, "page": number + 1})
        next_url = f"{reverse('disclosure:list_' + fmt)}?{query}"
    if fmt == "json":
        body = lists.json_bytes(reports, page=number, next_url=next_url)
    else:
        body = lists.csv_bytes(reports)
    response = HttpResponse(body, content_type=LIST_CONTENT_TYPES[fmt])
    if next_url:
        response["Link"] = f'<{next_url}>; rel="next"'
    return response


def _published_listed():
    return published().select_related("unit__region", "round", "publication").defer("publication__search_text")


# A published report with everything its page reads, by statements compiled once (childrows.ByPk:
# the state is written into the statement, so the id is its one parameter; issue 17).
_PUBLISHED_CONTENT = childrows.ByPk(lambda: _published_listed().select_related(*readmodel.CONTENT_REFERENCES))


def _published_or_gone(pk: int, *, content: bool = False):
    """The published assessment, or a 410 page if it was withdrawn from public view, else 404.

    ``content=True`` fetches what its read model refers to too (its rows are read by `_report`).
    While a correction is under way (发起更正) the answer is ``(a, "correcting")``: the permalink
    shows the last published version, from its stored document, and its files stay downloadable."""
    if content:
        a = _PUBLISHED_CONTENT.get(pk)
    else:
        a = _published_listed().filter(pk=pk).first()
    if a is not None and hasattr(a, "publication"):
        return a, None
    status = publishing.public_status(pk)
    if status == "correcting":
        a = (
            Assessment.objects.filter(pk=pk, confidential=False, publication__isnull=False)
            .select_related("unit__region", "round", "publication", "template_version").first()
        )
        if a is not None:
            return a, "correcting"
    if status == "gone":
        return None, "gone"
    raise Http404


def _gone(request):
    return _downstream(request, render(request, "public/gone.html", status=410))


_VERSIONS = childrows.Statement(lambda pk: PublishedVersion.objects.filter(assessment_id=pk).defer("document")
                                .order_by("number"), int)


def _versions(a):
    return _VERSIONS.all(a.pk)


@public_page()
def disclosure_detail(request, p, pk):
    a, status = _published_or_gone(pk, content=True)
    if status == "gone":
        return _gone(request)
    versions = _versions(a)
    if status == "correcting":
        shown = PublishedVersion.objects.filter(assessment=a).order_by("-number").first()
        if shown is None:
            raise Http404
        return _render_version(request, a, shown, versions, correcting=True)
    report = _report(a, next((v for v in versions if v.number == a.publication.version), None))
    return render(
        request,
        "public/detail.html",
        {
            "report": report,
            "view": report.view,
            "a": report.assessment,
            "meta": report.meta,
            "versions": versions,
            "shown_version": report.meta.version,
            "funding_chart": figures.funding(report.view),
            # Earlier years only from published, non-涉密 reports of the same unit.
            "year_history": history.for_page(report.view, public=True),
            "public_evidence": _public_evidence(a),
            "public_sealed": _public_sealed(a),
        },
    )


# The document a version was published as (its files were written from the same read model).
_DOCUMENT = childrows.Statement(lambda pk: PublishedVersion.objects.filter(pk=pk).order_by().values_list("document", flat=True), int)


def _report(a, current):
    """The public read model of the version now published: from the document it was published as
    (what its files hold; no rows read, nothing scored again: issue 17), or, where no version was
    recorded (a report published before versions were kept), built from its rows."""
    document = next(iter(_DOCUMENT.all(current.pk)), None) if current is not None else None
    if document:
        return public_export.from_document(a, document, now_published=True)
    childrows.attach_all(a, readmodel.CONTENT)
    report = build_public(a)
    if current is not None and current.number > 1:
        report.correction = {"reason": current.correction_reason, "changes": current.correction}
    return report


def _render_version(request, a, version, versions, *, correcting=False):
    """A version from its stored public document, marked superseded when a later one exists."""
    report = public_export.from_document(a, version.document)
    return render(
        request,
        "public/detail.html",
        {
            "report": report,
            "view": report.view,
            "a": a,
            "meta": report.meta,
            "versions": versions,
            "shown_version": version.number,
            "version_page": version,
            "correcting": correcting,
            "funding_chart": figures.funding(report.view),
        },
    )


@public_page()
def disclosure_version(request, p, pk, number):
    """Version ``number`` of a report at its own URL (the one its PDF and Word copy point to)."""
    a, status = _published_or_gone(pk)
    if status == "gone":
        return _gone(request)
    versions = _versions(a)
    shown = PublishedVersion.objects.filter(assessment=a, number=number).first()
    if shown is None:
        raise Http404
    a = Assessment.objects.select_related("unit__region", "round", "template_version").get(pk=a.pk)
    return _render_version(request, a, shown, versions, correcting=status == "correcting")


@public_page()
def disclosure_version_json(request, p, pk, number):
    a, status = _published_or_gone(pk)
    if status == "gone":
        return _gone(request)
    shown = PublishedVersion.objects.filter(assessment=a, number=number).values_list("document", flat=True).first()
    if shown is None:
        raise Http404
    body = (json.dumps(shown, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return HttpResponse(body, content_type="application/json; charset=utf-8")


FILE_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@login_not_required
@require_safe
def disclosure_file(request, pk, fmt):
    a, status = _published_or_gone(pk)
    if status == "gone":
        return _gone(request)
    stored = getattr(a.publication, fmt)
    if not stored:
        raise Http404  # published before PDF and Word copies existed, not exported since
    try:
        stream = storage.open_stream(stored.name)
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        stream, content_type=FILE_TYPES[fmt], as_attachment=(fmt in ("xlsx", "docx")),
        filename=personal_data.mask(f"{a.round.year}-{a.unit.short_name or a.unit.name}-{a.title}.{fmt}"),
    )
    response["Content-Length"] = str(stream.size)
    return _downstream(request, response, f'"{getattr(a.publication, fmt + "_sha256")}"')


@login_not_required
@require_safe
def disclosure_evidence(request, pk, eid):
    """A 佐证材料 file a reviewer made public, of a published (never 涉密) report: 410 once withdrawn."""
    from . import evidence as evidence_views

    a, gone = _published_or_gone(pk)
    if gone:
        return _gone(request)
    item = next((e for e in evidence_views.public_items(a) if e.pk == eid), None)
    if item is None:
        raise Http404
    return evidence_views.serve(item, public=True)


@login_not_required
@require_safe
def disclosure_sealed(request, pk):
    """The 盖章版 of a published (never 涉密) report, once a reviewer confirmed it and as the
    bureau's rule and the unit's choice allow: 410 once withdrawn."""
    from .. import sealed
    from .sealed import _as_file

    a, gone = _published_or_gone(pk)
    if gone:
        return _gone(request)
    copy = sealed.current(a)
    if not sealed.is_public(copy, a):
        raise Http404
    from .evidence import serve

    return serve(_as_file(copy), public=True)


def _public_sealed(a) -> bool:
    from .. import sealed

    return sealed.is_public(sealed.current(a), a)


def _public_evidence(a):
    from . import evidence as evidence_views

    return evidence_views.public_items(a)


@login_not_required
@require_safe
def rectification_summary(request):
    """整改 per round: how many items were opened and how many are closed (counts only, issue 15)."""
    response = render(request, "public/rectifications.html", {"rounds": rectification.public_summary()})
    response["Cache-Control"] = "no-cache"
    return response
