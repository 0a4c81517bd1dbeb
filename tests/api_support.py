"""What the API tests share: a valid email payload and how many jobs the store holds."""

from jobs import services

EMAIL = {"to": "user@example.com", "subject": "Welcome", "body": "Hello!"}


def job_count() -> int:
    """How many jobs the store holds (to check a refused request stored nothing)."""
    return len(services.list_jobs(limit=services.MAX_LIST_LIMIT))
