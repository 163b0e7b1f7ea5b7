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
