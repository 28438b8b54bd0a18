"""The dialog mapping: JSON round trip, exact restoring, streamed answers."""

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pii import Mapping, Pseudonymiser, StreamRestorer, detect
from pii.generator import ChatGenerator

DIALOG = [
    "Здравствуйте, я Анна Смирнова, тел. 8 (900) 123-45-67.",
    "Передайте Анне Смирновой: СНИЛС 464-460-495 00, почта anna.s@mail.ru.",
    "Перезвоните на +7 900 123 45 67, пожалуйста.",
]


def pseudonymised_dialog():
    p = Pseudonymiser()
    outs = [p.pseudonymise(m) for m in DIALOG]
    return p, outs


def test_the_mapping_survives_json_and_restores_the_same():
    p, outs = pseudonymised_dialog()
    again = Pseudonymiser(Mapping.from_json(p.mapping.to_json()))
    assert [again.restore(o) for o in outs] == DIALOG
    assert again.pseudonymise("Анна Смирнова снова тут") == "[ИМЯ_1] снова тут"
    assert (
        again.pseudonymise("новый номер 8 812 555-01-23") == "новый номер [ТЕЛЕФОН_2]"
    )


def test_the_json_holds_no_placeholder_twice():
    p, _ = pseudonymised_dialog()
    data = json.loads(p.mapping.to_json())
    placeholders = [(e["kind"], e["number"]) for e in data["entities"]]
    assert len(placeholders) == len(set(placeholders))


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "{}",
        '{"version": 99, "entities": []}',
        '{"version": 1, "entities": [{"kind": "NOPE"}]}',
        '{"version": 1, "entities": [{"kind": "PERSON", "number": 1}]}',
    ],
)
def test_a_malformed_mapping_is_a_clear_error(bad):
    with pytest.raises(ValueError):
        Mapping.from_json(bad)


def test_mangled_and_unknown_placeholders_are_left_as_they_are():
    p, _ = pseudonymised_dialog()
    answer = "[ИМЯ_1 и [ИМЯ 1] и [ИМЯ_7] и [имя_1] и [ТЕЛЕФОН_0] и ИМЯ_1"
    assert p.restore(answer) == answer


def test_restoring_uses_only_this_dialogs_mapping():
    _, outs = pseudonymised_dialog()
    assert Pseudonymiser().restore(outs[0]) == outs[0]
    assert "Анна" not in Pseudonymiser().restore(outs[0])


def test_one_phone_in_two_writings_restores_each_writing_where_it_was():
    p, outs = pseudonymised_dialog()
    assert "[ТЕЛЕФОН_1]" in outs[0] and "[ТЕЛЕФОН_1]" in outs[2]
    assert p.restore(outs[2]) == DIALOG[2]
    assert p.restore(outs[0]) == DIALOG[0]


def test_a_placeholder_in_new_surroundings_gets_a_real_writing():
    p, _ = pseudonymised_dialog()
    assert p.restore("Ответ для [ИМЯ_1] готов") == "Ответ для Анны Смирновой готов"
    assert p.restore("[ИМЯ_1] ответит сама") == "Анна Смирнова ответит сама"


def test_the_stream_restorer_gives_the_same_text_for_every_split_point():
    p, outs = pseudonymised_dialog()
    answer = f"Итак: {outs[1]} И ещё [ТЕЛЕФОН_1]. [b]Конец[/b] [ИМЯ_9] [ИМЯ_"
    expected = p.restore(answer)
    for cut in range(len(answer) + 1):
        restorer = p.stream_restorer()
        got = (
            restorer.feed(answer[:cut]) + restorer.feed(answer[cut:]) + restorer.close()
        )
        assert got == expected, cut


def test_the_stream_restorer_takes_one_character_at_a_time():
    p, outs = pseudonymised_dialog()
    answer = " / ".join(outs)
    restorer = StreamRestorer(p.mapping)
    got = "".join(restorer.feed(ch) for ch in answer) + restorer.close()
    assert got == " / ".join(DIALOG)


def test_the_stream_restorer_releases_plain_text_at_once():
    p, _ = pseudonymised_dialog()
    restorer = p.stream_restorer()
    assert restorer.feed("Добрый день, ") == "Добрый день, "
    assert restorer.feed("[ИМ") == ""
    assert restorer.feed("Я_1]") == ""
    assert restorer.close() == "Анна Смирнова"


def test_a_closed_stream_restorer_refuses_more_text():
    restorer = Pseudonymiser().stream_restorer()
    restorer.close()
    with pytest.raises(ValueError):
        restorer.feed("ещё")


CORPUS = [m.text for dialog in ChatGenerator(7).corpus(300) for m in dialog]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(CORPUS), min_size=1, max_size=4),
    st.sampled_from(["", " ", "\n", "[b]", "; "]),
)
def test_restore_of_pseudonymise_is_the_original(messages, joiner):
    p = Pseudonymiser()
    for message in messages:
        text = joiner + message + joiner
        assert p.restore(p.pseudonymise(text)) == text


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="абв АБВ0123456789+-()[]._@,.ИМЯ", max_size=60))
def test_restore_of_pseudonymise_holds_for_arbitrary_text(text):
    p = Pseudonymiser()
    out = p.pseudonymise(text)
    if "[" not in text:
        assert p.restore(out) == text


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="аяВ МЯ.0123456789+-() Анна", max_size=40))
def test_detected_spans_never_overlap(text):
    spans = detect(text)
    for left, right in itertools.pairwise(spans):
        assert left.end <= right.start


def test_an_initial_glued_to_a_word_restores_exactly():
    p = Pseudonymiser()
    assert p.restore(p.pseudonymise(" В.МЯ")) == " В.МЯ"
