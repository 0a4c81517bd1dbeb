"""The web server's fast path for the plainest ``POST /jobs``: the same answer as Django's,
without Django's request machinery.

A ``POST /jobs`` that enqueues one no-frills job spent about four fifths of the web
server's Python time in Django's handler, its middleware and DRF's request, negotiation
and response objects, not in the job's validation or storage. ``FastEnqueueApp`` wraps
the WSGI app: a request it can prove needs none of that is validated and stored through
``services.submit_job`` (the one validation, the group commit) and answered with the
bytes Django would have sent; every other request goes to Django untouched.

It takes only (everything else is declined, so Django answers it, errors included):

- an open API (``JOBQUEUE_API_AUTH=open``) with no enqueue rate limit, no
  ``Authorization``, ``Cookie`` or ``Idempotency-Key`` header: nobody to authenticate,
  no session, nothing to count;
- plain HTTP to an allowed ``Host`` with ``SECURE_SSL_REDIRECT`` off and no TLS proxy
  header configured: no redirect and no HSTS header;
- ``POST /jobs`` (or ``/jobs/``) with no query string, ``Content-Type:
  application/json``, ``Accept`` absent, ``*/*`` or ``application/json``;
- a body that is a JSON object, valid, with no ``uniqueKey``;
- the middleware of ``EXPECTED_MIDDLEWARE`` (whose headers it adds) and group commit on
  (the request's thread then touches no database, so Django's per-request connection
  upkeep has nothing to do).

An invalid body is declined before anything is stored, so Django's view refuses it with
its own error. Once the job went to the store, the fast path answers itself: the job
(``201``) or the store's error as ``api_exception_handler`` words it (``503`` when the
group commit failed: every request of the group hears it and none of its jobs is kept).
``tests/test_fast_enqueue.py`` checks that both paths give the same status, headers and
body.
"""

import functools
import io
import logging
from http import HTTPStatus

from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host
from django.urls import resolve, set_script_prefix
from django.utils.log import log_response
from rest_framework.renderers import JSONRenderer

from jobs import groupcommit, services
from jobs.request_body import decode_json, max_body_bytes
from jobs.serializers import JobOutputSerializer
from jobs.stores import StoreRejectedValue, StoreUnavailable
from jobs.views import api_exception_handler, job_location

logger = logging.getLogger(__name__)

#: The middleware whose effect on an anonymous API response this module reproduces: the
#: security headers, ``X-Frame-Options`` and ``Content-Length``; the others leave such a
#: response as it is. With any other list the fast path stands aside.
EXPECTED_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "jobqueue.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jobqueue.middleware.ExcludingCSPMiddleware",
    "axes.middleware.AxesMiddleware",
)

_JOBS_PATHS = ("/jobs", "/jobs/")
# What DRF's negotiation answers with the JSON renderer, as the view's first renderer.
_JSON_ACCEPTS = (None, "*/*", "application/json")
_CREDENTIAL_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_IDEMPOTENCY_KEY")
_render_json = JSONRenderer().render


class FastEnqueueApp:
    """``FastEnqueueApp(wsgi_app)``: a WSGI app answering the plainest ``POST /jobs`` itself
    and passing every other request to ``wsgi_app`` (with its body readable again)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if _may_take(environ):
            body = environ["wsgi.input"].read(_content_length(environ))
            answer = enqueue_answer(environ, body)
            if answer is not None:
                status, headers, content = answer
                start_response(status, headers)
                return [content]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.wsgi_app(environ, start_response)


def _may_take(environ) -> bool:
    """What the request's line and headers tell: everything but its body."""
    if environ["REQUEST_METHOD"] != "POST" or environ.get("PATH_INFO") not in _JOBS_PATHS:
        return False
    if environ.get("SCRIPT_NAME") or environ.get("QUERY_STRING") or environ.get("wsgi.url_scheme") != "http":
        return False
    if environ.get("CONTENT_TYPE") != "application/json" or environ.get("HTTP_ACCEPT") not in _JSON_ACCEPTS:
        return False
    if any(name in environ for name in _CREDENTIAL_HEADERS):
        return False
    if not groupcommit.enabled() or not _settings_allow():
        return False
    length = _content_length(environ)
    if not (0 < length <= max_body_bytes()) or length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or length):
        return False
    return _host_allowed(environ.get("HTTP_HOST"))


