from django.contrib.auth.middleware import LoginRequiredMiddleware


class PublicAwareLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, but views marked `login_not_required` are let through
    before `request.user` is touched, so public pages never read the session (no `Vary: Cookie`,
    cacheable by any proxy)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
