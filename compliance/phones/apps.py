from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PhonesConfig(AppConfig):
    name = "compliance.phones"
    label = "phones"
    verbose_name = _("Защита телефонов")

    def ready(self) -> None:
        # Connect the purge receiver and register the key rotation step.
        from compliance import lead_phones  # noqa: F401
        from compliance.phones import signals  # noqa: F401
