import json
import re

import requests

from aigateway.keys import api_key_issue
from tests.aigateway.conftest import ADMIN, Gateway, answer_text, sent_text

NAME = "Анна Смирнова"
PHONE = "+7 912 345-67-89"
PASSPORT = "4510 123456"
CHAT = (
    f"Здравствуйте, меня зовут {NAME}, мой телефон {PHONE}, "
    f"паспорт {PASSPORT}. Запишите меня на стрижку в пятницу."
)
DIGIT_RUNS = ["9123456789", "912", "345", "67-89", "4510", "123456"]


def only_digits(text):
    return re.sub(r"\D", "", text)


def test_a_chat_reaches_the_model_without_personal_data(gateway, stub):
    response = gateway.ask(CHAT, dialog="chat-1", client="lead:1043")

    assert response.status_code == 200, response.text
    sent = sent_text(stub)
    messages = stub.received[0]["body"]["messages"]
    assert "[ИМЯ_1]" in messages[0]["content"]
    assert "[ТЕЛЕФОН_1]" in messages[0]["content"]
    assert "[ПАСПОРТ_1]" in messages[0]["content"]
    for value in [NAME, "Анна", "Смирнова", PHONE, PASSPORT, *DIGIT_RUNS]:
        assert value not in sent
    assert "9123456789" not in only_digits(sent)
    assert not re.search(r"\d{3}", messages[0]["content"])


def test_the_answer_comes_back_with_the_real_values(gateway, stub):
    text = answer_text(gateway.ask(CHAT, dialog="chat-1"))

    assert text == CHAT


def test_placeholders_in_another_order_and_repeated_are_restored(gateway, stub):
    reordered = answer_text(gateway.ask(CHAT, model="assistant-reorder"))
    repeated = answer_text(gateway.ask(CHAT, model="assistant-repeat"))

    assert reordered == f"Проверяю данные: {PASSPORT}, {PHONE}, {NAME}."
    assert repeated.count(NAME) == 2
    assert repeated.count(PHONE) == 2
    assert repeated.count(PASSPORT) == 2
    assert "[" not in reordered + repeated


def test_every_message_of_the_history_is_pseudonymised(gateway, stub):
    history = [
        {"role": "system", "content": f"Администратор салона — {NAME}."},
        {"role": "user", "content": f"Мой номер {PHONE}"},
        {"role": "assistant", "content": f"Записала номер {PHONE}, {NAME}."},
        {"role": "tool", "tool_call_id": "c1", "content": f"паспорт {PASSPORT}"},
    ]

    gateway.ask("Когда можно прийти?", history=history, dialog="chat-2")

    sent = stub.received[0]["body"]["messages"]
    assert [m["content"] for m in sent[:4]] == [
        "Администратор салона — [ИМЯ_1].",
        "Мой номер [ТЕЛЕФОН_1]",
        "Записала номер [ТЕЛЕФОН_1], [ИМЯ_1].",
        "паспорт [ПАСПОРТ_1]",
    ]


