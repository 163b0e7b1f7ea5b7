"""Bench-only URLconf: the project's URLs plus the Django floor.

The floor is a minimal view on the same stack (every middleware of portal.settings) that returns
a response of a given size with no query and no template. It is marked login_not_required, so it
never reads the session: what is left is Django's own request/response cost for that many bytes.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns

_BODIES: dict[int, bytes] = {}


@login_not_required
def floor(request, size):
    body = _BODIES.get(size)
    if body is None:
        body = _BODIES[size] = b"x" * size
    return HttpResponse(body, content_type="text/html; charset=utf-8")


urlpatterns = [path("__bench__/floor/<int:size>/", floor, name="bench_floor"), *portal_urlpatterns]