def _settings_allow() -> bool:
    return (
        settings.JOBQUEUE_API_AUTH == "open"
        and settings.JOBQUEUE_THROTTLE_RATES.get("enqueue") is None
        and tuple(settings.MIDDLEWARE) == EXPECTED_MIDDLEWARE
        and not settings.SECURE_SSL_REDIRECT
        and settings.SECURE_PROXY_SSL_HEADER is None
        and not settings.USE_X_FORWARDED_HOST
        and not settings.PREPEND_WWW
        and not settings.DISALLOWED_USER_AGENTS
        and settings.FORCE_SCRIPT_NAME is None
        and settings.DEFAULT_CHARSET.lower() == "utf-8"  # what DRF decodes a JSON body with
    )


def _host_allowed(host: str | None) -> bool:
    """``HttpRequest.get_host`` would accept ``host`` (else Django answers 400)."""
    if not host:
        return False
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _content_length(environ) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return -1


def enqueue_answer(environ, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The WSGI status, headers and body of a ``POST /jobs`` that ``_may_take``, or
    ``None`` when Django must answer it (nothing stored then)."""
    try:
        data = decode_json(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if type(data) is not dict or data.get("uniqueKey") is not None:
        return None
    try:
        # Without a uniqueKey or an Idempotency-Key these errors come before anything is stored.
        submitted = services.submit_job(data)
    except (services.JobValidationError, services.PayloadTooLarge):
        return None
    except (StoreUnavailable, StoreRejectedValue) as error:
        refusal = api_exception_handler(error, {})
        log_response("%s: %s", refusal.reason_phrase, environ["PATH_INFO"], response=refusal)  # as Django's handler
        extra = [(name, value) for name, value in refusal.items() if name != "Content-Type"]
        return _response(refusal.status_code, refusal.data, extra)
    finally:
        # What Django's request_finished does: a connection a type's payload serializer
        # may have opened on this thread is closed once unusable or past CONN_MAX_AGE.
        close_old_connections()
    job = submitted.job
    set_script_prefix("/")  # as Django's handler sets it for a request with no SCRIPT_NAME
    logger.debug("POST /jobs: %s %s job %s", "enqueued" if submitted.created else "found", job.type, job.id)
    code = HTTPStatus.CREATED if submitted.created else HTTPStatus.OK
    return _response(code, JobOutputSerializer(job).data, [("Location", job_location(job.id))])


def _response(code: int, data, extra_headers: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]], bytes]:
    """As ``JobViewSet`` renders ``Response(data, status=code, headers=…)`` and the
    middleware of ``EXPECTED_MIDDLEWARE`` finishes it, in Django's header order."""
    content = _render_json(data, "application/json")
    headers = [("Content-Type", "application/json"), *extra_headers, *_view_headers()]
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    headers.append(("Content-Length", str(len(content))))
    headers.extend(_security_headers())
    return f"{code} {HTTPStatus(code).phrase}", headers, content


@functools.cache
def _view_headers() -> tuple[tuple[str, str], ...]:
    """``Vary`` and ``Allow`` as DRF's ``finalize_response`` adds them for ``/jobs``."""
    view_function = resolve(_JOBS_PATHS[0]).func
    view = view_function.cls(**view_function.initkwargs)
    for method, action in view_function.actions.items():  # what DRF's ``as_view`` binds
        setattr(view, method, getattr(view, action))
    if "get" in view_function.actions and "head" not in view_function.actions:
        view.head = view.get
    defaults = view.default_response_headers
    vary = (("Vary", defaults["Vary"]),) if "Vary" in defaults else ()
    return (*vary, ("Allow", defaults["Allow"]))


def _security_headers() -> list[tuple[str, str]]:
    """What ``SecurityMiddleware`` adds to a response over plain HTTP."""
    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        values = [value.strip() for value in policy.split(",")] if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers
