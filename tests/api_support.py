"""What the API tests share: a valid email payload, posting a job, and how many jobs the
store holds."""

import json

from jobs import services

EMAIL = {"to": "user@example.com", "subject": "Welcome", "body": "Hello!"}


def job_count() -> int:
    """How many jobs the store holds (to check a refused request stored nothing)."""
    return len(services.list_jobs(limit=services.MAX_LIST_LIMIT))


def post_job(api, body, path="/jobs"):
    """POST ``body`` as JSON to ``path`` with the test client ``api``."""
    return api.post(path, data=json.dumps(body), content_type="application/json")
