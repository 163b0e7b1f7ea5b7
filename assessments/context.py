from django.utils.functional import SimpleLazyObject

from . import permissions


def roles(request):
    """What the navigation offers this user. Lazy: public pages never touch the session."""

    def user():
        u = getattr(request, "user", None)
        return u if u is not None and u.is_authenticated else None

    def navigation():
        if not hasattr(request, "_navigation_roles"):
            request._navigation_roles = permissions.navigation_roles(user()) if user() else {}
        return request._navigation_roles

    return {
        "is_officer": SimpleLazyObject(lambda: bool(user() and permissions.is_officer(user()))),
        "is_reviewer": SimpleLazyObject(lambda: bool(navigation().get("is_reviewer"))),
        "can_audit": SimpleLazyObject(lambda: bool(navigation().get("can_audit"))),
        "can_manage_templates": SimpleLazyObject(lambda: bool(navigation().get("can_manage_templates"))),
        "is_supervisor": SimpleLazyObject(lambda: bool(navigation().get("is_supervisor"))),
    }
