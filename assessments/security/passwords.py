"""Password policy (GB/T 22239 第二级 / ASVS L2 practice) and the change-at-first-login flag.

AUTH_PASSWORD_VALIDATORS (settings) combine these with Django's common-password validator: at
least 12 characters, at least 3 of 4 character classes, not containing the username and not
similar to it or to the other user attributes, not a common password.
"""

import string

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import UserSecurity
from . import policy

CLASSES = (
    ("大写字母", lambda c: c in string.ascii_uppercase),
    ("小写字母", lambda c: c in string.ascii_lowercase),
    ("数字", lambda c: c.isdigit()),
    ("符号", lambda c: not c.isalnum()),
)


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's validator with a Chinese message (Django 5.2's zh-hans catalogue lacks this one).

    `min_length` is the deployment's baseline; the 安全策略 may ask for more (issue 18).
    """

    def __init__(self, min_length=12):
        super().__init__(min_length)
        self.baseline = min_length

    def validate(self, password, user=None):
        self.min_length = max(self.baseline, policy.current().password_min_length)
        super().validate(password, user)

    def get_error_message(self):
        return f"密码太短：至少须包含 {self.min_length} 个字符。"

    def get_help_text(self):
        return f"密码至少须包含 {max(self.baseline, policy.current().password_min_length)} 个字符。"


class CharacterClassesValidator:
    """At least `min_classes` of: upper-case letters, lower-case letters, digits, symbols
    (the baseline; the 安全策略 may ask for more)."""

    def __init__(self, min_classes=3):
        self.min_classes = min_classes

    def required(self) -> int:
        return max(self.min_classes, policy.current().password_min_classes)

    def validate(self, password, user=None):
        required = self.required()
        used = sum(1 for _, test in CLASSES if any(test(c) for c in password))
        if used < required:
            raise ValidationError(self.message(required), code="password_too_simple", params={"min_classes": required})

    def message(self, required):
        return f"密码须包含大写字母、小写字母、数字、符号四类字符中的至少 {required} 类。"

    def get_help_text(self):
        return self.message(self.required())


USERNAME_MESSAGE = "密码不能包含用户名（不区分大小写）。"


class UserAttributeValidator(password_validation.UserAttributeSimilarityValidator):
    """Refuses a password that contains the username (case-insensitive), then Django's similarity
    check against the username, names and e-mail.

    The similarity check compares whole strings, so `name2name2!A` for user `name2` passed it
    (ratio 0.59 < 0.7). Usernames shorter than `min_username_length` are not searched for:
    forbidding every password with "wu" or "li" in it protects nothing.
    """

    def __init__(self, user_attributes=password_validation.UserAttributeSimilarityValidator.DEFAULT_USER_ATTRIBUTES,
                 max_similarity=0.7, min_username_length=3):
        super().__init__(user_attributes, max_similarity)
        self.min_username_length = min_username_length

    def validate(self, password, user=None):
        username = str(user.get_username() or "") if user is not None else ""
        if len(username) >= self.min_username_length and username.casefold() in (password or "").casefold():
            raise ValidationError(USERNAME_MESSAGE, code="password_contains_username")
        super().validate(password, user)

    def get_help_text(self):
        return "密码不能包含用户名，也不能与用户名、姓名、电子邮箱过于相似。"


def must_change(user) -> bool:
    return UserSecurity.objects.filter(user=user, must_change_password=True).exists()


def require_change(user) -> None:
    """An admin set this password: the user must replace it at the next login."""
    UserSecurity.objects.update_or_create(user=user, defaults={"must_change_password": True})


def changed_by_user(user) -> None:
    UserSecurity.objects.update_or_create(
        user=user, defaults={"must_change_password": False, "password_changed_at": timezone.now()}
    )
