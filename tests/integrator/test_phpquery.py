"""PHP-style query strings: what a batch command and an event body look like."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrator import phpquery


def test_it_writes_nested_multifields_as_bracket_keys_with_plus_escaped():
    query = phpquery.encode(
        {
            "id": 77,
            "fields": {
                "PHONE": [{"ID": "311", "VALUE": "+79001234567", "VALUE_TYPE": "WORK"}]
            },
        }
    )

    assert query == (
        "id=77&fields[PHONE][0][ID]=311&fields[PHONE][0][VALUE]=%2B79001234567"
        "&fields[PHONE][0][VALUE_TYPE]=WORK"
    )


def test_it_never_lets_a_plus_or_a_space_through_raw():
    query = phpquery.encode({"filter": {"PHONE": "+7 900 123-45-67"}})

    assert query == "filter[PHONE]=%2B7%20900%20123-45-67"
    assert "+" not in query


def test_it_percent_encodes_cyrillic_as_utf8():
    query = phpquery.encode({"fields": {"TITLE": "Заявка Анны"}})

    assert query == (
        "fields[TITLE]=%D0%97%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0%20%D0%90%D0%BD%D0%BD%D1%8B"
    )


def test_it_passes_batch_result_references_through_unchanged():
    query = phpquery.encode({"filter": {">ID": "$result[p0][49][ID]"}})

    assert query == "filter[%3EID]=$result[p0][49][ID]"


def test_it_writes_booleans_as_php_does_and_drops_nulls():
    query = phpquery.encode({"halt": True, "skip": False, "nothing": None})

    assert query == "halt=1&skip=0"


def test_it_refuses_values_a_query_cannot_carry():
    with pytest.raises(phpquery.QueryError):
        phpquery.encode({"when": object()})


def test_it_reads_an_event_body_into_nested_dicts():
    body = (
        "event=ONCRMLEADUPDATE&data%5BFIELDS%5D%5BID%5D=1043&ts=1696527000"
        "&auth%5Bmember_id%5D=m-001&auth%5Bapplication_token%5D=abc+def"
    )

    assert phpquery.decode(body) == {
        "event": "ONCRMLEADUPDATE",
        "data": {"FIELDS": {"ID": "1043"}},
        "ts": "1696527000",
        "auth": {"member_id": "m-001", "application_token": "abc def"},
    }


def test_it_reads_empty_brackets_as_appends_and_consecutive_keys_as_lists():
    assert phpquery.decode("a[]=x&a[]=y&b[0]=1&b[2]=3") == {
        "a": ["x", "y"],
        "b": {"0": "1", "2": "3"},
    }


def test_it_keeps_a_key_with_an_unclosed_bracket_flat_as_php_does():
    assert phpquery.decode("a[b=1") == {"a_b": "1"}


def test_it_nests_pairs_from_an_already_parsed_form():
    pairs = [("auth[domain]", "portal.example"), ("auth[scope]", "crm")]

    assert phpquery.nest(pairs) == {
        "auth": {"domain": "portal.example", "scope": "crm"}
    }


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12
)
_key = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="[]\x00"),
    min_size=1,
    max_size=8,
).filter(lambda k: not k.isdigit() and not k.startswith("$"))
_values = st.recursive(
    _text,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(_key, inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(_key, _values, min_size=1, max_size=4))
def test_it_reads_back_exactly_what_it_wrote(params):
    assert phpquery.decode(phpquery.encode(params)) == params
