"""WSGI entry of the sandbox portal: the same code, served on its own origin."""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

from b24app.middleware import SITE_KEY

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b24app.settings")

_django = get_wsgi_application()


def application(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    environ[SITE_KEY] = "sandbox"
    return _django(environ, start_response)
