"""The job queue app. ``from jobs import enqueue`` enqueues without HTTP."""


def enqueue(type, payload=None, **options):
    """Validate and store a new job; see ``jobs.services.enqueue``."""
    from jobs.services import enqueue as _enqueue

    return _enqueue(type, payload, **options)
