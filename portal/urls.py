from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from assessments.views.entry import home

admin.site.site_header = "绩效自评门户 · 管理后台"
admin.site.site_title = "绩效自评门户"
admin.site.index_title = "单位、人员与评价批次管理"

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("assessments/", include("assessments.urls")),
    path("", include("assessments.urls_public")),
    path("admin/", admin.site.urls),
]
