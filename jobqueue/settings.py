"""Settings for the job queue service.

Every knob comes from the environment (see README, "Configuration") with a default that
works on a laptop; a value that cannot be parsed fails at start with
``ImproperlyConfigured`` naming the variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from jobqueue.env import envbool, envfloat, envint, envlist, envstr
from jobqueue.logconfig import LOG_FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("JOBQUEUE_VAR_DIR", str(BASE_DIR / "var")))


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else a random key kept in var/ so sessions survive restarts."""
    key = envstr("DJANGO_SECRET_KEY", "")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = envbool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # django.contrib.admin, with the job queue's admin site (the dashboard) as admin.site.
    "jobs.apps.JobQueueAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Content-Security-Policy (django-csp): only this site's own scripts, styles, images and
# fonts; no inline script or style, no plugins, no framing, forms post only here. The
# admin and its dashboard satisfy it (the browser test checks the console). The API's
# JSON needs none, and DRF's browsable API pages carry inline styles of their own.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/jobs", "/stats"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "jobqueue.urls"
# The API answers with and without a trailing slash itself; a redirect would drop POST bodies.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "jobqueue.wsgi.application"

# How long one store operation may wait for a lock or a slow database before the caller
# gets StoreUnavailable (the API: 503 with Retry-After).
JOBQUEUE_STORE_TIMEOUT = envfloat("JOBQUEUE_STORE_TIMEOUT", 5.0, minimum=0.1, maximum=300)

# SQLite: WAL with synchronous=FULL so an acknowledged write survives a power cut; a busy
# timeout and BEGIN IMMEDIATE so concurrent processes wait for the lock (at most
# JOBQUEUE_STORE_TIMEOUT) instead of failing at once with "database is locked".
_SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": JOBQUEUE_STORE_TIMEOUT,
}
# Each thread keeps its database connection across requests (for up to a minute) instead
# of opening one per request: on SQLite an open runs the pragmas above too, and that was
# 12% of the web server's time under POST /jobs load (profiled under gunicorn).
_CONN_MAX_AGE = 60
_DATABASE_URL = envstr("DATABASE_URL", "")
if _DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(_DATABASE_URL, conn_max_age=_CONN_MAX_AGE)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "jobqueue.sqlite3",
            "CONN_MAX_AGE": _CONN_MAX_AGE,
            # Tests use a real file so that threads and processes share it, as in production;
            # one per test run, so that runs side by side do not share it.
            "TEST": {"NAME": str(VAR_DIR / f"test_jobqueue_{os.getpid()}.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(_SQLITE_OPTIONS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Tests and `runserver` serve static files straight from the apps, without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_BACKEND = envstr("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = envstr("DJANGO_DEFAULT_FROM_EMAIL", "jobqueue@localhost")

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # The seed's clients send no credentials; the API is open like the original service.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "jobs.views.api_exception_handler",
}

# --- the job queue -------------------------------------------------------------------
MONGODB_URI = envstr("MONGODB_URI", "")
# Seconds the MongoDB driver may spend finding a server before start-up fails.
MONGODB_TIMEOUT_SECONDS = envfloat("MONGODB_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# Where jobs are kept, chosen like Django's own backends: a JobStore class by dotted path
# and the keyword options it is built with. MONGODB_URI picks the MongoDB store; without
# it the embedded SQL store keeps jobs in DATABASES["default"].
if MONGODB_URI:
    JOBQUEUE_STORE = {
        "BACKEND": "jobs.stores.mongo.MongoJobStore",
        "OPTIONS": {
            "uri": MONGODB_URI,
            "timeout_seconds": MONGODB_TIMEOUT_SECONDS,
            "operation_timeout_seconds": JOBQUEUE_STORE_TIMEOUT,
        },
    }
else:
    JOBQUEUE_STORE = {"BACKEND": "jobs.stores.sql.SqlJobStore", "OPTIONS": {}}
JOBQUEUE_WORKERS = envint("JOBQUEUE_WORKERS", 4, minimum=1, maximum=256)
JOBQUEUE_MAX_RETRIES = envint("JOBQUEUE_MAX_RETRIES", 3, minimum=0, maximum=100)
JOBQUEUE_RETRY_BASE_DELAY = envfloat("JOBQUEUE_RETRY_BASE_DELAY", 2.0, minimum=0)
JOBQUEUE_RETRY_MAX_DELAY = envfloat("JOBQUEUE_RETRY_MAX_DELAY", 600.0, minimum=0)
JOBQUEUE_LEASE_SECONDS = envfloat("JOBQUEUE_LEASE_SECONDS", 30.0, minimum=1)
JOBQUEUE_POLL_INTERVAL = envfloat("JOBQUEUE_POLL_INTERVAL", 0.25, minimum=0.001, maximum=60)
JOBQUEUE_MAX_PAYLOAD_BYTES = envint("JOBQUEUE_MAX_PAYLOAD_BYTES", 64 * 1024, minimum=2)
JOBQUEUE_DEMO_HANDLERS = envbool("JOBQUEUE_DEMO_HANDLERS", False)
# Periodic schedules every worker pool creates or updates by name at start, as
# POST /schedules takes them: {"name", "type", "payload", "cron", "timezone", ...}.
JOBQUEUE_SCHEDULES: list[dict] = []

# `@task` functions (django.tasks on Django 6, the django-tasks package on 5.2) run on our workers.
TASKS = {"default": {"BACKEND": "jobs.tasks_backend.JobQueueBackend"}}

LOG_LEVEL = envstr("JOBQUEUE_LOG_LEVEL", "INFO").upper()
# plain or json: one JSON object per line, with the job's fields on a worker's lines.
LOG_FORMAT = envstr("JOBQUEUE_LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"JOBQUEUE_LOG_FORMAT={LOG_FORMAT!r} is not one of {', '.join(LOG_FORMATS)}")
LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)
