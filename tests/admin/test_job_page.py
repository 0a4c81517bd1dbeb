"""The job page: fields, payload, attempts, the actions its state allows."""

import html
import re

from jobs import services
from tests.admin.support import (
    JOB_LIST,
    follow,
    job_url,
    messages_of,
    text,
)


def test_job_page_shows_every_field_and_the_payload_as_pretty_json(admin_client, jobs):
    job = jobs.pending("noop", {"user": {"id": 7, "name": "Ada <admin>"}, "tags": ["a", "b"]}, priority=5)

    response = admin_client.get(job_url(job.id))

    assert response.status_code == 200
    page = text(response)
    for label in ("ID", "Type", "Status", "Retries", "Attempts made", "Priority", "Run at", "Created", "Updated"):
        assert label in page
    assert job.id in page and "0 / 3" in page
    assert job.created_at.strftime("%Y-%m-%d %H:%M:%S.") + f"{job.created_at.microsecond // 1000:03d}" in page
    payload = re.search(
        r'<pre class="jobs-pre jobs-json" id="job-payload">(.*?)</pre>', response.content.decode(), re.S
    )
    assert html.unescape(payload.group(1)) == (
        '{\n  "tags": [\n    "a",\n    "b"\n  ],\n  "user": {\n    "id": 7,\n    "name": "Ada <admin>"\n  }\n}'
    )
    assert "&lt;admin&gt;" in payload.group(1)


def test_job_page_shows_the_attempt_history_with_folded_tracebacks(admin_client, jobs):
    job = jobs.failed("email")

    response = admin_client.get(job_url(job.id))

    attempts = response.content.decode().split('id="job-attempts"')[1].split("</table>")[0]
    assert "worker-host:42" in attempts
    assert "1.5 s" in attempts  # duration
    assert '<span class="jobs-badge jobs-badge--failed">failed</span>' in attempts
    assert re.search(
        r"<details>\s*<summary>ConnectionRefusedError: \[Errno 111\] Connection refused &lt;smtp.example.com&gt;"
        r'</summary>\s*<pre class="jobs-pre">Traceback \(most recent call last\):',
        attempts,
    )
    assert "<details open" not in attempts  # folded until clicked


def test_job_page_shows_the_lease_of_a_processing_job_but_never_its_token(admin_client, jobs):
    job = jobs.processing("noop")

    response = admin_client.get(job_url(job.id))

    assert "owner worker-host:42" in text(response)
    assert job.lease.expires_at.strftime("%Y-%m-%d %H:%M:%S") in text(response)
    # The token fences the worker's writes; like the API, the admin never hands it out.
    assert job.lease.token not in response.content.decode()
    assert "token" not in text(response).split("Lease")[1].split("Last error")[0]


def test_job_page_for_an_unknown_or_malformed_id_goes_back_to_the_list(admin_client, jobs):
    for job_id in ("0" * 24, "nope"):
        response = admin_client.get(job_url(job_id))

        assert response.status_code == 302 and response["Location"] == JOB_LIST
        assert messages_of(follow(admin_client, response)) == [
            f"Job with ID “{job_id}” does not exist. Perhaps it was deleted?"
        ]


def test_job_page_offers_only_the_actions_its_state_allows(admin_client, jobs):
    def buttons(job):
        page = admin_client.get(job_url(job.id)).content.decode()
        return {name for name in ("retry-now", "cancel-job") if f'id="{name}"' in page}

    assert buttons(jobs.failed("noop")) == {"retry-now"}
    assert buttons(jobs.pending("noop")) == {"cancel-job"}
    assert buttons(jobs.pending("noop", delay_seconds=600)) == {"retry-now", "cancel-job"}
    assert buttons(jobs.completed("noop")) == set()
    assert buttons(jobs.processing("noop")) == {"cancel-job"}
    assert buttons(jobs.cancelled("noop")) == set()


def test_job_page_shows_a_completed_jobs_result_as_json_and_does_not_reload(admin_client, jobs):
    job = jobs.completed(result={"rows": 3, "note": "<b>done</b>"})

    response = admin_client.get(job_url(job.id))

    result = re.search(r'<pre class="jobs-pre jobs-json" id="job-result">(.*?)</pre>', response.content.decode(), re.S)
    assert html.unescape(result.group(1)) == '{\n  "note": "<b>done</b>",\n  "rows": 3\n}'
    assert 'http-equiv="refresh"' not in response.content.decode()


def test_job_page_of_a_running_job_shows_its_progress_and_reloads_itself(admin_client, jobs, store):
    job = jobs.processing()
    reported = {"fraction": 0.4, "message": "resized 40 of 100", "updatedAt": "2026-01-01T00:00:00.000Z"}
    store.renew([job], now=job.lease.started_at, lease_seconds=30, progress={job.id: reported})
    services.cancel_job_request(job.id)

    response = admin_client.get(job_url(job.id))

    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert '<progress max="1" value="0.400000">' in page
    assert "40%: resized 40 of 100" in text(response)
    assert "cancel requested" in text(response)
