"""Names in every case, in lower case, and words that only look like names."""

import pytest

from pii import Kind, Pseudonymiser, detect
from pii.names import normal_name

C10_FIRST = (
    "Здравствуйте, я Анна Смирнова. Передайте Ивану Петрову, что договор для "
    "Ивана Петрова готов. Анне Смирновой перезвонят?"
)
C10_SECOND = "Иван Петров звонил ещё раз."


def persons(text):
    return [s.value for s in detect(text) if s.kind is Kind.PERSON]


def test_a_dialog_gets_one_placeholder_per_person_across_cases():
    p = Pseudonymiser()
    first = p.pseudonymise(C10_FIRST)
    second = p.pseudonymise(C10_SECOND)
    assert first == (
        "Здравствуйте, я [ИМЯ_1]. Передайте [ИМЯ_2], что договор для [ИМЯ_2] "
        "готов. [ИМЯ_1] перезвонят?"
    )
    assert second == "[ИМЯ_2] звонил ещё раз."
    assert p.mapping.placeholders() == {
        "[ИМЯ_1]": ["Анна Смирнова", "Анне Смирновой"],
        "[ИМЯ_2]": ["Ивану Петрову", "Ивана Петрова", "Иван Петров"],
    }


def test_the_stored_lemma_keeps_the_feminine_gender():
    p = Pseudonymiser()
    p.pseudonymise(C10_FIRST)
    assert p.mapping.display("[ИМЯ_1]") == "Анна Смирнова"
    assert normal_name("Анне Смирновой") == "анна смирнова"


def test_restoring_an_answer_inserts_a_real_form_of_the_name():
    p = Pseudonymiser()
    p.pseudonymise(C10_FIRST)
    p.pseudonymise(C10_SECOND)
    assert (
        p.restore("[ИМЯ_2] получит договор завтра")
        == "Иван Петров получит договор завтра"
    )


def test_another_dialog_does_not_share_placeholders():
    first, other = Pseudonymiser(), Pseudonymiser()
    first.pseudonymise(C10_FIRST)
    assert other.pseudonymise(C10_SECOND) == "[ИМЯ_1] звонил ещё раз."
    assert other.restore("[ИМЯ_2] и [ИМЯ_1]") == "[ИМЯ_2] и Иван Петров"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("ивану петрову", "иван петров"),
        ("марии сергеевне кузнецовой", "мария сергеевна кузнецова"),
        ("Иванову Марию Петровну", "иванова мария петровна"),
        ("Семёну Фёдорову", "семен федоров"),
        ("Петров Иван Сергеевич", "петров иван сергеевич"),
        ("Ольгой Соколовой", "ольга соколова"),
    ],
)
def test_names_normalise_to_the_nominative_in_their_gender(text, normal):
    assert persons(f"Передайте, пожалуйста: {text} ждёт.") == [text]
    assert normal_name(text) == normal


def test_lower_case_and_surname_first_names_are_found():
    assert persons("запишите петрову анну на завтра") == ["петрову анну"]
    assert persons("мастер юля свободна?") == ["юля"]
    assert persons("передайте маше, что я опоздаю") == ["маше"]


def test_capitalised_words_before_a_number_are_not_names():
    assert persons("Спасибо Артикул 725374, размер 42.") == []
    assert persons("спасибо Приём 04.07.2025 в 12:15") == []


def test_ё_and_е_writings_are_one_person():
    p = Pseudonymiser()
    assert p.pseudonymise("Звонил Семён Фёдоров") == "Звонил [ИМЯ_1]"
    assert p.pseudonymise("звонил семен федоров") == "звонил [ИМЯ_1]"


@pytest.mark.parametrize(
    "text",
    [
        "Вера в успех помогает.",
        "Надежда есть, ждём ответа.",
        "Любовь к своему делу видна сразу.",
        "у меня есть надежда и вера",
        "Добрый день! Спасибо, жду.",
    ],
)
def test_common_words_that_are_also_names_stay(text):
    assert persons(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Меня зовут Вера", "Вера"),
        ("Записала Веру Ивановну", "Веру Ивановну"),
        ("надежда петровна придёт в 10:30", "надежда петровна"),
        ("Позовите Веру к телефону", "Веру"),
    ],
)
def test_those_words_are_names_when_something_supports_it(text, name):
    assert persons(text) == [name]


def test_bb_codes_survive_and_the_name_inside_them_is_replaced():
    p = Pseudonymiser()
    text = "[b]Анна Смирнова:[/b][br]нет, не согласна"
    out = p.pseudonymise(text)
    assert out == "[b][ИМЯ_1]:[/b][br]нет, не согласна"
    assert p.restore(out) == text


def test_a_name_after_a_preposition_is_restored_in_the_case_it_governs():
    p = Pseudonymiser()
    p.pseudonymise(C10_FIRST)
    assert p.restore("Договор для [ИМЯ_1] готов") == "Договор для Анны Смирновой готов"
    assert p.restore("Поговорим о [ИМЯ_2] позже") == "Поговорим о Иване Петрове позже"
