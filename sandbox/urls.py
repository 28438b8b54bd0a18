from django.urls import URLPattern, URLResolver, include, path

from sandbox import chat_pages, control, ui, views

app_name = "sandbox"

# Everything a portal serves, mounted at the sandbox origin (the demo portal)
# and again under /p/<slug>/ for further portals.
portal_patterns: list[URLPattern | URLResolver] = [
    path("rest/<int:uid>/<str:code>/<str:method>", views.webhook_call),
    path("rest/<str:method>", views.rest_call),
    path("oauth/authorize/", views.oauth_authorize),
    path("", ui.home, name="home"),
    path("crm/lead/details/<int:lead_id>/", ui.lead_card, name="lead"),
    path("crm/lead/edit/<int:lead_id>/", ui.lead_edit, name="lead-edit"),
    path("marketplace/", ui.market, name="market"),
    path("openlines/", chat_pages.line_page, name="openlines"),
    path("openlines/new/", chat_pages.chat_new, name="openlines-new"),
    path("openlines/chat/<int:chat_id>/", chat_pages.chat_page, name="chat"),
    path(
        "openlines/chat/<int:chat_id>/write/",
        chat_pages.chat_write,
        name="chat-write",
    ),
    path("marketplace/app/", ui.app_page, name="app"),
    path("ui/switch-user/", ui.switch_user, name="switch-user"),
    path("ui/install/", ui.install_click, name="install"),
    path("ui/uninstall/", ui.uninstall_click, name="uninstall"),
    path("ui/install-finish/", ui.install_finish_view, name="install-finish"),
]

control_patterns: list[URLPattern | URLResolver] = [
    path("reset/", control.reset),
    path("clock/", control.clock_view),
    path("app/", control.app),
    path("wait/", control.wait),
    path("portals/", control.portals),
    path("portals/<str:ref>/", control.portal_detail),
    path("portals/<str:ref>/users/", control.portal_users),
    path("portals/<str:ref>/leads/", control.leads),
    path("portals/<str:ref>/leads/<int:lead_id>/", control.lead_detail),
    path("portals/<str:ref>/leads/<int:lead_id>/delete/", control.lead_delete),
    path("portals/<str:ref>/userfields/", control.userfields),
    path("portals/<str:ref>/install/", control.install),
    path("portals/<str:ref>/install/finish/", control.finish),
    path("portals/<str:ref>/uninstall/", control.remove),
    path("portals/<str:ref>/frames/lead-tab/", control.lead_tab),
    path("portals/<str:ref>/frames/app/", control.main_page),
    path("portals/<str:ref>/tokens/", control.tokens),
    path("portals/<str:ref>/tokens/expire/", control.expire),
    path("portals/<str:ref>/webhooks/", control.webhooks),
    path("portals/<str:ref>/move/", control.move),
    path("portals/<str:ref>/faults/", control.portal_faults),
    path("portals/<str:ref>/counters/", control.counters),
    path("portals/<str:ref>/limits/", control.limits_view),
    path("portals/<str:ref>/deliveries/", control.deliveries),
    path("portals/<str:ref>/chats/", control.chats),
    path("portals/<str:ref>/chats/<int:chat_id>/", control.chat_detail),
    path("portals/<str:ref>/chats/<int:chat_id>/messages/", control.chat_messages),
    path("portals/<str:ref>/chats/<int:chat_id>/operator/", control.chat_operator),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("oauth/token/", views.oauth_token),
    path("oauth/rest/app.info", views.oauth_app_info),
    path("oauth/rest/app.info.json", views.oauth_app_info),
    path("_sandbox/", include(control_patterns)),
    path("api/v1/", ui.bx24_js, name="bx24"),
    path("p/<slug:slug>/", include(portal_patterns)),
    path("", include(portal_patterns)),
]
