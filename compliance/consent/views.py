"""The public page of a consent document version, the link the chat sends.

It shows the frozen text, its version and SHA-256 and nothing about any
client: anyone holding the link may read it, as they may read the text in
the chat.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from compliance.consent.models import ConsentDocument, ConsentSettings, Purpose


@require_GET
def document_page(
    request: HttpRequest, public_id: str, purpose: str, version: int
) -> HttpResponse:
    if purpose not in Purpose.values:
        raise Http404("no such purpose")
    owner = ConsentSettings.objects.filter(public_id=public_id).first()
    if owner is None:
        raise Http404("no such document")
    document = ConsentDocument.objects.filter(
        portal_id=owner.portal_id, purpose=purpose, version=version
    ).first()
    if document is None:
        raise Http404("no such document")

    if request.GET.get("format") == "txt":
        response = HttpResponse(document.text, content_type="text/plain; charset=utf-8")
    else:
        latest = (
            ConsentDocument.objects.filter(portal_id=owner.portal_id, purpose=purpose)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        response = render(
            request,
            "consent/document.html",
            {
                "document": document,
                "purpose_label": Purpose(purpose).label,
                "superseded": latest is not None and latest > document.version,
            },
        )
    # A frozen version never changes; caches may keep it.
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Robots-Tag"] = "noindex"
    return response
