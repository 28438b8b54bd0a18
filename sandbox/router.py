"""Keep the sandbox portal's tables in a database of their own."""

from typing import Any

from django.db.models import Model

SANDBOX_DB = "sandbox"


class SandboxRouter:
    def _db(self, model: type[Model]) -> str:
        return SANDBOX_DB if model._meta.app_label == "sandbox" else "default"

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return self._db(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return self._db(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return (obj1._meta.app_label == "sandbox") == (
            obj2._meta.app_label == "sandbox"
        )

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return (db == SANDBOX_DB) == (app_label == "sandbox")
