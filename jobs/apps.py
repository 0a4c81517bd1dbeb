from django.apps import AppConfig
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
