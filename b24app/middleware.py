"""Serve the app and the sandbox portal from one code base on two origins."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

SITE_KEY = "pdn.site"


class SiteRoutingMiddleware:
    """Route requests that arrived through the sandbox's WSGI entry to its URLs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get(SITE_KEY) == "sandbox":
            request.urlconf = "sandbox.urls"  # type: ignore[attr-defined]
        return self.get_response(request)
