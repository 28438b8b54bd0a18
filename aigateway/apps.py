from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AIGatewayConfig(AppConfig):
    name = "aigateway"
    verbose_name = _("ИИ-шлюз")

    def ready(self) -> None:
        from aigateway import rotation
        from compliance.vault import register_rotation_step

        register_rotation_step("ai_vendor_keys", rotation.reseal_upstream_keys)
        register_rotation_step("ai_dialog_mappings", rotation.reseal_dialog_mappings)
