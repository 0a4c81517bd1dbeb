"""The web server's fast path for ``POST /jobs`` (``jobs.fast_enqueue``): the same status,
headers and body as Django's path, for every input; bad input is left to Django and
stores nothing; a failed group commit answers 503 to every request of the group."""

import io
import json
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import transaction

from jobs import groupcommit
from jobs.fast_enqueue import EXPECTED_MIDDLEWARE, FastEnqueueApp
from jobs.stores import StoreRejectedValue, StoreUnavailable
from tests.api_support import EMAIL, job_count

WAIT = 10.0  # seconds: a bound on every wait, never a synchronisation by itself

_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_JOB_ID = re.compile(rb"[0-9a-f]{24}")


class CountingApp:
    """Django's WSGI app, counting the requests that reach it."""

    def __init__(self):
        self.django = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.django(environ, start_response)


def environ_for(body: bytes, *, path="/jobs", query="", headers=None, content_type="application/json", scheme="http"):
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8093",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8093",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    environ.update(headers or {})
    return environ


def call(app, environ) -> tuple[str, list[tuple[str, str]], bytes]:
    """The WSGI status, headers and body ``app`` answers, the job's id and times masked."""
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    masked_headers = [(name, _JOB_ID.sub(b"<id>", value.encode()).decode()) for name, value in started["headers"]]
    return started["status"], masked_headers, _TIMESTAMP.sub(b"<time>", _JOB_ID.sub(b"<id>", body))


def both_paths(body: bytes, **request):
    """``(fast path's answer, Django's answer, whether the fast path answered itself)``."""
    app = CountingApp()
    fast = call(FastEnqueueApp(app), environ_for(body, **request))
    answered_itself = app.calls == 0
    return fast, call(app, environ_for(body, **request)), answered_itself


@pytest.fixture
def group_commit(sql_store):
    committer = groupcommit.enable()
    yield committer
    groupcommit.disable()


GOOD_BODIES = [
    {"type": "noop"},
    {"type": "noop", "payload": {}},
    {"type": "email", "payload": EMAIL},
    {"type": "echo", "payload": {"text": "héllo ✓", "n": [1, 2.5, None, True]}, "queue": "emails"},
    {"type": "noop", "priority": 7, "maxRetries": 0, "delaySeconds": 30},
    {"type": "noop", "runAt": "2030-01-02T03:04:05+02:00"},
]


@pytest.mark.parametrize("data", GOOD_BODIES)
def test_a_plain_enqueue_is_answered_by_the_fast_path_exactly_as_by_django(group_commit, data):
    fast, django, answered_itself = both_paths(json.dumps(data).encode())
    assert answered_itself
    assert fast == django
    assert fast[0] == "201 Created"
    assert job_count() == 2


@pytest.mark.parametrize(
    "request_options",
    [
        {"path": "/jobs/"},
        {"headers": {"HTTP_ACCEPT": "*/*"}},
        {"headers": {"HTTP_ACCEPT": "application/json"}},
        {"headers": {"HTTP_HOST": "localhost"}},
    ],
)
def test_what_the_fast_path_takes_besides_the_plainest_request(group_commit, request_options):
    fast, django, answered_itself = both_paths(b'{"type": "noop"}', **request_options)
    assert answered_itself
    assert fast == django


BAD_BODIES = [
    b'{"type": "noop"',  # malformed
    b'["noop"]',
    b'"noop"',
    b"\xef\xbb\xbf" + b'{"type": "noop"}',  # a byte-order mark
    b'{"type": "no-such-type"}',
    b'{"type": ""}',
    b'{"payload": {}}',
    b'{"type": "noop", "status": "completed"}',
    b'{"type": "noop", "payload": []}',
    b'{"type": "noop", "payload": {"$where": 1}}',
    b'{"type": "noop", "payload": {"s": "\\ud800"}}',
    b'{"type": "noop", "priority": "high"}',
    b'{"type": "noop", "runAt": "2030-01-02 03:04:05"}',
    b'{"type": "email", "payload": {"to": "not an address", "subject": "x"}}',
    b'{"type": "noop", "payload": {"big": "' + b"x" * (300 * 1024) + b'"}}',  # over the payload limit: 413
    b"\xff\xfe",  # not UTF-8
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_input_is_refused_by_django_and_stores_nothing(group_commit, body, settings):
    settings.JOBQUEUE_MAX_PAYLOAD_BYTES = 256 * 1024
    fast, django, answered_itself = both_paths(body)
    assert not answered_itself
    assert fast == django
    assert fast[0].split()[0] in ("400", "413")
    assert job_count() == 0


@pytest.mark.parametrize(
    "request_options",
    [
        {"headers": {"HTTP_AUTHORIZATION": "Bearer nope"}},
        {"headers": {"HTTP_COOKIE": "sessionid=abc"}},
        {"headers": {"HTTP_ACCEPT": "application/json; indent=2"}},
        {"headers": {"HTTP_HOST": "evil.example.com"}},
        {"query": "format=json"},
        {"content_type": "text/plain"},
        {"content_type": None},
        {"path": "/jobs/bulk"},
        {"scheme": "https"},
    ],
)
def test_any_other_request_goes_to_django(group_commit, request_options):
    fast, django, answered_itself = both_paths(b'{"type": "noop"}', **request_options)
    assert not answered_itself
    assert fast == django


def test_a_browser_gets_django_s_browsable_api(group_commit):
    fast, _, answered_itself = both_paths(b'{"type": "noop"}', headers={"HTTP_ACCEPT": "text/html"})
    assert not answered_itself
    assert fast[0] == "201 Created"
    assert ("Content-Type", "text/html; charset=utf-8") in fast[1]


def test_an_idempotency_key_goes_to_django_which_replays_the_job(group_commit):
    fast, django, answered_itself = both_paths(b'{"type": "noop"}', headers={"HTTP_IDEMPOTENCY_KEY": "k-1"})
    assert not answered_itself
    assert ("Idempotent-Replayed", "true") not in fast[1]
    assert ("Idempotent-Replayed", "true") in django[1]
    assert job_count() == 1


def test_a_unique_key_goes_to_django_which_finds_the_live_job(group_commit):
    fast, django, answered_itself = both_paths(b'{"type": "noop", "uniqueKey": "nightly"}')
    assert not answered_itself
    assert (fast[0], django[0]) == ("201 Created", "200 OK")
    assert job_count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"JOBQUEUE_API_AUTH": "required"},
        {"JOBQUEUE_THROTTLE_RATES": {"enqueue": "120/min", "read": None}},
        {"MIDDLEWARE": [*EXPECTED_MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]},
        {"SECURE_SSL_REDIRECT": True},
        {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")},
        {"ALLOWED_HOSTS": ["jobs.example.com"]},
        {"DEFAULT_CHARSET": "latin-1"},
        {"DATA_UPLOAD_MAX_MEMORY_SIZE": 10},
    ],
)
def test_settings_it_does_not_reproduce_send_every_request_to_django(group_commit, settings, changed):
    for name, value in changed.items():
        setattr(settings, name, value)
    fast, django, answered_itself = both_paths(b'{"type": "noop"}')
    assert not answered_itself
    assert fast == django


