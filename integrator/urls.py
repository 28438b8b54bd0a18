from django.urls import URLPattern, URLResolver, path

from integrator import views

app_name = "integrator"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("b24/install/", views.install_wizard, name="install"),
    path("b24/events/", views.event_receiver, name="events"),
    path("b24/bot/", views.bot_receiver, name="bot"),
    path("b24/app/", views.app_page, name="app"),
    path("b24/app/consent/", views.app_consent, name="app-consent"),
    path("b24/placement/lead-tab/", views.lead_tab, name="lead-tab"),
    path("b24/tab/lead/", views.tab_lead, name="tab-lead"),
    path("b24/tab/consent/", views.tab_consent, name="tab-consent"),
    path(
        "b24/tab/consent/withdraw/",
        views.tab_consent_withdraw,
        name="tab-consent-withdraw",
    ),
]
