"""/metrics, /healthz, /readyz and `manage.py workerhealth`."""

import json
import socket
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from prometheus_client.parser import text_string_to_metric_families

from jobs import queues, services
from jobs.domain import Attempt, Outcome, PoolInfo
from jobs.results import Completed, Failed
from jobs.stores import StoreUnavailable


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def finish(store, clock, job_type, *, seconds_waiting, seconds_running, failed=False):
    [job] = store.insert_many([services_new_job(job_type)], now=clock())
    clock.advance(seconds_waiting)
    [claimed] = store.claim(owner="host:1:x", limit=1, now=clock(), lease_seconds=60)
    assert claimed.id == job.id
    started = clock()
    clock.advance(seconds_running)
    attempt = Attempt(started_at=started, finished_at=clock(), worker="host:1:x", outcome=Outcome.COMPLETED)
    store.record_results([(Failed if failed else Completed)(claimed, attempt)], now=clock())


def services_new_job(job_type):
    from jobs.domain import NewJob

    return NewJob(type=job_type, payload={}, max_retries=0)


def test_metrics_count_jobs_by_type_and_status_and_finished_per_outcome(store, client, clock):
    finish(store, clock, "email", seconds_waiting=2, seconds_running=0.3)
    finish(store, clock, "email", seconds_waiting=2, seconds_running=0.3, failed=True)
    services.enqueue("noop")
    services.enqueue("noop")

    samples = scrape(client)

    assert samples[("jobqueue_jobs", (("status", "pending"), ("type", "noop")))] == 2
    assert samples[("jobqueue_jobs", (("status", "completed"), ("type", "email")))] == 1
    assert samples[("jobqueue_jobs_finished_total", (("outcome", "completed"), ("type", "email")))] == 1
    assert samples[("jobqueue_jobs_finished_total", (("outcome", "failed"), ("type", "email")))] == 1
    assert samples[("jobqueue_delayed_jobs", ())] == 0


def test_metrics_histograms_of_run_time_and_queue_wait_per_type(store, client, clock):
    finish(store, clock, "email", seconds_waiting=3, seconds_running=0.2)
    finish(store, clock, "email", seconds_waiting=40, seconds_running=7)

    samples = scrape(client)

    run = {labels: value for (name, labels), value in samples.items() if name == "jobqueue_job_run_seconds_bucket"}
    assert run[(("le", "0.25"), ("type", "email"))] == 1
    assert run[(("le", "10.0"), ("type", "email"))] == 2
    assert samples[("jobqueue_job_run_seconds_gcount", (("type", "email"),))] == 2
    assert samples[("jobqueue_job_run_seconds_gsum", (("type", "email"),))] == pytest.approx(7.2)
    wait = {
        labels: value for (name, labels), value in samples.items() if name == "jobqueue_job_queue_wait_seconds_bucket"
    }
    assert wait[(("le", "5.0"), ("type", "email"))] == 1
    assert wait[(("le", "60.0"), ("type", "email"))] == 2


def test_metrics_oldest_pending_age_and_live_pools_with_busy_threads(store, client, clock):
    from jobs.timeutil import utc_now

    store.insert_many([services_new_job("noop")], now=utc_now() - timedelta(seconds=90))
    now = utc_now()
    for pool_id, running in (("a:1:x", 3), ("b:2:y", 1)):
        store.register_pool(
            PoolInfo(id=pool_id, host="a", pid=1, concurrency=4, running=running, started_at=now, heartbeat_at=now)
        )

    samples = scrape(client)

    assert samples[("jobqueue_oldest_pending_age_seconds", ())] >= 90
    assert samples[("jobqueue_worker_pools", ())] == 2
    assert samples[("jobqueue_worker_threads", ())] == 8
    assert samples[("jobqueue_worker_threads_busy", ())] == 4


def test_metrics_answer_a_scrapers_accept_header_in_its_format(sql_store, client):
    services.enqueue("noop")

    plain = client.get("/metrics", HTTP_ACCEPT="text/plain")
    openmetrics = client.get(
        "/metrics/", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )

    assert plain.status_code == 200 and plain["Content-Type"].startswith("text/plain")
    assert b'jobqueue_jobs{status="pending",type="noop"} 1.0' in plain.content
    assert openmetrics.status_code == 200
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.content.rstrip().endswith(b"# EOF")


