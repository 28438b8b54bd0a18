"""PostgreSQL refuses UPDATE on consent events and consent document versions.

The models refuse the same; this makes it hold for raw SQL and queryset
``update()`` too. Rows may still go with their portal when it is purged.
"""

from django.db import migrations

TABLES = ("consent_consentevent", "consent_consentdocument")

FUNCTION = """
CREATE OR REPLACE FUNCTION consent_evidence_frozen() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent evidence never changes: UPDATE on % refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION consent_evidence_frozen()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS consent_evidence_frozen()")


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_ledger_documents_settings")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
