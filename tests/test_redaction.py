"""Secrets stay secret: sensitive payload fields masked in the API and the admin, error
messages without tracebacks, worker names without process ids."""

import hashlib
import hmac

from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from jobs import services
from jobs.domain import Status
from jobs.retry import RetryStrategy
from jobs.worker import PoolOptions, WorkerPool
from tests.worker_support import run_pool

SECRET = "sk-live-0123456789"
SIGN = {"message": "hello", "api_key": SECRET}


def run_jobs(store):
    options = PoolOptions.from_settings(
        concurrency=1,
        lease_seconds=30,
        poll_interval=0.01,
        grace_period=5.0,
        retry_strategy=RetryStrategy(base_delay=0, max_delay=0),
        run_until_idle=True,
    )
    pool = WorkerPool(options, store=store)
    return run_pool(pool)


def test_api_masks_sensitive_fields_and_the_handler_gets_the_real_value(store, caplog):
    created = APIClient().post("/jobs", {"type": "sign", "payload": SIGN}, format="json")

    assert created.json()["payload"] == {"message": "hello", "api_key": "***"}
    assert SECRET not in created.content.decode()
    listed = APIClient().get("/jobs?type=sign").content.decode()
    assert SECRET not in listed and '"api_key":"***"' in listed

    caplog.set_level("INFO", logger="jobs.handlers")
    run_jobs(store)

    job = store.get(created.json()["id"])
    assert job.status == Status.COMPLETED and job.payload["api_key"] == SECRET
    expected = hmac.new(SECRET.encode(), b"hello", hashlib.sha256).hexdigest()
    assert expected in caplog.text


def test_admin_job_page_masks_sensitive_fields(store):
    job = services.enqueue("sign", SIGN)
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-test-password"))

    page = client.get(f"/admin/jobs/jobrecord/{job.id}/change/").content.decode()

    assert "***" in page and SECRET not in page


def test_api_shows_error_messages_without_tracebacks_and_worker_names_without_pids(store):
    job = services.enqueue("fail", {"message": "it broke"}, max_retries=0)
    pool = run_jobs(store)
    assert ":" in pool.id and str(__import__("os").getpid()) in pool.id

    shown = APIClient().get(f"/jobs/{job.id}").json()

    assert shown["lastError"] == "RuntimeError: it broke"
    assert shown["attempts"][0]["error"] == "RuntimeError: it broke"
    assert "Traceback" not in str(shown) and ".py" not in str(shown)
    host, _pid, suffix = pool.id.split(":")
    assert shown["attempts"][0]["worker"] == f"{host}:{suffix}"
    # the admin keeps the traceback for staff
    assert "Traceback" in store.get(job.id).last_error
