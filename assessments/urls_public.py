from django.urls import path

from .views import public

app_name = "disclosure"

urlpatterns = [
    path("disclosure/", public.disclosure_list, name="list"),
    path("disclosure.json", public.disclosure_list_json, name="list_json"),
    path("disclosure.csv", public.disclosure_list_csv, name="list_csv"),
    path("disclosure/units.json", public.unit_suggest, name="unit_suggest"),
    path("disclosure/rectifications/", public.rectification_summary, name="rectifications"),
    path("disclosure/<int:pk>/", public.disclosure_detail, name="detail"),
    path("disclosure/<int:pk>.xlsx", public.disclosure_file, {"fmt": "xlsx"}, name="xlsx"),
    path("disclosure/<int:pk>.json", public.disclosure_file, {"fmt": "json"}, name="json"),
    path("disclosure/<int:pk>/evidence/<int:eid>/", public.disclosure_evidence, name="evidence"),
    path("disclosure/<int:pk>.pdf", public.disclosure_file, {"fmt": "pdf"}, name="pdf"),
    path("disclosure/<int:pk>.docx", public.disclosure_file, {"fmt": "docx"}, name="docx"),
    path("disclosure/<int:pk>/v<int:number>/", public.disclosure_version, name="version"),
    path("disclosure/<int:pk>/v<int:number>.json", public.disclosure_version_json, name="version_json"),
    path("disclosure/<int:pk>/sealed.pdf", public.disclosure_sealed, name="sealed"),
]
