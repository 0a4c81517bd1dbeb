"""The jobs dashboard, job list, job page and actions in the Django admin.

Everything here reads and acts through ``jobs.services``, so it works the same on MongoDB
and on the embedded SQL store.

* ``jobs.admin_site.JobQueueAdminSite`` is the project's admin site (``jobs.apps.JobQueueAdminConfig``
  makes it ``admin.site``); its ``get_urls`` puts the dashboard at ``/admin/jobs/``.
* ``job_admin.JobRecordAdmin`` registers jobs with it: the index entry, the permissions
  (``jobs.view_jobrecord`` to look, ``jobs.change_jobrecord`` to act), the admin log's
  content type, and the URLs of the job views below.
* ``dashboard``, ``job_list``, ``job_page`` and ``actions`` hold the views;
  ``jobs.templatetags.jobs_admin`` the formatting.
"""

from jobs.admin.job_admin import JobRecordAdmin
from jobs.admin.schedule_admin import ScheduleRecordAdmin

__all__ = ["JobRecordAdmin", "ScheduleRecordAdmin"]
