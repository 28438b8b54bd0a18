"""PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the journal and its checkpoints.

The model refuses the same on every database; this makes the refusal hold
for raw SQL too. TRUNCATE is let through only when the setting
``pdn_guard.allow_journal_truncate`` is ``on``: the test suite sets it on its
throw-away databases, whose flush between tests truncates every table. It
guards against accidents and application bugs; a database superuser can
still disable triggers, which the hash chain and signed checkpoints detect.
"""

from django.db import migrations

TABLES = ("compliance_journalentry", "compliance_journalcheckpoint")

FUNCTION = """
CREATE OR REPLACE FUNCTION compliance_journal_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('pdn_guard.allow_journal_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the access journal is append-only: % on % refused', TG_OP, TG_TABLE_NAME
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
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION compliance_journal_append_only()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION compliance_journal_append_only()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS compliance_journal_append_only()")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_journal_roles_tokens")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
