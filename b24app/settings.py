"""PDn Guard settings, read from the environment.

Three modes, chosen by ``PDN_ENV``:

- ``dev`` (the default): no configuration at all. SQLite, a file-system
  broker, development keys, the sandbox portal enabled.
- ``test`` (the default under pytest): PostgreSQL and Redis on this machine,
  the sandbox enabled.
- ``production``: every secret must come from the environment; start-up
  fails loudly when one is missing. Chosen automatically when
  ``DATABASE_URL`` is set and ``PDN_ENV`` is not.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.smart_cast = False

if "PYTEST_VERSION" in env:  # set by pytest itself: the suite is running
    _default_env = "test"
else:
    _default_env = "production" if "DATABASE_URL" in env else "dev"
PDN_ENV = env.str("PDN_ENV", default=_default_env)
if PDN_ENV not in {"dev", "test", "production"}:
    raise ImproperlyConfigured(
        f"PDN_ENV must be dev, test or production, not {PDN_ENV!r}"
    )
PRODUCTION = PDN_ENV == "production"
TESTING = PDN_ENV == "test"

# Development values are public by design: they only ever protect demo data.
_DEV_SECRET = "pdn-guard-development-only-secret-not-for-production"  # noqa: S105
_DEV_MASTER_KEY = "1:cGRuLWd1YXJkLWRldmVsb3BtZW50LW1hc3Rlci1rZXk="


def _secret(name: str, dev_default: str) -> str:
    """A secret from the environment; in production its absence stops start-up."""
    value: str = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set in production")
    return dev_default


SECRET_KEY = _secret("DJANGO_SECRET_KEY", _DEV_SECRET)
DEBUG = env.bool("DJANGO_DEBUG", default=PDN_ENV == "dev")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if not PRODUCTION else [])

# Public base URL of this app, as Bitrix24 and browsers reach it.
APP_BASE_URL = env.str("APP_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Bitrix24 marketplace credentials (client id / secret of the application).
B24_CLIENT_ID = _secret("B24_CLIENT_ID", "local.pdnguard.sandbox")
B24_CLIENT_SECRET = _secret("B24_CLIENT_SECRET", "sandbox-client-secret")

# Bitrix24's JS library for app pages. Empty outside production: the sandbox
# portal's stand-in at SANDBOX_BASE_URL + "/api/v1/", resolved per request.
B24_JS_URL = env.str(
    "B24_JS_URL", default="//api.bitrix24.com/api/v1/" if PRODUCTION else ""
)
# Auth servers whose token answers may introduce a portal (the sandbox's is
# added while the sandbox is enabled).
B24_AUTH_SERVERS = env.list(
    "B24_AUTH_SERVERS",
    default=["https://oauth.bitrix.info", "https://oauth.bitrix24.tech"],
)

# Key material. PDN_MASTER_KEYS is "version:base64key,..."; the first is current,
# the others still decrypt (rotation). Everything else is derived per purpose.
PDN_MASTER_KEYS = _secret("PDN_MASTER_KEYS", _DEV_MASTER_KEY)
PDN_JOURNAL_SIGNING_KEY = env.str("PDN_JOURNAL_SIGNING_KEY", default="")
# Seconds a dead worker's retention lock outlives it: longer than any request
# to Bitrix24 may run, so a resumed run never re-sends a batch still in flight.
PDN_RETENTION_LOCK_TTL = env.int("PDN_RETENTION_LOCK_TTL", default=150)
if PRODUCTION and not PDN_JOURNAL_SIGNING_KEY:
    raise ImproperlyConfigured("PDN_JOURNAL_SIGNING_KEY must be set in production")

# The sandbox portal: a local Bitrix24 for development, demos and tests.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=not PRODUCTION)
if PRODUCTION and SANDBOX_ENABLED:
    raise ImproperlyConfigured("The sandbox portal is never enabled in production")
SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default="http://127.0.0.1:8001").rstrip(
    "/"
)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "integrator",
    "compliance",
    "compliance.consent",
    "compliance.retention",
    "compliance.phones",
    "aigateway",
]
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "b24app.middleware.SiteRoutingMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "b24app.urls"
WSGI_APPLICATION = "b24app.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "integrator.context_processors.bitrix24",
            ],
        },
    },
]

if TESTING:
    _default_db = "postgres://postgres@127.0.0.1:5432/pdnguard"
    _default_sandbox_db = "postgres://postgres@127.0.0.1:5432/pdnguard_sandbox"
else:
    _default_db = f"sqlite:///{VAR_DIR / 'pdnguard.sqlite3'}"
    _default_sandbox_db = f"sqlite:///{VAR_DIR / 'sandbox.sqlite3'}"

DATABASES = {"default": env.db("DATABASE_URL", default=_default_db)}
if SANDBOX_ENABLED:
    DATABASES["sandbox"] = env.db("SANDBOX_DATABASE_URL", default=_default_sandbox_db)
    DATABASE_ROUTERS = ["sandbox.router.SandboxRouter"]
# Keep connections between requests (a new PostgreSQL connection costs more
# than an event takes to handle); 0 in tests, whose live servers run in threads.
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=0 if TESTING else 60)
for _db in DATABASES.values():
    if _db["ENGINE"].endswith("sqlite3"):
        _db.setdefault("OPTIONS", {})["timeout"] = 30
    else:
        _db["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
        _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("TEST", {})["NAME"] = None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Русский")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if not PRODUCTION:
    # WhiteNoise expects the folder even when it serves from the source tree.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Outside production static files are served straight from the source tree.
WHITENOISE_USE_FINDERS = not PRODUCTION

# Inside a Bitrix24 iframe the session cookie does not come back reliably;
# pages carry signed tokens instead, and views that need framing opt out.
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Redis: locks shared by every worker, the per-portal leaky bucket.
_default_redis = "redis://127.0.0.1:6379/15" if TESTING else ""
REDIS_URL = env.str("REDIS_URL", default=_default_redis)

# Celery. Zero configuration uses a broker that needs no server.
if TESTING:
    _default_broker = _default_redis
elif PRODUCTION:
    _default_broker = ""
else:
    _default_broker = "filesystem://"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=_default_broker)
if PRODUCTION and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("CELERY_BROKER_URL must be set in production")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
else:
    # Longer than any task may run, so an unacknowledged task is not
    # redelivered while its worker is still working on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# AI gateway: a dialog's placeholder mapping is deleted this long after its
# last request.
AIGATEWAY_DIALOG_TTL_HOURS = env.float("AIGATEWAY_DIALOG_TTL_HOURS", default=24.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "compliance.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PDn Guard API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request lines carry query strings; keep them out of the log.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
