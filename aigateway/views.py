"""The OpenAI-compatible endpoint: parse, authorise, call the gateway, respond."""

import logging

from django.http import (
    HttpRequest,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt

from aigateway import gateway
from aigateway.errors import GatewayError, forbidden, unauthorised
from aigateway.keys import api_key_holder
from aigateway.models import ApiKey
from integrator.models import Portal

logger = logging.getLogger(__name__)

DIALOG_HEADER = "HTTP_X_PDN_DIALOG_ID"
CLIENT_HEADER = "HTTP_X_PDN_CLIENT_REF"
MAX_BODY = 2 * 1024 * 1024
STOPPED = {Portal.Status.UNINSTALLED, Portal.Status.SUSPENDED_PAYMENT}


def _authorise(request: HttpRequest) -> ApiKey:
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise unauthorised("Send the gateway key as 'Authorization: Bearer pdn_…'.")
    api_key = api_key_holder(key.strip())
    if api_key is None:
        raise unauthorised("The API key is unknown or revoked.")
    if api_key.portal.status in STOPPED:
        raise forbidden("portal_inactive", "The portal's PDn Guard is not active.")
    return api_key


@csrf_exempt
def chat_completions(request: HttpRequest) -> HttpResponseBase:
    """POST /v1/chat/completions, plain or streamed."""
    if request.method != "POST":
        refusal = GatewayError(
            405, "invalid_request_error", "method_not_allowed", "Use POST."
        ).response()
        refusal["Allow"] = "POST"
        return refusal
    try:
        api_key = _authorise(request)
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
            raise GatewayError(
                413, "invalid_request_error", "too_large", "The request is too large."
            )
        chat = gateway.chat_request_parse(
            request.body,
            dialog_header=request.META.get(DIALOG_HEADER, "").strip(),
            client_header=request.META.get(CLIENT_HEADER, "").strip(),
        )
        outbound = gateway.request_prepare(api_key=api_key, request=chat)
        if not chat.stream:
            answer = gateway.completion_forward(
                api_key=api_key, request=chat, outbound=outbound
            )
            return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})
        upstream_response = gateway.stream_open(api_key=api_key, outbound=outbound)
    except GatewayError as error:
        return error.response()

    response = StreamingHttpResponse(
        gateway.stream_relay(
            api_key=api_key,
            request=chat,
            outbound=outbound,
            response=upstream_response,
        ),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
