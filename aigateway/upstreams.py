"""Registered AI vendors: which one serves a model, and talking to it over HTTP."""

import logging
from datetime import date
from typing import Any

import requests
from django.db import transaction

from aigateway.errors import GatewayError, forbidden, upstream_failed
from aigateway.models import Upstream
from compliance.journal import Actor, journal_record
from integrator.models import Portal

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
REFUSALS = {
    "upstream_disabled": "The AI vendor for this model is disabled.",
    "no_processor_agreement": (
        "No processor agreement with this AI vendor is on record "
        "(152-FZ art. 6 part 3)."
    ),
    "cross_border_not_notified": (
        "This AI vendor is abroad and no cross-border transfer notice to "
        "Roskomnadzor is on record (152-FZ art. 12)."
    ),
}


def upstream_register(
    *,
    portal: Portal,
    code: str,
    name: str,
    base_url: str,
    model_map: dict[str, str],
    api_key: str = "",
    country: str = "RU",
    processor_agreement_at: date | None = None,
    cross_border_notice_at: date | None = None,
    is_yandex: bool = False,
    auth_scheme: str = Upstream.AuthScheme.BEARER,
    timeout_seconds: int = 60,
    actor: Actor,
) -> Upstream:
    """Register (or update) a vendor as the portal's processor, journaled."""
    upstream = Upstream.objects.filter(portal=portal, code=code).first() or Upstream(
        portal=portal, code=code
    )
    upstream.name = name
    upstream.base_url = base_url.rstrip("/")
    upstream.model_map = dict(model_map)
    upstream.country = country.upper()
    upstream.processor_agreement_at = processor_agreement_at
    upstream.cross_border_notice_at = cross_border_notice_at
    upstream.is_yandex = is_yandex
    upstream.auth_scheme = auth_scheme
    upstream.timeout_seconds = timeout_seconds
    if api_key:
        upstream.set_api_key(api_key)
    upstream.full_clean()

    with transaction.atomic():
        upstream.save()
        journal_record(
            portal=portal,
            action="ai.upstream.registered",
            actor=actor,
            details={
                "vendor": code,
                "country": upstream.country.lower(),
                "agreement": processor_agreement_at is not None,
                "cross_border_notice": cross_border_notice_at is not None,
                "yandex": upstream.sends_to_yandex,
            },
        )
    return upstream


def upstream_for_model(*, portal: Portal, model: str) -> tuple[Upstream, str]:
    """The vendor serving ``model`` and the vendor's own name for it.

    Refuses (403) a vendor without a processor agreement, and one abroad
    without a cross-border notice; 404 if no vendor offers the model.
    """
    for upstream in Upstream.objects.filter(portal=portal).order_by("pk"):
        vendor_model = upstream.model_map.get(model)
        if isinstance(vendor_model, str) and vendor_model:
            refusal = upstream.refusal()
            if refusal is not None:
                raise forbidden(refusal, REFUSALS[refusal])
            return upstream, vendor_model
    raise GatewayError(
        404,
        "invalid_request_error",
        "model_not_found",
        "No registered AI vendor offers this model.",
    )


def upstream_headers(upstream: Upstream) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = upstream.api_key
    if key:
        headers["Authorization"] = f"{upstream.auth_scheme} {key}"
    if upstream.sends_to_yandex:
        # Yandex Cloud keeps request data unless told not to; personal data
        # must not be kept there even in pseudonymised form.
        headers["x-data-logging-enabled"] = "false"
    return headers


def upstream_post(
    upstream: Upstream, payload: dict[str, Any], *, stream: bool
) -> requests.Response:
    """POST a chat completion; 502 for a failure the client cannot fix."""
    url = f"{upstream.base_url}/chat/completions"
    try:
        response = requests.post(
            url,
            json=payload,
            headers=upstream_headers(upstream),
            timeout=(CONNECT_TIMEOUT, float(upstream.timeout_seconds)),
            stream=stream,
            allow_redirects=False,
        )
    except requests.Timeout as error:
        logger.warning("ai upstream timed out vendor=%s", upstream.code)
        raise upstream_failed(
            "upstream_timeout", "The AI vendor did not answer in time."
        ) from error
    except requests.RequestException as error:
        logger.warning(
            "ai upstream unreachable vendor=%s error=%s",
            upstream.code,
            type(error).__name__,
        )
        raise upstream_failed(
            "upstream_unreachable", "The AI vendor could not be reached."
        ) from error

    if response.status_code != 200:
        # The vendor's body may quote the (pseudonymised) prompt: status only.
        logger.warning(
            "ai upstream refused vendor=%s status=%s",
            upstream.code,
            response.status_code,
        )
        response.close()
        raise upstream_failed(
            f"upstream_status_{response.status_code}",
            "The AI vendor refused the request.",
        )
    return response
