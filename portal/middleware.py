from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware


class PublicAwareLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, but views marked `login_not_required` are let through
    before `request.user` is touched, so public pages never read the session (no `Vary: Cookie`,
    cacheable by any proxy)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class AdminToFieldMiddleware:
    """Django's admin answers 500 to an empty ``_to_field`` (``?_to_field=``: it looks up a field
    named "" and raises FieldDoesNotExist). Refuse it as the admin refuses a to_field it does not
    allow: 400 (issue 12, finding 9; found by the URL fuzz)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            from django.contrib.admin.exceptions import DisallowedModelAdminToField
            from django.contrib.admin.options import TO_FIELD_VAR

            posted = request.POST if request.method == "POST" else {}
            for data in (request.GET, posted):
                if TO_FIELD_VAR in data and not data[TO_FIELD_VAR]:
                    raise DisallowedModelAdminToField("The field '' cannot be referenced.")
        return self.get_response(request)


class DrainRequestBodyMiddleware:
    """Reads what is left of a request body no view read before the response goes out.

    A response given without reading the body (an expired session's POST of 25 MB of evidence
    redirected to the login page, a refused CSRF token, a 404) made gunicorn close the socket with
    the body still unread: the kernel then resets the connection, and nginx, which had sent the
    body and not yet read the response, answered 502 instead of the redirect (test_compose, "large
    uploads only where files go"). Bodies above PORTAL_DRAIN_BODY_MAX are left alone: nginx refuses
    them before they reach gunicorn (deploy/nginx.conf)."""

    CHUNK = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        stream = getattr(request, "_stream", None)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if stream is not None and 0 < length <= settings.PORTAL_DRAIN_BODY_MAX:
            try:
                while stream.read(self.CHUNK):
                    pass
            except OSError:  # the client went away: nothing to answer it
                pass
        return response
