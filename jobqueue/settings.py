"""Settings for the job queue service.

Every knob comes from the environment (see README, "Configuration") with a default that
works on a laptop; a value that cannot be parsed fails at start with
``ImproperlyConfigured`` naming the variable.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from jobqueue.env import envbool, envduration, envfloat, envint, envlist, envstr
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

# --- behind TLS: everything `manage.py check --deploy` asks for (README, "Production") -----
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", False)
# Health checks from a load balancer speak plain HTTP on the private side.
SECURE_REDIRECT_EXEMPT = envlist("DJANGO_SECURE_REDIRECT_EXEMPT", [])
SECURE_HSTS_SECONDS = envint("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = envbool("DJANGO_SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = envbool("DJANGO_CSRF_COOKIE_SECURE", False)
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips a client's own).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("DJANGO_BEHIND_TLS_PROXY", False) else None

INSTALLED_APPS = [
    # django.contrib.admin, with the job queue's admin site (the dashboard) as admin.site.
    "jobs.apps.JobQueueAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "jobs",
    "apikeys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "jobqueue.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jobqueue.middleware.ExcludingCSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses every login attempt of a locked-out username or address.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
# JOBQUEUE_STORE_TIMEOUT) instead of failing at once with "database is locked", and
# SQLITE_ENGINE's writer queue so they wait their turn instead of polling for it.
SQLITE_ENGINE = "jobqueue.db.sqlite3"
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
    # The embedded database's folder, made here so that any command (check --deploy on
    # Django 6 opens the database) works on a fresh deployment before serve has run.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",  # made SQLITE_ENGINE below, as for sqlite:// URLs
            "NAME": VAR_DIR / "jobqueue.sqlite3",
            "CONN_MAX_AGE": _CONN_MAX_AGE,
            # Tests use a real file so that threads and processes share it, as in production;
            # one per test run, so that runs side by side do not share it.
            "TEST": {"NAME": str(VAR_DIR / f"test_jobqueue_{os.getpid()}.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend with a writer queue across processes (jobqueue.db.sqlite3).
    DATABASES["default"]["ENGINE"] = SQLITE_ENGINE
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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's negotiation with a shortcut for clients that accept anything (jobs/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "jobs.negotiation.FastDefaultContentNegotiation",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Job Queue API",
    "DESCRIPTION": "Enqueue jobs, read them and the queue's statistics. See the README's API section.",
    "VERSION": "1.0.0",
    # Swagger UI from our own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["jobs.api_schema.drop_trailing_slash_duplicates"],
}

# --- API access (README, "Authentication") ---------------------------------------------
JOBQUEUE_API_AUTH = envstr("JOBQUEUE_API_AUTH", "required").strip().lower()
if JOBQUEUE_API_AUTH not in ("required", "open"):
    raise ImproperlyConfigured(f"JOBQUEUE_API_AUTH={JOBQUEUE_API_AUTH!r} is not 'required' or 'open'")
# A key's last_used_at is written at most once per this many seconds (0: every request):
# a durable write per request would compete with the jobs' own commits.
JOBQUEUE_API_KEY_TOUCH_INTERVAL = envduration("JOBQUEUE_API_KEY_TOUCH_INTERVAL", "60s")


def _rate(name: str, default: str) -> str | None:
    """A DRF rate such as ``600/min``; ``off`` turns the throttle off."""
    raw = envstr(name, default).strip().lower()
    if raw == "off":
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or int(count) < 1 or period[:1] not in ("s", "m", "h", "d"):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate like 600/min (or off)")
    return raw


# Throttle counters: on an embedded SQLite database, a side SQLite file without fsyncs (a
# lost count is harmless; a GET should not cost a durable write); on a server database,
# its ThrottleWindow table, shared by every machine. See apikeys/throttle_counters.py.
JOBQUEUE_THROTTLE_SQLITE = (
    str(VAR_DIR / "throttle.sqlite3") if DATABASES["default"]["ENGINE"] == SQLITE_ENGINE else None
)
JOBQUEUE_THROTTLE_RATES = {
    "enqueue": _rate("JOBQUEUE_THROTTLE_ENQUEUE", "120/min"),
    "read": _rate("JOBQUEUE_THROTTLE_READ", "600/min"),
}

# --- admin login lockout (django-axes) ---------------------------------------------------
AXES_FAILURE_LIMIT = envint("JOBQUEUE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envfloat("JOBQUEUE_LOGIN_COOLOFF_MINUTES", 15.0, minimum=0.1))
# A username or an address alone locks: guessing one account from many addresses, or
# many accounts from one address, are both stopped.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True


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
# Leases carry the claiming host's clock; a reaper waits this long past an expiry so a
# host whose clock runs ahead does not take jobs that live workers elsewhere still hold.
JOBQUEUE_MAX_CLOCK_SKEW = envfloat("JOBQUEUE_MAX_CLOCK_SKEW", 60.0, minimum=0, maximum=86400)
JOBQUEUE_POLL_INTERVAL = envfloat("JOBQUEUE_POLL_INTERVAL", 0.25, minimum=0.001, maximum=60)
# At most this many jobs claimed beyond a pool's idle threads, when its jobs are shorter
# than a turn (jobs/worker/prefetch.py); 0 turns it off.
JOBQUEUE_PREFETCH = envint("JOBQUEUE_PREFETCH", 24, minimum=0, maximum=256)
JOBQUEUE_MAX_PAYLOAD_BYTES = envint("JOBQUEUE_MAX_PAYLOAD_BYTES", 64 * 1024, minimum=2)
JOBQUEUE_DEMO_HANDLERS = envbool("JOBQUEUE_DEMO_HANDLERS", False)
# How long finished jobs are kept, in seconds (the environment takes 7d, 12h, 30m too);
# 0 keeps them forever. Worker pools delete older ones in bounded batches.
JOBQUEUE_RETENTION_COMPLETED = envduration("JOBQUEUE_RETENTION_COMPLETED", "7d")
JOBQUEUE_RETENTION_FAILED = envduration("JOBQUEUE_RETENTION_FAILED", "30d")
JOBQUEUE_RETENTION_CANCELLED = envduration("JOBQUEUE_RETENTION_CANCELLED", "7d")

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
