from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AIGatewayConfig(AppConfig):
    name = "aigateway"
    verbose_name = _("ИИ-шлюз")
