"""The portal's pages in headless Chromium: install, lead tab, edit, switcher."""

import pytest
import requests

pytestmark = [
    pytest.mark.django_db(databases=["default", "sandbox"]),
    pytest.mark.browser,
]


def wizard_page(sandbox_url: str) -> str:
    """An install wizard that binds the tab and finishes, as the app will."""
    return f"""<!doctype html><html><body><p id="wizard">Мастер</p>
<script src="{sandbox_url}/api/v1/"></script>
<script>
BX24.init(function () {{
  BX24.callMethod('placement.bind', {{
    PLACEMENT: 'CRM_LEAD_DETAIL_TAB',
    HANDLER: location.origin + '/b24/placement/lead-tab/',
    TITLE: 'ПДн'
  }}, function (r) {{
    document.body.dataset.bound = r.error() ? r.error() : 'yes';
    BX24.installFinish();
  }});
}});
</script></body></html>"""


TAB_PAGE = """<!doctype html><html><body><p id="tab">Вкладка</p>
<script src="{sandbox}/api/v1/"></script>
<script>
BX24.init(function () {
  var info = BX24.placement.info();
  BX24.callMethod('user.current', {}, function (r) {
    document.body.dataset.user = r.data().ID;
    document.body.dataset.lead = info.options.ID;
  });
});
</script></body></html>"""


def test_an_admin_installs_the_app_and_a_manager_opens_the_lead_tab(
    sandbox, portal, app, browser_page
):
    app.pages["/b24/install/"] = wizard_page(sandbox.base_url)
    app.pages["/b24/placement/lead-tab/"] = TAB_PAGE.replace(
        "{sandbox}", sandbox.base_url
    )
    lead_id = sandbox.create_lead(
        portal.ref, {"TITLE": "Запись", "PHONE": [{"VALUE": "+79001234567"}]}, user_id=2
    )
    page = browser_page

    page.goto(portal.base_url + "/marketplace/?as=1")
    page.click("#install-app")
    page.wait_for_selector("#install-status[data-installed='1']")
    frame = page.frame(name="install-frame")
    assert frame is not None
    frame.wait_for_selector("body[data-bound='yes']")
    assert sandbox.portal(portal.ref).raw["install"]["installed"] is True

    page.goto(f"{portal.base_url}/crm/lead/details/{lead_id}/?as=2")
    assert page.inner_text("#lead-phones") == "+79001234567"
    page.click("#tab-app")
    tab = page.frame(name="placement-frame")
    assert tab is not None
    tab.wait_for_selector("body[data-user='2']")
    assert tab.evaluate("document.body.dataset.lead") == str(lead_id)
    [posted] = app.posts_to("/b24/placement/lead-tab/")
    assert posted.form["PLACEMENT_OPTIONS"] == f'{{"ID":"{lead_id}"}}'


def test_the_lead_list_pages_and_the_outsider_sees_nothing(
    sandbox, portal, browser_page
):
    specs = [{"fields": {"TITLE": f"Лид {n}"}} for n in range(60)]
    sandbox.create_leads(portal.ref, specs, user_id=2)
    page = browser_page

    page.goto(portal.base_url + "/?as=1")
    assert page.locator("#lead-list tbody tr[data-lead-id]").count() == 50
    page.click("#page-next")
    assert page.locator("#lead-list tbody tr[data-lead-id]").count() == 10

    page.select_option("#user-switcher", "4")
    page.wait_for_selector("#lead-list-empty")
    assert page.locator("#lead-list tbody tr[data-lead-id]").count() == 0


def test_editing_a_lead_in_the_form_fires_an_update_event(
    sandbox, installed, app, browser_page
):
    installed.call(
        "event.bind",
        {"event": "ONCRMLEADUPDATE", "handler": app.url + "/b24/events/"},
    )
    lead_id = sandbox.create_lead(
        installed.portal.ref, {"TITLE": "x", "PHONE": [{"VALUE": "89001234567"}]}
    )
    page = browser_page

    page.goto(f"{installed.portal.base_url}/crm/lead/edit/{lead_id}/?as=2")
    page.fill("#edit-title", "Окрашивание")
    page.fill(".edit-phone", "+7 900 123-45-67")
    page.click("#lead-save")
    page.wait_for_selector("#lead-title")

    [row] = sandbox.wait_for_deliveries(
        installed.portal.ref, count=1, event="ONCRMLEADUPDATE"
    )
    lead = sandbox.lead(installed.portal.ref, lead_id)
    assert lead["TITLE"] == "Окрашивание"
    assert [p["VALUE"] for p in lead["PHONE"]] == ["+7 900 123-45-67"]
    assert "auth[user_id]=2" in row["body"]


def test_uninstall_from_the_market_page(sandbox, installed, app, browser_page):
    page = browser_page
    page.goto(installed.portal.base_url + "/marketplace/?as=1")
    page.check("#uninstall-clean")
    page.click("#uninstall-app")
    page.wait_for_selector("#install-status[data-installed='none']")

    sandbox.wait_for_deliveries(installed.portal.ref, event="ONAPPUNINSTALL")
    [received] = [r for r in app.posts_to("/b24/events/") if "ONAPPUNINSTALL" in r.body]
    assert received.form["data"]["CLEAN"] == "1"


def test_the_apps_main_page_opens_in_a_frame_with_the_users_tokens(
    sandbox, installed, app, browser_page
):
    app.pages["/b24/app/"] = TAB_PAGE.replace("{sandbox}", sandbox.base_url)
    page = browser_page

    page.goto(installed.portal.base_url + "/marketplace/app/?as=3")
    frame = page.frame(name="app-frame")
    assert frame is not None
    frame.wait_for_selector("body[data-user='3']")
    [posted] = app.posts_to("/b24/app/")
    assert posted.form["PLACEMENT"] == "DEFAULT"
    assert "DOMAIN=" in posted.query


def test_the_lead_tab_appears_only_after_install_finish(
    sandbox, portal, app, browser_page
):
    form = sandbox.install(portal.ref)["frame"]["form"]
    bound = requests.post(
        portal.client_endpoint + "placement.bind",
        json={
            "auth": form["AUTH_ID"],
            "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
            "HANDLER": app.url + "/b24/placement/lead-tab/",
        },
        timeout=10,
    )
    assert bound.json()["result"] is True
    lead_id = sandbox.create_lead(portal.ref, {"TITLE": "x"})
    page = browser_page

    page.goto(f"{portal.base_url}/crm/lead/details/{lead_id}/?as=1")
    assert page.locator("#tab-app").count() == 0
    sandbox.finish_install(portal.ref)
    page.reload()
    assert page.locator("#tab-app").count() == 1
