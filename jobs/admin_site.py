"""The project's admin site: Django's, plus the jobs dashboard as the "Jobs" app page.

Outside the ``jobs.admin`` package on purpose: Django imports the site class while it
sets ``admin.site`` up, before ``jobs.admin`` may register anything with it.
"""

from django.contrib import admin
from django.urls import path


class JobQueueAdminSite(admin.AdminSite):
    """``admin.site`` in this project (see ``jobs.apps.JobQueueAdminConfig``).

    The "Jobs" entry of the admin index (``/admin/jobs/``) opens the operator dashboard
    instead of the plain list of models: the site registers the dashboard at that URL
    ahead of its own per-app pages.
    """

    def get_urls(self):
        from jobs.admin.dashboard import DashboardView
        from jobs.models import JobRecord

        dashboard = DashboardView.as_view(model_admin=self.get_model_admin(JobRecord))
        return [
            path("jobs/", self.admin_view(dashboard), name="jobs_dashboard"),
            *super().get_urls(),
        ]
