import pytest

from compliance.consent.replies import Reply, classify_reply, is_withdrawal


@pytest.mark.parametrize(
    "message",
    [
        "Да, согласен",
        "ну да",
        "ДА!",
        "согласна",
        "Согласна.",
        "да",
        "Конечно да",
        "не против",
        "👍",
        "Даю согласие",
        "ok",
    ],
)
def test_a_plain_agreement_is_consent(message):
    assert classify_reply(message) is Reply.YES


@pytest.mark.parametrize(
    "message",
    ["не согласна", "Нет", "нет, не согласна", "НЕТ!!!", "против", "Не согласен."],
)
def test_a_plain_refusal_is_a_refusal(message):
    assert classify_reply(message) is Reply.NO


@pytest.mark.parametrize(
    "message",
    [
        "да, но не звоните мне",
        "даже не знаю",
        "да нет",
        "а что это?",
        "",
        "   ",
        "не",
        "Да, если только для записи",
        "подумаю",
        "дада",
    ],
)
def test_anything_qualified_or_hesitant_is_unclear_never_yes(message):
    assert classify_reply(message) is Reply.UNCLEAR


def test_bb_codes_and_the_quoted_author_are_not_part_of_the_answer():
    message = "[b]Анна Смирнова:[/b][br]нет, не согласна"

    assert classify_reply(message) is Reply.NO


def test_a_name_in_the_answer_makes_it_unclear_rather_than_yes():
    # Only the author prefix is stripped; a name inside the text is content.
    assert classify_reply("да, Анна согласна") is Reply.UNCLEAR


@pytest.mark.parametrize(
    "message",
    [
        "Отзываю согласие",
        "я отзываю своё согласие на обработку",
        "удалите мои данные",
        "Удалите, пожалуйста, мои персональные данные",
        "прошу удалить мой номер",
        "не обрабатывайте мои данные",
        "Хочу отозвать согласие",
        "[b]Клиент:[/b][br]ОТЗЫВАЮ СОГЛАСИЕ",
    ],
)
def test_withdrawal_is_recognised_in_its_usual_wordings(message):
    assert is_withdrawal(message)


@pytest.mark.parametrize(
    "message",
    ["Да, согласен", "удалите запись на пятницу", "согласие уже давал", "нет"],
)
def test_ordinary_messages_are_not_withdrawals(message):
    assert not is_withdrawal(message)
