"""An uninstalled portal's purge takes its reveal notes and alerts with it."""

from typing import Any

from django.dispatch import receiver

from compliance.phones.models import (
    DepartmentRole,
    PhonePolicy,
    RevealAlert,
    RevealNote,
)
from integrator.install import portal_purged


@receiver(portal_purged)
def purge_phone_rows(sender: Any, portal_id: int, **kwargs: Any) -> None:
    RevealNote.objects.filter(portal_id=portal_id).delete()
    RevealAlert.objects.filter(portal_id=portal_id).delete()
    DepartmentRole.objects.filter(portal_id=portal_id).delete()
    PhonePolicy.objects.filter(portal_id=portal_id).delete()
