from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from compliance import api, auditor

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
    path("", include("compliance.phones.urls")),
    path("b24/audit/", auditor.auditor_page, name="audit"),
    path("b24/audit/export/", auditor.auditor_export, name="audit-export"),
]
