from axes.backends import AxesBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from ..childrows import ByPk

# The account of every logged-in request, by a statement compiled once per process (issue 17, part
# 5: the ORM compiled `get(pk=…)` on every page).
_ACCOUNTS = ByPk(lambda: get_user_model()._default_manager.all())


class LockoutBackend(AxesBackend):
    """One backend that refuses a locked-out username (django-axes) and then checks the password.

    axes' own `authenticate()` only raises for a locked-out user and otherwise returns None,
    expecting a ModelBackend after it; here both steps are in one backend. Every login form
    passes the request, so the lockout applies to the portal's login page and the admin's.
    `authenticate()` without a request (Django's test client `login()`, management code) has
    no client to count and goes straight to the password check.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            try:
                super().authenticate(request, username=username, password=password, **kwargs)
            except AxesBackendPermissionDenied:
                request.portal_login_refused = True  # for the audit: locked, password not checked
                raise
        return ModelBackend.authenticate(self, request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        """ModelBackend's: the active account with this id, else None."""
        user = _ACCOUNTS.get(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
