"""Whether the gateway may process a client's data at all.

The consent ledger (and anything else that ends processing, such as an
erasure request) calls ``client_block`` when consent is withdrawn; the
gateway asks ``processing_allowed`` before every request. Client references
read ``<kind>:<id>``, e.g. ``lead:1043``, ``contact:7``, ``chat:5512``.
"""

import re

from django.db import transaction

from aigateway.models import BlockedClient, DialogMapping
from compliance.journal import SUBJECT_RE, Actor, journal_record
from integrator.models import Portal

CLIENT_REF_RE = re.compile(r"^[a-z][a-z_]{0,31}:[0-9]{1,18}$")


def valid_client_ref(client_ref: str) -> bool:
    return bool(CLIENT_REF_RE.match(client_ref))


def client_subject(client_ref: str) -> str:
    """The journal subject for a client reference (``lead:1043`` → ``lead#1043``)."""
    kind, _, number = client_ref.partition(":")
    subject = f"{kind}#{number}"
    # A kind of record the journal does not name stays out of the subject.
    return subject if number and SUBJECT_RE.match(subject) else ""


def processing_allowed(portal: Portal, client_ref: str) -> bool:
    """False once the client's data must no longer reach an AI vendor."""
    return not BlockedClient.objects.filter(
        portal=portal, client_ref=client_ref
    ).exists()


def client_block(
    *,
    portal: Portal,
    client_ref: str,
    reason: str = BlockedClient.Reason.CONSENT_WITHDRAWN,
    actor: Actor,
) -> bool:
    """Stop the gateway for a client and empty its dialogs' mappings.

    Idempotent: False if the client was already blocked. The mappings go at
    once because they hold the client's real values and serve nothing now.
    """
    if not valid_client_ref(client_ref):
        raise ValueError("client_ref must look like lead:1043")
    if reason not in BlockedClient.Reason.values:
        raise ValueError("unknown reason")
    with transaction.atomic():
        _, created = BlockedClient.objects.get_or_create(
            portal=portal, client_ref=client_ref, defaults={"reason": reason}
        )
        # The rows stay, emptied, so their dialogs stay bound to the client
        # and cannot be continued by a request that leaves the client out.
        forgotten = (
            DialogMapping.objects.filter(portal=portal, client_ref=client_ref)
            .exclude(mapping_sealed="")
            .update(mapping_sealed="")
        )
        if created:
            journal_record(
                portal=portal,
                action="ai.client.blocked",
                actor=actor,
                subject=client_subject(client_ref),
                details={"reason": reason, "mappings_emptied": forgotten},
            )
    return created


def client_unblock(*, portal: Portal, client_ref: str, actor: Actor) -> bool:
    """Allow processing again (a new consent was given); False if not blocked."""
    with transaction.atomic():
        deleted, _ = BlockedClient.objects.filter(
            portal=portal, client_ref=client_ref
        ).delete()
        if deleted:
            journal_record(
                portal=portal,
                action="ai.client.unblocked",
                actor=actor,
                subject=client_subject(client_ref),
            )
    return bool(deleted)
