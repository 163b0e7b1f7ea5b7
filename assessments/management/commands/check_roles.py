"""manage.py check_roles: report accounts that break the separation of duties (issue 18).

Saving through the portal, the admin and the ORM refuses a second administrator role, or an
administrator role beside a business role; rows written around them (SQL, fixtures, a group's
permissions changed in the database) are found here, and so is a role group whose permissions
differ from the declared set (`manage.py migrate` puts it back). Exits with status 1 when any is
found.
Superuser accounts are listed too: they exist for emergencies only.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assessments import roles


class Command(BaseCommand):
    help = "检查三员分立：列出同时担任两个管理员角色、或管理员兼任填报人/审核人的账号；有则以状态 1 退出。"

    def handle(self, *args, **options):
        found = roles.violations()
        for user, problems in found:
            for problem in problems:
                self.stdout.write(f"{user.get_username()}：{problem}")
        drift = roles.group_drift()
        for line in drift:
            self.stdout.write(line)
        superusers = list(get_user_model().objects.filter(is_superuser=True).order_by("username"))
        if superusers:
            names = "、".join(u.get_username() for u in superusers)
            self.stdout.write(f"超级管理员账号（仅限紧急情况使用，每次登录均记入审计日志）：{names}")
        if found or drift:
            raise CommandError(
                f"三员分立检查未通过：{len(found)} 个账号的角色冲突，{len(drift)} 个角色的权限与规定不符。"
            )
        self.stdout.write("三员分立检查通过：没有角色冲突的账号，各角色的权限与规定一致。")
