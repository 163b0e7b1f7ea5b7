"""Response headers that depend on who is asking (issue 5).

Content-Security-Policy comes from django-csp (`csp.middleware.CSPMiddleware`, policy in
settings.CONTENT_SECURITY_POLICY); nosniff, Referrer-Policy and X-Frame-Options from Django's
SecurityMiddleware / XFrameOptionsMiddleware. This module adds `Cache-Control: no-store` to every
response that was built from a session, so no browser history, back button or shared proxy keeps
a copy of a logged-in page.
"""

from django.utils.cache import add_never_cache_headers


class SessionNoStoreMiddleware:
    """`Cache-Control: no-store` (Django's never-cache set) on every response that read the session.

    Every page behind the login reads the session (LoginRequiredMiddleware asks for `request.user`),
    so every authenticated response is covered, and so are the login page and the redirects to it
    (they carry a CSRF token or depend on the visitor). The public disclosure pages never touch
    the session (portal.middleware.PublicAwareLoginRequiredMiddleware) and keep their
    `public, no-cache` (stored downstream, revalidated by ETag), even when a logged-in official
    opens them: their content is the same for everyone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "_cached_user", None)  # set once request.user was evaluated
        if (session is not None and session.accessed) or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response
