"""How a person is named to users (issue 17): by name, the login in small print beside it."""

from django.utils.html import format_html

SYSTEM = "（系统）"


def name_of(user, login: str = "") -> str:
    """The person's name (first + last as Chinese writes them), or the login when there is none."""
    name = ""
    if user is not None:
        name = f"{user.last_name}{user.first_name}".strip()
        login = login or user.get_username()
    return name or login or SYSTEM


def text(user, login: str = "") -> str:
    """One line for plain text (admin lists, exports): "财政局绩效科审核人（caizheng）"."""
    login = login or (user.get_username() if user is not None else "")
    name = name_of(user, login)
    return f"{name}（{login}）" if login and name != login else name


def html(user, login: str = ""):
    """The name, with the login in small print when it says something the name does not."""
    login = login or (user.get_username() if user is not None else "")
    name = name_of(user, login)
    if login and name != login:
        return format_html('<span class="person">{} <small class="text-body-secondary person-login">{}</small></span>', name, login)
    return format_html('<span class="person">{}</span>', name)
