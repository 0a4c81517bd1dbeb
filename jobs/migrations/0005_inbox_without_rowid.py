# The inbox as one B-tree on SQLite: a WITHOUT ROWID table keeps each row in its primary
# key's tree, so an enqueue's commit writes one page to the WAL instead of two (the table
# and the index on id). PostgreSQL does not use the inbox; its table stays as it is.

from django.db import migrations


def _rebuild_inbox(schema_editor, *, without_rowid: bool) -> None:
    """Recreate ``jobs_inbox`` from its own CREATE TABLE, with or without rowid, keeping its rows."""
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs_inbox'")
        (create,) = cursor.fetchone()
        create = create.rstrip().removesuffix("WITHOUT ROWID").rstrip()
        if without_rowid:
            create += " WITHOUT ROWID"
        cursor.execute("ALTER TABLE jobs_inbox RENAME TO jobs_inbox_old")
        cursor.execute(create)
        cursor.execute("INSERT INTO jobs_inbox SELECT * FROM jobs_inbox_old")
        cursor.execute("DROP TABLE jobs_inbox_old")


def forwards(apps, schema_editor):
    _rebuild_inbox(schema_editor, without_rowid=True)


def backwards(apps, schema_editor):
    _rebuild_inbox(schema_editor, without_rowid=False)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0004_inbox"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
