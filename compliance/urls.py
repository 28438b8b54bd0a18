from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from compliance import api

app_name = "compliance"

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/journal/entries/",
        api.JournalEntryListView.as_view(),
        name="journal-entries",
    ),
    path("api/journal/verify/", api.JournalVerifyView.as_view(), name="journal-verify"),
    path(
        "api/journal/exports/", api.JournalExportView.as_view(), name="journal-export"
    ),
    path("", include("compliance.consent.urls")),
    path("", include("compliance.retention.urls")),
]
