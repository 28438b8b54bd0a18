import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def register(installed, app, **extra):
    params = {
        "CODE": "pdn_consent",
        "TYPE": "O",
        "EVENT_HANDLER": app.url + "/b24/bot/",
        "PROPERTIES": {"NAME": "Согласие"},
        **extra,
    }
    return installed.call("imbot.register", params).json()


def test_a_client_message_reaches_the_open_line_bot_with_the_lead(
    sandbox, installed, app
):
    bot_id = register(installed, app)["result"]
    chat = sandbox.open_chat(installed.portal.ref, client_name="Анна")
    sandbox.client_writes(installed.portal.ref, chat["chat_id"], "Да, согласна")
    sandbox.wait_for_deliveries(
        installed.portal.ref, count=1, event="ONIMBOTMESSAGEADD"
    )

    joined, received = app.posts_to("/b24/bot/")
    form = received.form
    assert joined.form["event"] == "ONIMBOTJOINCHAT"
    assert joined.form["data"]["PARAMS"]["DIALOG_ID"] == chat["dialog_id"]
    params = form["data"]["PARAMS"]
    assert form["event"] == "ONIMBOTMESSAGEADD"
    assert params["MESSAGE"] == "Да, согласна"
    assert params["DIALOG_ID"] == chat["dialog_id"]
    assert params["CHAT_ENTITY_TYPE"] == "LINES"
    assert params["CHAT_ENTITY_DATA_1"].startswith(f"Y|LEAD|{chat['lead_id']}|")
    assert params["CHAT_ENTITY_DATA_2"].startswith(f"LEAD|{chat['lead_id']}|")
    assert params["SYSTEM"] == "N"
    bot_auth = form["data"]["BOT"][str(bot_id)]
    assert bot_auth["BOT_CODE"] == "pdn_consent"
    assert bot_auth["application_token"] == installed.application_token
    assert "access_token" not in form["auth"]
    lead = sandbox.lead(installed.portal.ref, chat["lead_id"])
    assert lead["IM"][0]["VALUE"] == f"imol|{chat['entity_id']}"


def test_the_bots_answer_lands_in_the_outbox(sandbox, installed, app):
    bot_id = register(installed, app)["result"]
    chat = sandbox.open_chat(installed.portal.ref, client_name="Анна")
    answer = installed.call(
        "imbot.message.add",
        {
            "BOT_ID": bot_id,
            "DIALOG_ID": chat["dialog_id"],
            "MESSAGE": "Вы согласны на обработку персональных данных?",
            "KEYBOARD": [{"TEXT": "Да", "COMMAND": "yes"}],
        },
    ).json()
    empty = installed.call(
        "imbot.message.add", {"DIALOG_ID": chat["dialog_id"], "MESSAGE": " "}
    ).json()

    [message] = sandbox.chat_messages(installed.portal.ref, chat["chat_id"])
    assert isinstance(answer["result"], int)
    assert message["author"] == "bot"
    assert message["keyboard"] == [{"TEXT": "Да", "COMMAND": "yes"}]
    assert empty["error"] == "MESSAGE_EMPTY"


def test_registration_errors_and_the_bot_list(installed, app):
    first = register(installed, app)
    again = register(installed, app)
    nameless = register(installed, app, CODE="x", PROPERTIES={"COLOR": "RED"})
    listed = installed.call("imbot.bot.list").json()["result"]

    assert again["error"] == "WRONG_REQUEST"
    assert nameless["error"] == "NAME_ERROR"
    assert listed[str(first["result"])]["CODE"] == "pdn_consent"
    assert listed[str(first["result"])]["OPENLINE"] == "Y"
    assert (
        installed.call("imbot.unregister", {"BOT_ID": first["result"]}).json()["result"]
        is True
    )
    assert installed.call("imbot.bot.list").json()["result"] == []


def test_bots_hear_nothing_before_install_finish(sandbox, portal, app):
    import requests

    form = sandbox.install(portal.ref)["frame"]["form"]
    requests.post(
        portal.client_endpoint + "imbot.register",
        json={
            "auth": form["AUTH_ID"],
            "CODE": "b",
            "TYPE": "O",
            "EVENT_HANDLER": app.url + "/b24/bot/",
            "PROPERTIES": {"NAME": "Бот"},
        },
        timeout=10,
    )
    chat = sandbox.open_chat(portal.ref)
    sandbox.client_writes(portal.ref, chat["chat_id"], "Здравствуйте")
    sandbox.wait_for_deliveries(portal.ref)
    assert sandbox.deliveries(portal.ref, event="ONIMBOTMESSAGEADD") == []


def test_the_bot_hears_its_own_messages_operators_and_the_hand_over(
    sandbox, installed, app
):
    bot_id = register(installed, app)["result"]
    chat = sandbox.open_chat(installed.portal.ref, client_name="Анна")
    installed.call(
        "imbot.message.add",
        {"BOT_ID": bot_id, "DIALOG_ID": chat["dialog_id"], "MESSAGE": "Здравствуйте"},
    )
    sandbox.operator_writes(installed.portal.ref, chat["chat_id"], "Добрый день")
    handed = installed.call(
        "imopenlines.bot.session.operator", {"CHAT_ID": chat["chat_id"]}
    ).json()
    sandbox.wait_for_deliveries(installed.portal.ref, count=4, event="", timeout=10)

    posts = app.posts_to("/b24/bot/")
    events = [(p.form["event"], p.form["data"]["PARAMS"].get("SYSTEM")) for p in posts]
    own, operator, notice = (p.form["data"] for p in posts[1:])
    assert handed["result"] is True
    assert events == [
        ("ONIMBOTJOINCHAT", None),
        ("ONIMBOTMESSAGEADD", "N"),
        ("ONIMBOTMESSAGEADD", "N"),
        ("ONIMBOTMESSAGEADD", "Y"),
    ]
    assert own["PARAMS"]["FROM_USER_ID"] == str(bot_id)
    assert own["USER"]["IS_BOT"] == "Y"
    assert operator["USER"]["IS_CONNECTOR"] == "N"
    assert notice["PARAMS"]["MESSAGE"] == "Диалог передан оператору"
    assert sandbox.chat(installed.portal.ref, chat["chat_id"])["operator_mode"] is True
