import os
import subprocess
import sys

import pytest

SECRETS = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "B24_CLIENT_ID": "app.123",
    "B24_CLIENT_SECRET": "s3cret",
    "PDN_MASTER_KEYS": "1:" + "a" * 44,
    "PDN_JOURNAL_SIGNING_KEY": "b" * 44,
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pdnguard",
    "ALLOWED_HOSTS": "pdn.example.ru",
}


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PDN_", "B24"))}
    for name in ("DATABASE_URL", "PYTEST_VERSION", "CELERY_BROKER_URL", "REDIS_URL"):
        clean.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", "import b24app.settings as s; print(s.PDN_ENV)"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_environment_at_all_is_the_zero_configuration_demo():
    result = load_settings({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dev"


def test_a_complete_production_environment_starts():
    result = load_settings(SECRETS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "production"


REQUIRED = sorted(set(SECRETS) - {"DATABASE_URL", "ALLOWED_HOSTS"})


@pytest.mark.parametrize("missing", REQUIRED)
def test_production_refuses_to_start_without_each_secret(missing):
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = load_settings(env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_never_enables_the_sandbox():
    result = load_settings({**SECRETS, "SANDBOX_ENABLED": "true"})
    assert result.returncode != 0
    assert "sandbox" in result.stderr
