from django.urls import URLPattern, path

from compliance.consent import views

app_name = "consent"

urlpatterns: list[URLPattern] = [
    path(
        "consent/<str:public_id>/<str:purpose>/v<int:version>/",
        views.document_page,
        name="document",
    ),
]
