"""The seed's Postman collection, replayed as is against the app.

``tests/data/seed-postman-collection.json`` is a copy of the collection the original
service shipped with. Its three requests (create, get, list) are sent with their own
method, headers and raw body; ``<jobID>`` becomes the id the first one created.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

from django.test import Client

COLLECTION = Path(__file__).parent / "data" / "seed-postman-collection.json"
JOB_ID_PLACEHOLDER = "<jobID>"


def seed_requests() -> list[dict]:
    return [item["request"] for item in json.loads(COLLECTION.read_text())["item"]]


def replay(client: Client, request: dict, job_id: str | None):
    """Send one Postman request: its method, headers and raw body; the URL's path and query."""
    url = urlsplit(request["url"]["raw"].replace(JOB_ID_PLACEHOLDER, job_id or JOB_ID_PLACEHOLDER))
    headers = {header["key"]: header["value"] for header in request.get("header", [])}
    content_type = headers.pop("Content-Type", "application/octet-stream")
    body = request.get("body", {}).get("raw", "") if request.get("body", {}).get("mode") == "raw" else ""
    path = f"{url.path}?{url.query}" if url.query else url.path
    return client.generic(request["method"], path, body, content_type=content_type, headers=headers)


def test_the_collection_holds_the_three_seed_requests():
    assert [(r["method"], r["url"]["raw"]) for r in seed_requests()] == [
        ("POST", "http://localhost:8080/jobs"),
        ("GET", "http://localhost:8080/jobs?id=<jobID>"),
        ("GET", "http://localhost:8080/jobs"),
    ]


def test_seed_requests_create_get_and_list_a_job(store):
    client = Client()
    create, get, list_ = seed_requests()

    created = replay(client, create, None)
    assert created.status_code == 201, created.content
    job = created.json()
    assert created.headers["Location"] == f"/jobs/{job['id']}"
    assert len(job["id"]) == 24 and int(job["id"], 16) >= 0
    assert job["type"] == "email"
    assert job["payload"] == {"to": "user@example.com", "subject": "Welcome", "body": "Hello!"}
    assert job["status"] == "pending"
    assert job["retryCount"] == 0
    assert job["createdAt"].endswith("Z") and job["updatedAt"] == job["createdAt"]

    got = replay(client, get, job["id"])
    assert got.status_code == 200, got.content
    assert got.json() == job

    listed = replay(client, list_, job["id"])
    assert listed.status_code == 200, listed.content
    assert listed.json() == [job]
