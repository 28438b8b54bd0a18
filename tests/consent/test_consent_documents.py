import hashlib

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client

from compliance.consent import documents
from compliance.consent.models import ConsentDocument, ConsentStatus, FrozenError
from compliance.models import JournalEntry
from tests.consent.conftest import ADMIN, CLIENT, ask, reply

pytestmark = pytest.mark.django_db


def test_each_purpose_is_a_document_of_its_own_with_its_hash(portal, salon_settings):
    documents.settings_update(portal=portal, actor=ADMIN, clinic=True, marketing=True)

    texts = {
        purpose: documents.document_current(portal=portal, purpose=purpose)
        for purpose in ("processing", "health", "marketing")
    }

    assert len({doc.sha256 for doc in texts.values()}) == 3
    for doc in texts.values():
        assert doc.version == 1
        assert doc.sha256 == hashlib.sha256(doc.text.encode()).hexdigest()
    # No text carries another purpose's consent (156-FZ: no bundling).
    assert "рекламных" not in texts["processing"].text
    assert "состоянии здоровья" not in texts["processing"].text
    assert "запись на услуги, подтверждение" not in texts["marketing"].text


def test_the_default_text_holds_what_article_9_part_4_requires(portal, salon_settings):
    text = documents.document_current(portal=portal, purpose="processing").text

    assert "ИП Смирнова Анна Сергеевна" in text  # operator
    assert "ИНН 616100000000" in text
    assert "Ростов-на-Дону, ул. Большая Садовая" in text  # operator's address
    assert "Цель обработки: запись на услуги" in text
    assert "Перечень персональных данных: имя, номер телефона" in text
    assert "ООО «Облако», адрес: г. Москва" in text  # processor and address
    assert "Действия с данными: сбор, запись" in text
    assert "Способ обработки: смешанный" in text
    assert "Срок действия согласия: до достижения целей" in text
    assert "«Отзываю согласие»" in text and "salon@example.ru" in text
    assert "30 дней" in text


def test_an_unconfigured_portal_still_gets_a_text_that_says_what_is_missing(portal):
    text = documents.document_current(portal=portal, purpose="processing").text

    assert "(наименование оператора не указано)" in text
    assert "не привлекаются" in text


def test_editing_a_text_publishes_a_new_version_and_keeps_the_old_one(
    portal, salon_settings
):
    first = documents.document_current(portal=portal, purpose="processing")
    edited = first.text.replace("ответы на мои вопросы", "ответы на вопросы")

    second, created = documents.document_publish(
        portal=portal, purpose="processing", text=edited, actor=ADMIN
    )
    again, created_again = documents.document_publish(
        portal=portal, purpose="processing", text=edited + "\r\n", actor=ADMIN
    )

    assert created and second.version == 2 and second.custom
    assert not created_again and again.pk == second.pk
    first.refresh_from_db()
    assert "ответы на мои вопросы" in first.text
    assert documents.document_current(portal=portal, purpose="processing") == second


def test_a_published_version_cannot_be_changed_even_by_sql(portal, salon_settings):
    document = documents.document_current(portal=portal, purpose="processing")

    document.text = "Другой текст"
    with pytest.raises(FrozenError):
        document.save()
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        ConsentDocument.objects.filter(pk=document.pk).update(text="x")
    refused = pytest.raises(DatabaseError, match="never changes")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE consent_consentdocument SET sha256 = 'x' WHERE id = %s",
            [document.pk],
        )


def test_the_same_version_number_is_never_issued_twice(portal, salon_settings):
    document = documents.document_current(portal=portal, purpose="processing")

    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentDocument.objects.create(
            portal=portal,
            purpose="processing",
            version=document.version,
            text="x",
            sha256="0" * 64,
        )


def test_too_short_or_unknown_texts_are_refused_clearly(portal):
    with pytest.raises(documents.DocumentError, match="too short"):
        documents.document_publish(
            portal=portal, purpose="processing", text="Согласен.", actor=ADMIN
        )
    with pytest.raises(documents.DocumentError, match="unknown purpose"):
        documents.document_publish(
            portal=portal, purpose="profiling", text="x" * 300, actor=ADMIN
        )
    with pytest.raises(documents.DocumentError, match="processor 1 needs a name"):
        documents.settings_update(portal=portal, actor=ADMIN, processors=[{}])
    assert not ConsentDocument.objects.filter(portal=portal).exists()


