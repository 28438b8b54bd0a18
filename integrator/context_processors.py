"""Template context every app page needs."""

from django.conf import settings
from django.http import HttpRequest


def b24_js_url() -> str:
    """Bitrix24's JS library; the sandbox's stand-in where no URL is configured.

    Read per request: tests move the sandbox to a port chosen at run time.
    """
    configured: str = settings.B24_JS_URL
    return configured or f"{settings.SANDBOX_BASE_URL}/api/v1/"


def bitrix24(request: HttpRequest) -> dict[str, str]:
    return {"B24_JS_URL": b24_js_url()}
