from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from assessments.security import views as security_views
from assessments.views.audit import audit_export, audit_log
from assessments.views.entry import home
from portal.health import healthz

admin.site.site_header = "绩效自评门户 · 管理后台"
admin.site.site_title = "绩效自评门户"
admin.site.index_title = "单位、人员、评价批次与安全策略管理"

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", security_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", security_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("session/keepalive/", security_views.session_keepalive, name="session_keepalive"),
    path("otp/", security_views.otp_verify, name="otp_verify"),
    path("audit/", audit_log, name="audit"),
    path("audit/export.csv", audit_export, name="audit_export"),
    path("assessments/", include("assessments.urls")),
    path("", include("assessments.urls_public")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
