"""A typed client of the sandbox's control API, for tests and demo scripts.

sandbox = SandboxDriver("http://127.0.0.1:8001")
portal = sandbox.create_portal("salon", plan="standard")
sandbox.install(portal.slug)            # ONAPPINSTALL + the wizard POST
sandbox.finish_install(portal.slug)     # as BX24.installFinish() would
lead_id = sandbox.create_lead(portal.slug, {"TITLE": "Запись"}, user_id=2)
sandbox.wait_for_deliveries()
"""

import time
from dataclasses import dataclass
from typing import Any

import requests

DEFAULT = "default"


class SandboxError(Exception):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True)
class PortalInfo:
    slug: str
    member_id: str
    base_url: str
    client_endpoint: str
    raw: dict[str, Any]

    @property
    def ref(self) -> str:
        return self.slug or DEFAULT

    @property
    def application_token(self) -> str | None:
        install = self.raw.get("install")
        return install["application_token"] if install else None


@dataclass(frozen=True)
class FrameForm:
    """A form the portal posts into an iframe: POST ``url`` with ``form``."""

    url: str
    action: str
    query: dict[str, str]
    form: dict[str, str]
    response: dict[str, Any] | None = None


class SandboxDriver:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    # --- plumbing ---------------------------------------------------------------

    def _call(self, verb: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(
            verb,
            f"{self.base_url}/_sandbox/{path}",
            json=body if verb == "POST" else None,
            timeout=self.timeout,
        )
        data = response.json()
        if response.status_code >= 400:
            raise SandboxError(response.status_code, str(data.get("error", data)))
        return data

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, body or {})

    def _get(self, path: str) -> Any:
        return self._call("GET", path)

    @staticmethod
    def _portal(data: dict[str, Any]) -> PortalInfo:
        return PortalInfo(
            slug=data["slug"],
            member_id=data["member_id"],
            base_url=data["base_url"],
            client_endpoint=data["client_endpoint"],
            raw=data,
        )

    @staticmethod
    def _frame(data: dict[str, Any]) -> FrameForm:
        return FrameForm(
            url=data["url"],
            action=data["action"],
            query=data["query"],
            form=data["form"],
            response=data.get("response"),
        )

    # --- portals, users, the app ---------------------------------------------------

    def reset(self) -> None:
        self._post("reset/")

    def create_portal(
        self, slug: str, *, plan: str = "standard", title: str = ""
    ) -> PortalInfo:
        return self._portal(
            self._post("portals/", {"slug": slug, "plan": plan, "title": title})
        )

    def portal(self, ref: str = DEFAULT) -> PortalInfo:
        return self._portal(self._get(f"portals/{ref}/"))

    def configure_portal(self, ref: str = DEFAULT, **settings: Any) -> PortalInfo:
        """plan, bucket_rate, bucket_burst, operating_limit, access_ttl, refresh_ttl…"""
        return self._portal(self._post(f"portals/{ref}/", settings))

    def set_plan(self, ref: str, plan: str) -> PortalInfo:
        return self.configure_portal(ref, plan=plan)

    def add_user(
        self,
        ref: str,
        *,
        name: str,
        last_name: str = "",
        admin: bool = False,
        crm_access: str = "all",
    ) -> int:
        body = {
            "name": name,
            "last_name": last_name,
            "admin": admin,
            "crm_access": crm_access,
        }
        return int(self._post(f"portals/{ref}/users/", body)["id"])

    def configure_app(self, **settings: Any) -> dict[str, Any]:
        """base_url, install_path, install_event_path, app_path, scope, version…"""
        result: dict[str, Any] = self._post("app/", settings)
        return result

    def app(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("app/")
        return result

    def move_portal(self, ref: str, new_slug: str) -> PortalInfo:
        return self._portal(self._post(f"portals/{ref}/move/", {"slug": new_slug}))

    # --- install lifecycle -----------------------------------------------------------

    def install(
        self, ref: str = DEFAULT, *, user_id: int = 1, post_wizard: bool = True
    ) -> dict[str, Any]:
        """Admin clicks Install: ONAPPINSTALL is queued, the wizard form is POSTed.

        Returns ``{"frame": {...}, "wizard": {"status", "headers", "body"}, "portal"}``.
        """
        result: dict[str, Any] = self._post(
            f"portals/{ref}/install/",
            {"user_id": user_id, "post_wizard": post_wizard},
        )
        return result

    def finish_install(self, ref: str = DEFAULT) -> PortalInfo:
        return self._portal(self._post(f"portals/{ref}/install/finish/"))

    def uninstall(self, ref: str = DEFAULT, *, clean: bool = False) -> PortalInfo:
        return self._portal(self._post(f"portals/{ref}/uninstall/", {"clean": clean}))

    def open_lead_tab(
        self, ref: str, *, lead_id: int, user_id: int, post: bool = False
    ) -> FrameForm:
        """The CRM_LEAD_DETAIL_TAB form for a user (fresh token chain)."""
        body = {"lead_id": lead_id, "user_id": user_id, "post": post}
        return self._frame(self._post(f"portals/{ref}/frames/lead-tab/", body))

    def open_app(self, ref: str, *, user_id: int, post: bool = False) -> FrameForm:
        body = {"user_id": user_id, "post": post}
        return self._frame(self._post(f"portals/{ref}/frames/app/", body))

    # --- tokens -------------------------------------------------------------------

    def issue_tokens(self, ref: str = DEFAULT, *, user_id: int = 1) -> dict[str, Any]:
        """A new token chain of the app for a user (shape of the token endpoint)."""
        result: dict[str, Any] = self._post(
            f"portals/{ref}/tokens/", {"user_id": user_id}
        )
        return result

    def authorization_code(self, ref: str = DEFAULT, *, user_id: int = 1) -> str:
        body = {"user_id": user_id, "code": True}
        return str(self._post(f"portals/{ref}/tokens/", body)["code"])

    def expire_tokens(self, ref: str = DEFAULT) -> int:
        return int(self._post(f"portals/{ref}/tokens/expire/")["expired"])

    def create_webhook(
        self, ref: str = DEFAULT, *, user_id: int = 1, scope: str = "crm,user_brief"
    ) -> str:
        body = {"user_id": user_id, "scope": scope}
        return str(self._post(f"portals/{ref}/webhooks/", body)["url"])

    # --- leads --------------------------------------------------------------------

    def create_lead(
        self,
        ref: str,
        fields: dict[str, Any],
        *,
        user_id: int = 1,
        robot: bool = False,
        date_create: str | None = None,
    ) -> int:
        body: dict[str, Any] = {"fields": fields, "user_id": user_id, "robot": robot}
        if date_create:
            body["date_create"] = date_create
        return int(self._post(f"portals/{ref}/leads/", body)["id"])

    def create_leads(
        self, ref: str, leads: list[dict[str, Any]], *, user_id: int = 1
    ) -> list[int]:
        """Many leads in one request; each spec has fields, date_create, robot."""
        body = {"leads": leads, "user_id": user_id}
        return [int(i) for i in self._post(f"portals/{ref}/leads/", body)["ids"]]

    def update_lead(
        self,
        ref: str,
        lead_id: int,
        fields: dict[str, Any],
        *,
        user_id: int = 1,
        robot: bool = False,
    ) -> dict[str, Any]:
        body = {"fields": fields, "user_id": user_id, "robot": robot}
        result: dict[str, Any] = self._post(f"portals/{ref}/leads/{lead_id}/", body)
        return result

    def delete_lead(
        self, ref: str, lead_id: int, *, user_id: int = 1, robot: bool = False
    ) -> None:
        body = {"user_id": user_id, "robot": robot}
        self._post(f"portals/{ref}/leads/{lead_id}/delete/", body)

    def lead(self, ref: str, lead_id: int) -> dict[str, Any]:
        """The lead as crm.lead.get shows it (no auth, no limits)."""
        result: dict[str, Any] = self._get(f"portals/{ref}/leads/{lead_id}/")
        return result

    def lead_count(self, ref: str = DEFAULT) -> int:
        return int(self._get(f"portals/{ref}/leads/")["count"])

    def userfields(self, ref: str = DEFAULT) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get(f"portals/{ref}/userfields/")
        return result

    # --- faults, counters, limits, clock --------------------------------------------

    def set_faults(self, ref: str = DEFAULT, **switches: Any) -> dict[str, Any]:
        """Turn switches on (True or a count of uses) or off (None/False)."""
        result: dict[str, Any] = self._post(f"portals/{ref}/faults/", switches)
        return result

    def faults(self, ref: str = DEFAULT) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"portals/{ref}/faults/")
        return result

    def counters(self, ref: str = DEFAULT) -> dict[str, int]:
        result: dict[str, int] = self._get(f"portals/{ref}/counters/")
        return result

    def reset_counters(self, ref: str = DEFAULT) -> None:
        self._post(f"portals/{ref}/counters/", {"reset": True})

    def reset_limits(self, ref: str = DEFAULT) -> None:
        self._post(f"portals/{ref}/limits/", {"reset": True})

    def advance_clock(self, seconds: float) -> float:
        return float(self._post("clock/", {"advance": seconds})["now"])

    def freeze_clock(self, at: float | None = None) -> float:
        return float(
            self._post("clock/", {"freeze": True if at is None else at})["now"]
        )

    def reset_clock(self) -> None:
        self._post("clock/", {"reset": True})

    # --- events -------------------------------------------------------------------

    def deliveries(
        self, ref: str = DEFAULT, *, event: str = "", after: int = 0
    ) -> list[dict[str, Any]]:
        query = []
        if event:
            query.append(f"event={event}")
        if after:
            query.append(f"after={after}")
        suffix = "?" + "&".join(query) if query else ""
        result: list[dict[str, Any]] = self._get(f"portals/{ref}/deliveries/{suffix}")
        return result

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event has been attempted, on any portal."""
        return bool(self._post("wait/", {"timeout": timeout})["idle"])

    def wait_for_deliveries(
        self,
        ref: str = DEFAULT,
        *,
        count: int | None = None,
        event: str = "",
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        """Wait until the queue is idle (and, if given, ``count`` rows are logged)."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.1, deadline - time.monotonic())
            self._post("wait/", {"timeout": min(left, 5.0)})
            rows = self.deliveries(ref, event=event)
            settled = all(r["outcome"] != "pending" for r in rows)
            if settled and (count is None or len(rows) >= count):
                return rows
            if time.monotonic() >= deadline:
                return rows
            time.sleep(0.05)

    # --- open lines ---------------------------------------------------------------

    def open_chat(
        self,
        ref: str = DEFAULT,
        *,
        client_name: str = "Клиент",
        lead_id: int | None = None,
        connector: str = "telegrambot",
        buttons_rendered: bool = False,
    ) -> dict[str, Any]:
        """A client starts an open-line chat: {chat_id, dialog_id, lead_id, …}.

        Open-line bots get ONIMBOTJOINCHAT. ``buttons_rendered`` says whether
        the client's messenger draws bot keyboards (most do not).
        """
        body: dict[str, Any] = {
            "client_name": client_name,
            "connector": connector,
            "buttons_rendered": buttons_rendered,
        }
        if lead_id is not None:
            body["lead_id"] = lead_id
        result: dict[str, Any] = self._post(f"portals/{ref}/chats/", body)
        return result

    def client_writes(
        self, ref: str, chat_id: int, text: str, *, system: bool = False
    ) -> dict[str, Any]:
        """The client's message; open-line bots get ONIMBOTMESSAGEADD."""
        body = {"text": text, "system": system}
        result: dict[str, Any] = self._post(
            f"portals/{ref}/chats/{chat_id}/messages/", body
        )
        return result

    def chat_messages(self, ref: str, chat_id: int) -> list[dict[str, Any]]:
        """Every message of a chat, the bot's answers included (the outbox)."""
        result: list[dict[str, Any]] = self._get(
            f"portals/{ref}/chats/{chat_id}/messages/"
        )
        return result

    def chat(self, ref: str, chat_id: int) -> dict[str, Any]:
        """The chat's state: lead, buttons_rendered, operator_mode."""
        result: dict[str, Any] = self._get(f"portals/{ref}/chats/{chat_id}/")
        return result

    def operator_writes(
        self, ref: str, chat_id: int, text: str, *, user_id: int = 1
    ) -> dict[str, Any]:
        """A portal user answers in the chat; open-line bots hear it."""
        body = {"text": text, "user_id": user_id}
        result: dict[str, Any] = self._post(
            f"portals/{ref}/chats/{chat_id}/operator/", body
        )
        return result
