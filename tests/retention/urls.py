"""The project's URLs plus retention's, for tests that call its endpoints."""

from django.urls import include, path

from b24app.urls import urlpatterns as project

urlpatterns = [
    *project,
    path("", include("compliance.retention.urls")),
]
