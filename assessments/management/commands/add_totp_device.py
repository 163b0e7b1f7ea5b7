"""manage.py add_totp_device <username> [--name NAME]: register a TOTP device for an account and
print its key once (issue 18).

For the first administrators of a deployment with PORTAL_ADMIN_REQUIRE_OTP on: until one
安全管理员 has a device, nobody can open the admin to register one. Afterwards the 安全管理员
registers devices in the admin (动态口令设备).
"""

from base64 import b32encode

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from assessments import audit


class Command(BaseCommand):
    help = "为账号登记动态口令设备（TOTP）并显示一次密钥：供启用动态口令后第一位安全管理员使用。"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="身份验证器", help="设备名称（默认：身份验证器）")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"账号 {username} 不存在。")
        with transaction.atomic():
            device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
            audit.record("auth.otp_device_added", actor=None, obj=user, details={"device": name, "username": username})
        key = b32encode(device.bin_key).decode()
        self.stdout.write(f"已为 {username} 登记动态口令设备“{name}”。请在身份验证器中手动输入以下密钥（基于时间，6 位）：")
        self.stdout.write(" ".join(key[i:i + 4] for i in range(0, len(key), 4)))
        self.stdout.write(f"或把以下地址生成二维码扫描：{device.config_url}")
