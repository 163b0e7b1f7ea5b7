from django.urls import path

from .views import entry, imports, review, tables, word

app_name = "assessments"

urlpatterns = [
    path("", entry.assessment_list, name="list"),
    path("new/", entry.assessment_create, name="create"),
    path("<int:pk>/", entry.assessment_detail, name="detail"),
    path("<int:pk>/edit/", entry.assessment_edit, name="edit"),
    path("<int:pk>/preview/", entry.assessment_preview, name="preview"),
    path("<int:pk>/submit/", entry.assessment_transition, {"action": "submit"}, name="submit"),
    path("<int:pk>/withdraw/", entry.assessment_transition, {"action": "withdraw"}, name="withdraw"),
    path("import/", imports.import_new, name="import"),
    path("<int:pk>/import/", imports.import_replace, name="import_replace"),
    path("import/<str:token>/", imports.import_preview, name="import_preview"),
    path("import/<str:token>/confirm/", imports.import_confirm, name="import_confirm"),
    path("import/<str:token>/cancel/", imports.import_cancel, name="import_cancel"),
    path("word/", word.word_import, name="word_import"),
    path("<int:pk>/word/", word.word_import_replace, name="word_import_replace"),
    path("word/<str:token>/", word.word_preview, name="word_preview"),
    path("word/<str:token>/confirm/", word.word_confirm, name="word_confirm"),
    path("word/<str:token>/cancel/", word.word_cancel, name="word_cancel"),
    path("review/", review.dashboard, name="dashboard"),
    path("review/list.xlsx", review.dashboard_xlsx, name="dashboard_xlsx"),
    path("review/<int:pk>/", review.review_detail, name="review"),
    path("review/<int:pk>/preview/", review.review_preview, name="review_preview"),
    path("review/bulk/", review.bulk_exports, name="bulk"),
    path("review/bulk/<int:pk>/download/", review.bulk_download, name="bulk_download"),
    path("templates/", tables.template_list, name="templates"),
    path("templates/<int:pk>/edit/", tables.template_edit, name="template_edit"),
    path("templates/<int:pk>/v<int:number>/", tables.template_version, name="template_version"),
    path("templates/<int:pk>/v<int:number>.xlsx", tables.template_xlsx, name="template_xlsx"),
]