def test_tool_call_arguments_in_the_history_are_pseudonymised(gateway, stub):
    arguments = json.dumps({"phone": PHONE, "name": NAME}, ensure_ascii=False)
    history = [
        {"role": "user", "content": f"Я {NAME}"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "book", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]

    gateway.ask("Спасибо", history=history)

    sent = stub.received[0]["body"]["messages"][1]["tool_calls"][0]
    assert json.loads(sent["function"]["arguments"]) == {
        "phone": "[ТЕЛЕФОН_1]",
        "name": "[ИМЯ_1]",
    }
    assert sent["id"] == "call_1"


def test_text_parts_are_pseudonymised_and_the_name_field_is_dropped(gateway, stub):
    body = {
        "model": "assistant",
        "messages": [
            {
                "role": "user",
                "name": "anna_smirnova",
                "content": [{"type": "text", "text": f"Я {NAME}, {PHONE}"}],
            }
        ],
    }

    response = gateway.post(body)

    assert answer_text(response) == f"Я {NAME}, {PHONE}"
    message = stub.received[0]["body"]["messages"][0]
    assert "name" not in message
    assert message["content"] == [{"type": "text", "text": "Я [ИМЯ_1], [ТЕЛЕФОН_1]"}]


def test_the_vendor_gets_its_own_model_name_and_no_client_reference(gateway, stub):
    body = {
        "model": "assistant",
        "user": "lead:1043",
        "temperature": 0.2,
        "messages": [{"role": "user", "content": "Привет"}],
    }

    response = gateway.post(body)

    assert response.json()["model"] == "assistant"
    sent = stub.received[0]["body"]
    assert sent["model"] == "stub-echo"
    assert sent["temperature"] == 0.2
    assert "user" not in sent


def test_one_dialog_keeps_its_placeholders_across_requests(gateway, stub):
    gateway.ask(f"Я {NAME}", dialog="chat-3")
    gateway.ask(f"Мой телефон {PHONE}", dialog="chat-3")
    third = gateway.ask(f"Запишите Олега Сидорова и {NAME}", dialog="chat-3")
    recalled = gateway.ask("Что вы помните?", model="assistant-recall", dialog="chat-3")

    assert [r["body"]["messages"][0]["content"] for r in stub.received[:3]] == [
        "Я [ИМЯ_1]",
        "Мой телефон [ТЕЛЕФОН_1]",
        "Запишите [ИМЯ_2] и [ИМЯ_1]",
    ]
    assert answer_text(third) == f"Запишите Олега Сидорова и {NAME}"
    assert answer_text(recalled) == f"Ранее: {NAME}, {PHONE}, Олег Сидоров."


def test_another_dialog_cannot_restore_this_dialogs_placeholders(gateway, stub):
    gateway.ask(f"Я {NAME}, {PHONE}", dialog="dialog-a")

    leaked = gateway.ask("Привет", model="assistant-recall", dialog="dialog-b")

    assert answer_text(leaked) == "Ранее: [ИМЯ_1], [ТЕЛЕФОН_1]."


def test_another_portals_dialog_of_the_same_id_is_separate(
    gateway, stub, app_server, make_portal, register_stub
):
    other = make_portal()
    register_stub(other)
    key = api_key_issue(portal=other, label="", actor=ADMIN)[1]
    outsider = Gateway(app_server.url, key)
    gateway.ask(f"Я {NAME}", dialog="shared-id")

    answer = outsider.ask("Кто?", model="assistant-recall", dialog="shared-id")

    assert answer_text(answer) == "Ранее: [ИМЯ_1]."


def test_a_request_without_a_dialog_is_its_own_dialog(gateway, stub):
    first = answer_text(gateway.ask(f"Я {NAME}"))
    second = answer_text(gateway.ask("Кто?", model="assistant-recall"))

    assert first == f"Я {NAME}"
    assert second == "Ранее: [ИМЯ_1]."


def test_a_placeholder_typed_into_the_chat_restores_nothing(gateway, stub):
    history = [{"role": "system", "content": f"Администратор салона — {NAME}."}]

    answer = answer_text(
        gateway.ask("Как зовут [ИМЯ_1]? А [ИМЯ_2]?", history=history, dialog="c-7")
    )

    assert NAME not in answer
    assert answer == "Как зовут ［ИМЯ_1］? А ［ИМЯ_2］?"
    assert stub.received[0]["body"]["messages"][1]["content"] == answer


def test_malformed_requests_get_openai_errors_and_reach_no_model(gateway, stub):
    cases = [
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_body"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "missing_model"),
        (b'{"model": "assistant", "messages": []}', "missing_messages"),
        (b'{"model": "assistant", "messages": [{"role": "boss"}]}', "invalid_message"),
        (
            b'{"model": "assistant", "stream": "yes",'
            b' "messages": [{"role": "user", "content": "x"}]}',
            "invalid_stream",
        ),
        (
            b'{"model": "assistant", "messages": [{"role": "user", "content":'
            b' [{"type": "image_url", "image_url": {"url": "http://x/p.png"}}]}]}',
            "unsupported_content",
        ),
    ]
    for raw, code in cases:
        response = requests.post(
            gateway.url,
            data=raw,
            headers={
                "Authorization": f"Bearer {gateway.key}",
                "Content-Type": "application/json",
            },
            timeout=10,
        )

        assert response.status_code == 400, code
        error = response.json()["error"]
        assert error["code"] == code
        assert error["type"] == "invalid_request_error"
        assert error["message"]
    assert stub.received == []


def test_bad_dialog_and_client_references_are_refused(gateway, stub):
    bad_dialog = gateway.ask("Привет", dialog="chat 1")
    bad_client = gateway.post(
        {
            "model": "assistant",
            "pdn_client_ref": "Анна Смирнова",
            "messages": [{"role": "user", "content": "Привет"}],
        }
    )

    assert bad_dialog.status_code == 400
    assert bad_dialog.json()["error"]["code"] == "invalid_dialog_id"
    assert bad_client.status_code == 400
    assert bad_client.json()["error"]["code"] == "invalid_client_ref"
    assert "Анна" not in bad_client.text
    assert stub.received == []


def test_an_unknown_model_is_404_model_not_found(gateway, stub):
    response = gateway.ask("Привет", model="gpt-4o")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_the_endpoint_needs_no_csrf_token_but_only_answers_post(gateway):
    response = requests.get(gateway.url, timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