def test_publishing_is_journaled_with_version_and_hash_only(portal, salon_settings):
    document = documents.document_current(portal=portal, purpose="processing")

    entry = JournalEntry.objects.filter(
        portal=portal, action="consent.document.published"
    ).last()

    assert entry is not None
    assert document.sha256 in entry.details
    assert "Смирнова" not in entry.details


def test_adding_a_processor_asks_granted_clients_again(portal, salon_settings):
    ask(portal)
    reply(portal, "Да, согласен", message_id=90002)

    published = documents.settings_update(
        portal=portal,
        actor=ADMIN,
        processors=[
            *salon_settings.processors,
            {"name": "ООО «Нейро»", "address": "г. Казань"},
        ],
    )

    status = ConsentStatus.objects.get(portal=portal, client_ref=CLIENT)
    assert [d.version for d in published] == [2]
    assert status.state == ConsentStatus.State.NEEDS_RENEWAL
    assert status.document == published[0]


def test_a_changed_address_alone_publishes_a_version_but_keeps_consents(
    portal, salon_settings
):
    ask(portal)
    reply(portal, "да", message_id=90002)

    published = documents.settings_update(
        portal=portal,
        actor=ADMIN,
        operator_address="г. Ростов-на-Дону, пр. Будённовский, 5",
    )

    assert [d.version for d in published] == [2]
    status = ConsentStatus.objects.get(portal=portal, client_ref=CLIENT)
    assert status.state == ConsentStatus.State.GRANTED
    assert status.document.version == 1


def test_the_public_page_shows_the_frozen_text_and_no_client(portal, salon_settings):
    ask(portal)
    reply(portal, "Да, согласен. Анна, +7 900 123-45-67", message_id=90002)
    document = documents.document_current(portal=portal, purpose="processing")
    outsider = Client()

    page = outsider.get(documents.document_path(document))
    text = outsider.get(documents.document_path(document) + "?format=txt")

    assert page.status_code == 200
    body = page.content.decode()
    assert document.sha256 in body
    assert "Цель обработки: запись на услуги" in body
    assert "+7 900" not in body and "Анна," not in body
    assert text.content.decode() == document.text
    assert hashlib.sha256(text.content).hexdigest() == document.sha256


def test_the_public_page_of_an_old_version_says_a_newer_one_exists(
    portal, salon_settings
):
    first = documents.document_current(portal=portal, purpose="processing")
    documents.document_publish(
        portal=portal,
        purpose="processing",
        text=first.text + "\nДополнение.",
        actor=ADMIN,
    )

    page = Client().get(documents.document_path(first))

    assert page.status_code == 200
    assert "есть более новая версия" in page.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/consent/{public_id}/processing/v9/",
        "/consent/{public_id}/profiling/v1/",
        "/consent/nobody/processing/v1/",
    ],
)
def test_unknown_documents_are_not_found(portal, salon_settings, path):
    documents.document_current(portal=portal, purpose="processing")

    response = Client().get(path.format(public_id=salon_settings.public_id))

    assert response.status_code == 404


def test_the_link_is_absolute_on_the_apps_origin(portal, salon_settings, settings):
    settings.APP_BASE_URL = "https://pdn.example.ru"
    document = documents.document_current(portal=portal, purpose="processing")

    assert documents.document_url(document) == (
        f"https://pdn.example.ru/consent/{salon_settings.public_id}/processing/v1/"
    )


def test_the_operator_may_word_the_purpose_and_the_data_list(portal, salon_settings):
    published = documents.settings_update(
        portal=portal,
        actor=ADMIN,
        purpose_texts={"processing": "запись на окрашивание волос."},
        data_lists={"processing": "имя и номер телефона"},
    )

    (document,) = published
    assert "Цель обработки: запись на окрашивание волос.\n" in document.text
    assert "Перечень персональных данных: имя и номер телефона.\n" in document.text


def test_a_wording_for_an_unknown_purpose_is_refused(portal, salon_settings):
    with pytest.raises(documents.DocumentError, match="unknown purpose"):
        documents.settings_update(
            portal=portal, actor=ADMIN, data_lists={"profiling": "всё"}
        )