@pytest.mark.parametrize(
    "changed",
    [
        {"X_FRAME_OPTIONS": "sameorigin"},
        {"SECURE_REFERRER_POLICY": "no-referrer, strict-origin"},
        {"SECURE_REFERRER_POLICY": ["origin", "no-referrer"]},
        {"SECURE_REFERRER_POLICY": None, "SECURE_CONTENT_TYPE_NOSNIFF": False},
        {"SECURE_CROSS_ORIGIN_OPENER_POLICY": None},
    ],
)
def test_the_security_headers_follow_the_settings_as_django_s(group_commit, settings, changed):
    for name, value in changed.items():
        setattr(settings, name, value)
    fast, django, answered_itself = both_paths(b'{"type": "noop"}')
    assert answered_itself
    assert fast == django


def test_without_group_commit_the_request_goes_to_django(sql_store):
    fast, django, answered_itself = both_paths(b'{"type": "noop"}')
    assert not answered_itself
    assert fast == django


class FailingStore:
    """Every ``insert_many`` runs its inserts, then fails before the commit."""

    def __init__(self, store, error):
        self.store, self.error = store, error

    def insert_many(self, new_jobs, *, now):
        with transaction.atomic():
            self.store.insert_many(new_jobs, now=now)
            raise self.error


@pytest.mark.parametrize(
    "error", [StoreUnavailable("database is locked"), StoreRejectedValue("payload.x: too large for the store")]
)
def test_a_store_error_is_answered_and_logged_as_django_does_and_stores_nothing(sql_store, error, caplog):
    groupcommit.enable(store=lambda: FailingStore(sql_store, error))
    try:
        fast, django, answered_itself = both_paths(b'{"type": "noop"}')
    finally:
        groupcommit.disable()
    assert answered_itself
    assert fast == django
    logged = [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "django.request"]
    assert len(logged) == 2 and logged[0] == logged[1]
    assert fast[0] in ("503 Service Unavailable", "400 Bad Request")
    assert job_count() == 0


class GatedFailingStore:
    """Holds each group until ``gate`` is set, then fails it before the commit."""

    def __init__(self, store):
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.groups: list[int] = []

    def insert_many(self, new_jobs, *, now):
        self.entered.set()
        assert self.gate.wait(WAIT)
        self.groups.append(len(new_jobs))
        with transaction.atomic():
            self.store.insert_many(new_jobs, now=now)
            raise StoreUnavailable("the commit failed")


class HandedQueue(queue.SimpleQueue):
    """The committer's queue, counting the requests handed to it."""

    def __init__(self):
        super().__init__()
        self.handed = threading.Semaphore(0)

    def put(self, item, *args, **kwargs):
        super().put(item, *args, **kwargs)
        self.handed.release()


def test_a_failed_group_commit_answers_503_to_every_request_of_the_group(sql_store):
    gated = GatedFailingStore(sql_store)
    waiting = HandedQueue()
    groupcommit.enable(store=lambda: gated, waiting=waiting)
    app = FastEnqueueApp(CountingApp())
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:

            def post(n):
                return pool.submit(call, app, environ_for(json.dumps({"type": "noop", "payload": {"n": n}}).encode()))

            answers = [post(0)]
            assert gated.entered.wait(WAIT)  # the committer holds the first request's group
            answers += [post(n) for n in range(1, 4)]
            for _ in range(4):
                assert waiting.handed.acquire(timeout=WAIT)
            gated.gate.set()
            statuses = [answer.result(WAIT)[0] for answer in answers]
    finally:
        gated.gate.set()
        groupcommit.disable()
    assert statuses == ["503 Service Unavailable"] * 4
    assert gated.groups == [1, 3]
    assert app.wsgi_app.calls == 0
    assert job_count() == 0
