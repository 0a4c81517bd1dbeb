from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Built-in handlers, then every installed app's `job_handlers` module.
        from jobs import handlers  # noqa: F401

        autodiscover_modules("job_handlers")
        # `django.tasks` functions: defining one on our backend registers its job type.
        autodiscover_modules("tasks")


class JobQueueAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the job queue's admin site as ``admin.site``
    (INSTALLED_APPS names it in place of ``django.contrib.admin``)."""

    default = False  # JobsConfig stays the "jobs" app's own config

    default_site = "jobs.admin_site.JobQueueAdminSite"
