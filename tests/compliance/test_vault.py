import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from b24app import crypto
from compliance import vault

GROUPS = {
    "+79001234567": [
        "8 (900) 123-45-67",
        "+7 900 123 45 67",
        "89001234567",
        "7-900-123-45-67",
        "+7(900)1234567",
        "8-900-123-4567",
        "900 123 45 67",
    ],
    "+78125550123": ["8 (812) 555-01-23", "+7 812 555 01 23", "812 555 01 23"],
    "+78005553535": ["8 800 555-35-35"],
}
ALL_WRITINGS = [(e164, raw) for e164, raws in GROUPS.items() for raw in raws]
ROTATED_KEYS = (
    "2:c2Vjb25kLW1hc3Rlci1rZXktZm9yLXJvdGF0aW9uLXRlc3Q=,"
    + "1:cGRuLWd1YXJkLWRldmVsb3BtZW50LW1hc3Rlci1rZXk="
)


@pytest.mark.parametrize(("e164", "raw"), ALL_WRITINGS)
def test_every_writing_normalises_to_its_e164(e164, raw):
    assert vault.normalise(raw) == e164


def test_no_writing_loses_an_area_code_digit():
    results = {vault.normalise(raw) for _, raw in ALL_WRITINGS}

    assert "+7005553535" not in results
    assert "+7125550123" not in results


@pytest.mark.parametrize("raw", ["", "   ", "abc", "123", "8 900 123", "+7 000 000"])
def test_invalid_numbers_raise_a_value_error_that_does_not_repeat_them(raw):
    with pytest.raises(vault.PhoneNumberError) as caught:
        vault.normalise(raw)

    assert isinstance(caught.value, ValueError)
    if raw.strip():
        assert raw.strip() not in str(caught.value)


@pytest.mark.django_db
def test_one_pseudonym_per_group_and_different_across_groups(portal):
    by_group = {
        e164: {vault.pseudonym(portal, raw) for raw in raws}
        for e164, raws in GROUPS.items()
    }

    assert all(len(pseudonyms) == 1 for pseudonyms in by_group.values())
    assert len(set.union(*by_group.values())) == len(GROUPS)


@pytest.mark.django_db
def test_pseudonym_is_a_versioned_hmac_not_a_bare_hash(portal):
    import hashlib

    value = vault.pseudonym(portal, "+79001234567")

    assert vault.PSEUDONYM_RE.match(value)
    assert value.startswith(f"ph{crypto.current_version()}:")
    assert hashlib.sha256(b"+79001234567").hexdigest() not in value


@pytest.mark.django_db
def test_different_portals_get_different_pseudonyms(make_portal):
    first, second = make_portal(), make_portal()

    assert vault.pseudonym(first, "89001234567") != vault.pseudonym(
        second, "89001234567"
    )


def test_mask_shows_only_the_last_two_digits():
    assert vault.mask("8 (900) 123-45-67") == "+7 900 ***-**-67"
    assert "234567" not in vault.mask("+79001234567")


@pytest.mark.django_db
def test_the_original_opens_only_for_its_own_portal(make_portal):
    first, second = make_portal(), make_portal()
    sealed = vault.encrypt_phone(first, "8 (900) 123-45-67")

    assert "9001234567" not in sealed
    assert vault.decrypt_phone(first, sealed) == "+79001234567"
    with pytest.raises(crypto.CryptoError):
        vault.decrypt_phone(second, sealed)


@pytest.mark.django_db
def test_rotation_reseals_under_the_new_key_while_the_old_still_opens(portal):
    old = vault.encrypt_phone(portal, "+79001234567")

    with override_settings(PDN_MASTER_KEYS=ROTATED_KEYS):
        assert vault.needs_reseal(old)
        assert vault.decrypt_phone(portal, old) == "+79001234567"
        new = vault.reseal_phone(portal, old)

        assert new.startswith("v2:")
        assert vault.decrypt_phone(portal, new) == "+79001234567"
        assert vault.reseal_phone(portal, new) == new
        assert vault.pseudonyms(portal, "89001234567")[1] == vault.pseudonym(
            portal, "+79001234567", version=1
        )


