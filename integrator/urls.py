from django.urls import URLPattern, URLResolver, path

from integrator import views

app_name = "integrator"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("b24/install/", views.install_wizard, name="install"),
    path("b24/events/", views.event_receiver, name="events"),
    path("b24/app/", views.app_page, name="app"),
    path("b24/placement/lead-tab/", views.lead_tab, name="lead-tab"),
    path("b24/tab/lead/", views.tab_lead, name="tab-lead"),
]
