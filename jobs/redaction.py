"""What the HTTP API may show of a job, and what it must not.

* Payload fields a job type marks sensitive (``@handler(..., sensitive_fields={...})``)
  are shown as ``"***"``; the stored payload, and so the handler, keeps the real value.
* An error is shown as its message line; the traceback (file paths, code) stays for
  staff in the admin.
* A worker's name ``host:pid:random`` is shown without the process id.
"""

import re

from jobs.handlers import get_handler

MASK = "***"
_WORKER_NAME = re.compile(r"^(?P<host>.*):\d+:(?P<suffix>[^:]+)$")


def masked_payload(job_type: str, payload):
    """``payload`` with the values of the type's sensitive fields replaced by ``MASK``."""
    handler = get_handler(job_type)
    if handler is None or not handler.sensitive_fields or not isinstance(payload, dict):
        return payload
    return {key: (MASK if key in handler.sensitive_fields else value) for key, value in payload.items()}


def error_message(error: str | None) -> str | None:
    """An attempt's recorded error without its traceback: the lines before the first blank one."""
    if error is None:
        return None
    return error.split("\n\n", 1)[0]


def public_worker_name(name: str | None) -> str | None:
    """``host:pid:random`` as ``host:random``; any other name unchanged."""
    if name is None:
        return None
    match = _WORKER_NAME.match(name)
    return f"{match['host']}:{match['suffix']}" if match else name
