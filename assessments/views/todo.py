"""待办: one page for every role, and its count for the navigation bar."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .. import pagecache, todo


@require_safe
@pagecache.page
def todo_page(request):
    sections = todo.sections(request.user)
    return render(request, "assessments/todo.html", {"sections": sections, "total": sum(s.count for s in sections)})


@require_safe
def todo_count(request):
    """The navigation bar's badge (fetched after the page loads, so no page pays for it)."""
    response = JsonResponse({"total": todo.total(request.user)})
    response["Cache-Control"] = "private, no-store"
    return response
