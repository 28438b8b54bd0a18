from django.urls import URLPattern, path

from compliance.retention import views

app_name = "retention"

urlpatterns: list[URLPattern] = [
    path("b24/retention/policy/", views.policy_update, name="policy"),
    path("b24/retention/preview/", views.preview, name="preview"),
    path(
        "b24/retention/acts/<int:run_id>.<kind>",
        views.act_download,
        name="act",
    ),
    path(
        "b24/retention/archives/<int:archived_id>/restore/",
        views.restore,
        name="restore",
    ),
    path("b24/tab/hold/", views.tab_hold, name="tab-hold"),
]
