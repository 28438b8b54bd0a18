import json

from tests.aigateway.conftest import sent_text

NAME = "Анна Смирнова"
PHONE = "+7 912 345-67-89"
CHAT = f"Я {NAME}, телефон {PHONE}. Перезвоните мне завтра, {NAME}"


def read_stream(response):
    """The content of a streamed answer and the raw events, checked for shape."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = [
        line[len("data: ") :]
        for line in response.iter_lines(decode_unicode=True)
        if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk["choices"]
    )
    return text, chunks


def stream(gateway, text, **kw):
    body = {
        "model": kw.pop("model", "assistant"),
        "stream": True,
        "messages": [{"role": "user", "content": text}],
    }
    return gateway.post(body, stream=True, **kw)


def test_a_streamed_answer_is_restored_and_ends_with_done(gateway, stub):
    text, chunks = read_stream(stream(gateway, CHAT, dialog="s-1"))

    assert text == CHAT
    assert chunks[0]["model"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert NAME not in sent_text(stub)
    assert "345" not in sent_text(stub)


def test_placeholders_split_at_every_position_are_restored(gateway, stub):
    read_stream(stream(gateway, CHAT, dialog="s-2"))
    sent = stub.received[0]["body"]["messages"][0]["content"]
    assert "[ИМЯ_1]" in sent and "[ТЕЛЕФОН_1]" in sent

    for cut in range(1, len(sent)):
        stub.split_at = [cut]
        text, _ = read_stream(stream(gateway, CHAT, dialog="s-2"))
        assert text == CHAT, f"cut at {cut}"


def test_one_character_per_chunk_is_restored(gateway, stub):
    stub.chunk_size = 1

    text, chunks = read_stream(stream(gateway, CHAT, dialog="s-3"))

    assert text == CHAT
    assert len(chunks) > len(CHAT) // 2


def test_reordered_and_repeated_placeholders_stream_back_restored(gateway, stub):
    stub.chunk_size = 2

    reordered, _ = read_stream(stream(gateway, CHAT, model="assistant-reorder"))
    repeated, _ = read_stream(stream(gateway, CHAT, model="assistant-repeat"))

    assert reordered == f"Проверяю данные: {NAME}, {PHONE}, {NAME}."
    assert repeated.count(NAME) == 4
    assert repeated.count(PHONE) == 2


def test_a_text_ending_in_a_bracket_is_released_at_the_end(gateway, stub):
    stub.chunk_size = 1

    text, _ = read_stream(stream(gateway, "Ответ в скобках [ИМ"))

    assert text == "Ответ в скобках [ИМ"


def test_a_vendor_failing_before_the_stream_is_a_502_json_error(gateway, stub):
    response = stream(gateway, CHAT, model="assistant-broken")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_status_500"


def stream_events(response):
    assert response.status_code == 200
    return [
        line[len("data: ") :]
        for line in response.iter_lines(decode_unicode=True)
        if line.startswith("data: ")
    ]


def test_a_stream_cut_short_by_the_vendor_ends_in_an_error_not_done(gateway, stub):
    events = stream_events(stream(gateway, CHAT, model="assistant-truncate"))

    assert "[DONE]" not in events
    assert json.loads(events[-1])["error"]["code"] == "upstream_stream_truncated"


def test_a_vendor_error_inside_the_stream_is_passed_on_as_a_code(gateway, stub):
    events = stream_events(stream(gateway, CHAT, model="assistant-stream-error"))

    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "upstream_stream_error"
    assert "failed after" not in events[-1]
