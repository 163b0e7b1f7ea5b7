from . import permissions


def roles(request):
    """What the navigation offers this user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"is_officer": permissions.is_officer(user), "is_reviewer": permissions.is_reviewer(user)}