@pytest.mark.django_db
def test_rotate_keys_command_reseals_portal_tokens(portal):
    from django.core.management import call_command

    portal.set_tokens(access="access-1", refresh="refresh-1")
    portal.save()

    with override_settings(PDN_MASTER_KEYS=ROTATED_KEYS):
        call_command("rotate_keys", "--dry-run")
        portal.refresh_from_db()
        assert portal.access_token_sealed.startswith("v1:")

        call_command("rotate_keys")
        portal.refresh_from_db()

        assert portal.access_token_sealed.startswith("v2:")
        assert portal.refresh_token_sealed.startswith("v2:")
        assert portal.access_token == "access-1"
        assert portal.refresh_token == "refresh-1"


@pytest.mark.django_db
def test_protecting_a_phone_gives_pseudonym_sealed_original_and_mask(portal):
    protected = vault.phone_protect(portal=portal, raw="8 (900) 123-45-67")

    assert protected.pseudonym == vault.pseudonym(portal, "+79001234567")
    assert protected.masked == "+7 900 ***-**-67"
    assert vault.decrypt_phone(portal, protected.sealed) == "+79001234567"


@pytest.mark.django_db
def test_a_reveal_returns_the_number_and_journals_it_without_the_number(portal):
    from compliance.journal import Actor, verify_chain
    from compliance.models import JournalEntry

    sealed = vault.encrypt_phone(portal, "+79001234567")

    shown = vault.phone_reveal(
        portal=portal,
        lead_id=1043,
        sealed=sealed,
        actor=Actor.user(17, "revealer"),
        reason="callback",
    )

    entry = JournalEntry.objects.get(portal=portal)
    assert shown == "+79001234567"
    assert (entry.action, entry.subject) == ("lead.phone.revealed", "lead#1043")
    assert vault.pseudonym(portal, shown) in entry.details
    assert "1234567" not in entry.details + entry.subject
    assert verify_chain(portal).ok


@pytest.mark.django_db
def test_no_reveal_without_a_reason_code_and_no_entry_for_a_bad_seal(portal):
    from compliance.journal import Actor, JournalError
    from compliance.models import JournalEntry

    sealed = vault.encrypt_phone(portal, "+79001234567")
    actor = Actor.user(17, "revealer")

    with pytest.raises(JournalError):
        vault.phone_reveal(
            portal=portal, lead_id=1, sealed=sealed, actor=actor, reason="curious"
        )
    with pytest.raises(crypto.CryptoError):
        vault.phone_reveal(
            portal=portal,
            lead_id=1,
            sealed=sealed[:-4] + "AAAA",
            actor=actor,
            reason="callback",
        )
    assert not JournalEntry.objects.exists()


def _writings(national: str) -> list[str]:
    """Ways people write one Russian number, built from its ten national digits."""
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    return [
        f"+7{national}",
        f"8{national}",
        f"7{national}",
        national,
        f"8 ({a}) {b}-{c}-{d}",
        f"+7 {a} {b} {c} {d}",
        f"+7({a}){b}{c}{d}",
        f"8-{a}-{b}-{c}{d}",
        f"7-{a}-{b}-{c}-{d}",
    ]


@given(
    prefix=st.sampled_from(["900", "912", "916", "926", "495", "812", "343", "800"]),
    rest=st.from_regex(r"\A[0-9]{7}\Z"),
)
@settings(max_examples=60, deadline=None)
def test_any_writing_of_a_valid_number_normalises_to_one_e164(prefix, rest):
    national = prefix + rest
    try:
        expected = vault.normalise(f"+7{national}")
    except vault.PhoneNumberError:
        return

    assert {vault.normalise(raw) for raw in _writings(national)} == {expected}
    assert expected == f"+7{national}"
