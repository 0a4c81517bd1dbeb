# The list indexes ascending: a new job's entry then lands at the end of its range, where
# a B-tree appends, not at the start, where each page split shifts the page's entries.
# The lists read them backwards (ORDER BY created_at DESC, id DESC), on SQLite and on
# PostgreSQL alike. Rebuilding them reads the table once per index.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0005_inbox_without_rowid'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='jobrecord',
            name='job_list_idx',
        ),
        migrations.RemoveIndex(
            model_name='jobrecord',
            name='job_status_list_idx',
        ),
        migrations.RemoveIndex(
            model_name='jobrecord',
            name='job_type_list_idx',
        ),
        migrations.RemoveIndex(
            model_name='jobrecord',
            name='job_queue_list_idx',
        ),
        migrations.RemoveIndex(
            model_name='jobrecord',
            name='job_error_list_idx',
        ),
        migrations.AddIndex(
            model_name='jobrecord',
            index=models.Index(fields=['queue', 'created_at', 'id'], name='job_queue_list_idx'),
        ),
        migrations.AddIndex(
            model_name='jobrecord',
            index=models.Index(fields=['created_at', 'id'], name='job_list_idx'),
        ),
        migrations.AddIndex(
            model_name='jobrecord',
            index=models.Index(fields=['status', 'created_at', 'id'], name='job_status_list_idx'),
        ),
        migrations.AddIndex(
            model_name='jobrecord',
            index=models.Index(fields=['type', 'created_at', 'id'], name='job_type_list_idx'),
        ),
        migrations.AddIndex(
            model_name='jobrecord',
            index=models.Index(condition=models.Q(('has_error', True)), fields=['created_at', 'id'], name='job_error_list_idx'),
        ),
    ]
