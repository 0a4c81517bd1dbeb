"""``file-gate``: creates ``<JOBQUEUE_VAR_DIR>/<job id>.started``, then waits until
``<JOBQUEUE_VAR_DIR>/<gate>.open`` exists. So a test knows a job is running, and the job
cannot end before the test says so: no timing luck either way."""

import time

from django.conf import settings

from jobs.handlers import handler
from tests.gates import gate_path, started_path

#: How long a gate may stay shut before the handler gives up (a test that forgot it).
MAX_WAIT_SECONDS = 120.0


@handler("file-gate")
def wait_at_the_gate(payload: dict, context) -> None:
    directory = settings.VAR_DIR
    started_path(directory, context.job.id).touch()
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    # A handler in another process: polling a file is how it hears the test.
    while not gate_path(directory, payload["gate"]).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {payload['gate']!r} stayed shut for {MAX_WAIT_SECONDS:g} s")
        time.sleep(0.01)
