"""The service as `make run` starts it (`manage.py serve`: gunicorn, admin, worker pool)
behaves the same on the embedded SQLite store and on the MongoDB server at
``MONGODB_URI`` (CongoDB under ``make test-mongo``): post, list, filters, paging,
retries and the admin dashboard, all over real HTTP. The MongoDB variant is skipped,
with the reason, when ``MONGODB_URI`` is not set.
"""

import http.cookiejar
import json
import re
import signal
import subprocess
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import REAL_MONGODB_URI
from tests.serve_support import free_port, serve_env, start_serve
from tests.worker_support import wait_until

ADMIN_PASSWORD = "stores-test-password"


def uri_with_database(uri: str, database: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


class Service:
    """A running `manage.py serve` and an HTTP client with a cookie jar (for the admin)."""

    def __init__(self, base: str, store_description: str):
        self.base = base
        self.store_description = store_description  # how the dashboard names the store
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, path: str, body=None, *, form=None):
        """(status, headers, body) of one request; JSON bodies decoded."""
        data, headers = None, {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
        url = path if path.startswith("http") else self.base + path
        with self.opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=10) as response:
            raw = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, response.headers, json.loads(raw) if is_json else raw.decode()

    def answers(self) -> bool:
        try:
            return self.call("/jobs")[0] == 200
        except OSError:
            return False

    def job(self, job_id: str) -> dict:
        return self.call(f"/jobs/{job_id}")[2]


@pytest.fixture(
    params=["sqlite", pytest.param("mongodb", marks=pytest.mark.mongodb)],
)
def service(request, tmp_path):
    port = free_port()
    # Django's own tables stay in SQLite under the temp var dir (serve_env drops DATABASE_URL).
    env = serve_env(
        tmp_path,
        port,
        JOBQUEUE_RETRY_BASE_DELAY="0",
        JOBQUEUE_POLL_INTERVAL="0.05",
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    database = None
    if request.param == "mongodb":
        if not REAL_MONGODB_URI:
            pytest.skip("real MongoDB not tested: MONGODB_URI is not set (the SQLite variant ran)")
        database = f"jobqueue_service_{uuid.uuid4().hex[:8]}"
        env["MONGODB_URI"] = uri_with_database(REAL_MONGODB_URI, database)
    log = open(tmp_path / "serve.log", "w+")
    process = start_serve(env, concurrency=2, stdout=log)
    expected = "SQLite at " if database is None else f"MongoDB at {urllib.parse.urlsplit(REAL_MONGODB_URI).netloc}, "
    service = Service(f"http://127.0.0.1:{port}", expected)
    try:
        wait_until(service.answers, timeout=60, what="the service to answer")
        yield service
    finally:
        stop(process)
        log.close()
        if database is not None:
            import pymongo

            with pymongo.MongoClient(REAL_MONGODB_URI, serverSelectionTimeoutMS=5000) as client:
                client.drop_database(database)


def stop(process: subprocess.Popen) -> None:
    """Stop `serve` as Ctrl-C does; a second Ctrl-C if that hangs (serve then kills its
    children, which run in sessions of their own); kill it as a last resort."""
    for _ in range(2):
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            continue
    if process.poll() is None:
        process.kill()
        process.wait()


def post(service: Service, body: dict) -> dict:
    status, headers, job = service.call("/jobs", body)
    assert status == 201 and headers["Location"] == f"/jobs/{job['id']}"
    return job


def ids(jobs: list[dict]) -> list[str]:
    return [job["id"] for job in jobs]


def test_the_served_api_admin_and_workers_behave_alike_on_each_store(service):
    email = post(service, {"type": "email", "payload": {"to": "user@example.com", "subject": "Hi"}})
    flaky = post(service, {"type": "flaky", "payload": {"failures": 2}, "maxRetries": 3})
    failing = post(service, {"type": "fail", "payload": {}, "maxRetries": 1})
    delayed = post(service, {"type": "noop", "payload": {}, "delaySeconds": 3600})
    finished = {email["id"]: "completed", flaky["id"]: "completed", failing["id"]: "failed"}
    wait_until(
        lambda: all(service.job(job_id)["status"] == status for job_id, status in finished.items()),
        timeout=60,
        what="the worker pool to finish the jobs",
    )

    # Retries: the flaky job ran three times, the failing one twice, each attempt recorded.
    flaky_done, failed = service.job(flaky["id"]), service.job(failing["id"])
    assert (flaky_done["retryCount"], flaky_done["attemptCount"]) == (2, 3)
    assert [attempt["outcome"] for attempt in flaky_done["attempts"]] == ["failed", "failed", "completed"]
    assert (failed["retryCount"], failed["attemptCount"], failed["status"]) == (1, 2, "failed")
    assert failed["lastError"]
    assert service.job(delayed["id"])["status"] == "pending"

    # Listing: newest first, filters, and pages that follow the Link header to the end.
    everything = [delayed["id"], failing["id"], flaky["id"], email["id"]]
    assert ids(service.call("/jobs")[2]) == everything
    assert ids(service.call("/jobs?status=completed")[2]) == [flaky["id"], email["id"]]
    assert ids(service.call("/jobs?type=fail")[2]) == [failing["id"]]
    # A job that failed and then completed has no error any more (its attempts keep it).
    assert ids(service.call("/jobs?hasError=true")[2]) == [failing["id"]]
    assert ids(service.call("/jobs?hasError=false&status=pending")[2]) == [delayed["id"]]
    pages, url = [], "/jobs?limit=3"
    while url:
        status, headers, page = service.call(url)
        pages.append(ids(page))
        link = headers.get("Link")
        url = re.fullmatch(r"<(.+)>; rel=\"next\"", link).group(1) if link else None
    assert [job_id for page in pages for job_id in page] == everything
    assert len(pages[0]) == 3

    # The admin dashboard, signed in as the admin account `serve` created.
    login_page = service.call("/admin/login/?next=/admin/jobs/")[2]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    status, _, dashboard = service.call(
        "/admin/login/?next=/admin/jobs/",
        form={"csrfmiddlewaretoken": token, "username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/jobs/"},
    )
    assert status == 200 and "Job queue" in dashboard
    cards = dict(re.findall(r'data-status="(\w+)">\s*<span class="jobs-card-count">(\d+)</span>', dashboard))
    assert cards == {"pending": "1", "processing": "0", "completed": "2", "failed": "1", "cancelled": "0"}
    store = re.search(r'<strong class="jobs-store">([^<]+)</strong>', dashboard).group(1)
    assert store.startswith(service.store_description)
