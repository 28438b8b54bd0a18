"""OpenAI-compatible chat completions that never show a vendor the client's data.

``POST /v1/chat/completions`` with ``Authorization: Bearer pdn_…`` (a key
from ``manage.py aigateway_key issue <member_id>``) takes OpenAI's request.
``model`` names an alias that a registered vendor serves
(``manage.py aigateway_upstream``). Two optional headers, or the body fields
``pdn_dialog_id`` / ``pdn_client_ref``, say what the text belongs to:

- ``X-PDN-Dialog-Id``: 1–128 of ``A-Za-z0-9_.:-``. Placeholders stay the same
  across a dialog's requests; its sealed mapping lives until the dialog has
  been quiet for ``AIGATEWAY_DIALOG_TTL_HOURS`` (24). Without it each
  request is a dialog of its own.
- ``X-PDN-Client-Ref``: ``<kind>:<id>`` such as ``lead:1043`` (OpenAI's
  ``user`` field in that form counts too). A dialog is bound to the first
  client named in it. A client whose consent was withdrawn
  (``consent_gate.client_block``) gets 403 ``consent_withdrawn``.

Every message's text is pseudonymised (``[ИМЯ_1]``, ``[ТЕЛЕФОН_1]`` …), the
vendor answers, and the answer (or the ``stream: true`` event stream, ending
with ``data: [DONE]``) comes back with the real values. Errors have OpenAI's
shape ``{"error": {"message", "type", "param", "code"}}``: 400 malformed,
401 key, 403 vendor not allowed or consent withdrawn, 404 unknown model,
502 vendor failure (inside a stream: an error event and no ``[DONE]``).
"""
