"""The job queue app. ``from jobs import enqueue, enqueue_many`` enqueues without HTTP."""


def enqueue(type, payload=None, **options):
    """Validate and store a new job; see ``jobs.services.enqueue``."""
    from jobs.services import enqueue as _enqueue

    return _enqueue(type, payload, **options)


def enqueue_many(jobs, **options):
    """Validate and store many jobs, all or none; see ``jobs.services.enqueue_many``."""
    from jobs.services import enqueue_many as _enqueue_many

    return _enqueue_many(jobs, **options)
