"""Recording one result through the stores' batch API, for tests that set a job's state."""


def record(store, result, *, now) -> bool:
    """Record ``result`` (``jobs.results``) with one ``record_results`` call; whether it applied."""
    [applied] = store.record_results([result], now=now)
    return applied