def test_metrics_need_a_key_with_the_read_scope_like_the_apis_reads(sql_store, client, settings):
    from apikeys.models import ApiKey

    settings.JOBQUEUE_API_AUTH = "required"
    reader = ApiKey.create_key("scraper", scopes=["read"])[1]
    writer = ApiKey.create_key("producer", scopes=["enqueue"])[1]

    anonymous = client.get("/metrics", HTTP_ACCEPT="text/plain")
    without_read = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {writer}")
    scraped = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {reader}")

    assert anonymous.status_code == 401
    assert "Authentication required" in json.loads(anonymous.content)["error"]
    assert without_read.status_code == 403
    assert "'read' scope" in json.loads(without_read.content)["error"]
    assert scraped.status_code == 200
    assert b"jobqueue_jobs" in scraped.content


def test_metrics_ignore_a_format_query_parameter(sql_store, client):
    # Found by schemathesis: ?format=AAA was a 404 from DRF's renderer choice.
    response = client.get("/metrics?format=AAA", HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_metrics_are_open_when_the_api_is_open(sql_store, client, settings):
    settings.JOBQUEUE_API_AUTH = "open"

    assert client.get("/metrics").status_code == 200


def test_health_endpoints_need_no_key_even_when_the_api_requires_one(sql_store, client, settings):
    settings.JOBQUEUE_API_AUTH = "required"

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer not-a-key").status_code == 200


def test_healthz_answers_without_touching_the_store(client, monkeypatch):
    def unreachable():
        raise StoreUnavailable("cannot reach MongoDB at mongodb://db")

    monkeypatch.setattr("jobs.stores.get_store", unreachable)
    for module in ("enqueuing", "reading", "actions", "stats"):  # where the use cases look it up
        monkeypatch.setattr(f"jobs.services.{module}.get_store", unreachable)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_the_store_answers_and_migrations_are_applied(sql_store, client):
    response = client.get("/readyz/")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}


def test_readyz_names_an_unreachable_store(sql_store, client, monkeypatch):
    def unreachable():
        raise StoreUnavailable("cannot reach MongoDB at mongodb://db")

    monkeypatch.setattr("jobs.services.stats.get_store", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "cannot reach MongoDB" in response.json()["failed"]["store"]


def test_readyz_names_a_store_that_does_not_answer_within_a_second(sql_store, client, monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr("jobs.services.check_store_ready", lambda: release.wait(10))
    monkeypatch.setattr("jobs.ops_views.READY_TIMEOUT_SECONDS", 0.05)
    try:
        response = client.get("/readyz")
    finally:
        release.set()

    assert response.status_code == 503
    assert "no answer within" in response.json()["failed"]["store"]


def test_readyz_names_unapplied_migrations(sql_store, client, monkeypatch):
    monkeypatch.setattr("jobs.ops_views._unapplied_migrations", lambda: "not applied: jobs.0002_queue_features")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == {"migrations": "not applied: jobs.0002_queue_features"}


def test_readyz_finds_a_migration_that_is_not_applied(transactional_db, client, monkeypatch):
    monkeypatch.setattr("jobs.ops_views._all_migrations_applied", False)
    call_command("migrate", "jobs", "0001", verbosity=0)
    try:
        response = client.get("/readyz")
    finally:
        call_command("migrate", "jobs", verbosity=0)

    assert response.status_code == 503
    assert "jobs.0002_queue_features" in response.json()["failed"]["migrations"]
    assert "migrations" not in client.get("/readyz").json().get("failed", {})


def test_workerhealth_is_healthy_only_with_a_live_pool_on_this_host(store, capsys):
    from jobs.timeutil import utc_now

    with pytest.raises(CommandError, match="no worker pool"):
        call_command("workerhealth")

    now = utc_now()
    store.register_pool(
        PoolInfo(id="p", host=socket.gethostname(), pid=1, concurrency=2, running=1, started_at=now, heartbeat_at=now)
    )
    call_command("workerhealth")
    assert "healthy: 1 worker pool(s)" in capsys.readouterr().out

    with pytest.raises(CommandError, match="no worker pool on elsewhere"):
        call_command("workerhealth", "--host", "elsewhere")


def test_metrics_count_jobs_per_queue_with_the_oldest_pending_age_and_pause(store, client):
    services.enqueue("noop", queue="emails")
    services.enqueue("noop", queue="emails")
    services.enqueue("noop")
    queues.pause_queue("reports")

    samples = scrape(client)

    assert samples[("jobqueue_queue_jobs", (("queue", "emails"), ("status", "pending")))] == 2
    assert samples[("jobqueue_queue_jobs", (("queue", "default"), ("status", "pending")))] == 1
    assert samples[("jobqueue_queue_paused", (("queue", "reports"),))] == 1
    assert samples[("jobqueue_queue_paused", (("queue", "emails"),))] == 0
    assert samples[("jobqueue_queue_oldest_pending_age_seconds", (("queue", "reports"),))] == 0
    assert samples[("jobqueue_queue_oldest_pending_age_seconds", (("queue", "emails"),))] >= 0
