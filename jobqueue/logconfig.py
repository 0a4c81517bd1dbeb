"""The logging configuration of every process (web, workers, ``serve``), plain or JSON.

``JOBQUEUE_LOG_FORMAT=json`` makes every line one JSON object with ``time``, ``level``,
``logger`` and ``message``, plus ``job_id``, ``job_type``, ``attempt`` and ``worker`` on
lines logged while a worker runs a job (``jobs.logcontext``).
"""

LOG_FORMATS = ("plain", "json")

_JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}
_PLAIN_FORMATTER = {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"}


def logging_config(*, level: str, log_format: str) -> dict:
    """Django's ``LOGGING``: one console handler on the root, the job fields filter on it."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: use one of {', '.join(LOG_FORMATS)}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"job_context": {"()": "jobs.logcontext.JobContextFilter"}},
        "formatters": {"plain": _PLAIN_FORMATTER, "json": _JSON_FORMATTER},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["job_context"]},
        },
        # Everything propagates to the root's one handler (and to pytest's caplog).
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            "jobs": {"level": level},
            "django": {"level": "INFO"},
            "axes": {"level": "INFO"},
            "apikeys": {"level": level},
            # The web server's start, stop and protocol errors (jobqueue.webserver).
            "uvicorn.error": {"level": "INFO"},
            # Django's own default sends runserver lines to a handler of its own.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
