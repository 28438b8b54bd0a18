"""Where a portal lives: its prefix, REST base and the sandbox's host."""

from urllib.parse import urlsplit

from django.conf import settings

from sandbox.models import AppRegistration, Portal


def sandbox_origin() -> str:
    return str(settings.SANDBOX_BASE_URL).rstrip("/")


def sandbox_host() -> str:
    """host[:port] of the sandbox, which Bitrix24 payloads call ``domain``."""
    return urlsplit(sandbox_origin()).netloc


def portal_prefix(portal: Portal) -> str:
    return f"/p/{portal.slug}" if portal.slug else ""


def portal_base(portal: Portal) -> str:
    """The portal's web origin plus prefix, e.g. http://127.0.0.1:8001/p/x."""
    return sandbox_origin() + portal_prefix(portal)


def client_endpoint(portal: Portal) -> str:
    return portal_base(portal) + "/rest/"


def server_endpoint() -> str:
    return sandbox_origin() + "/oauth/rest/"


def app_base(app: AppRegistration) -> str:
    return (app.base_url or str(settings.APP_BASE_URL)).rstrip("/")


def app_url(app: AppRegistration, path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return app_base(app) + path


DEFAULT_USERS = (
    # uid, name, last name, admin, CRM access, position
    (1, "Ирина", "Админова", True, "all", "Управляющая салоном"),
    (2, "Мария", "Менеджерова", False, "all", "Администратор ресепшн"),
    (3, "Олег", "Продажин", False, "own", "Менеджер по продажам"),
    (4, "Пётр", "Посторонний", False, "none", "Внешний подрядчик"),
)


def portal_create(*, slug: str, plan: str = "standard", title: str = "") -> Portal:
    """A portal with its admin, two managers and an outsider (idempotent)."""
    from sandbox.models import User

    portal, _ = Portal.objects.get_or_create(
        slug=slug, defaults={"plan": plan, "title": title or slug or "Битрикс24"}
    )
    for uid, name, last_name, admin, access, position in DEFAULT_USERS:
        User.objects.get_or_create(
            portal=portal,
            uid=uid,
            defaults={
                "name": name,
                "last_name": last_name,
                "is_admin": admin,
                "crm_access": access,
                "work_position": position,
                "email": f"user{uid}@{slug or 'salon'}.example.ru",
                "gender": "F" if name in ("Ирина", "Мария") else "M",
            },
        )
    return portal


def portal_by_ref(ref: str) -> Portal | None:
    """``default`` (or ``-``) names the demo portal at the sandbox origin."""
    slug = "" if ref in ("default", "-") else ref
    return Portal.objects.filter(slug=slug).first()
