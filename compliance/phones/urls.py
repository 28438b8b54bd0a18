from django.urls import URLPattern, path

from compliance.phones import views

app_name = "phones"

urlpatterns: list[URLPattern] = [
    path("b24/tab/phones/", views.tab_phones, name="tab-phones"),
    path("b24/tab/phones/reveal/", views.tab_phone_reveal, name="tab-reveal"),
    path("b24/settings/phones/", views.phone_settings, name="settings"),
]
