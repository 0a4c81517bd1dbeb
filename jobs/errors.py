"""The errors of the service's use cases (``jobs.services``), with messages fit for a user.

They live apart from the services so that the input validation (``jobs.validation``),
which the services use, can raise them too. ``jobs.services`` re-exports every one.
"""

from collections.abc import Mapping

#: Field errors, DRF style: each field maps to its messages, or, for a field holding an
#: object (a job's ``payload``), to that object's own field errors.
FieldErrors = Mapping[str, "list[str] | FieldErrors"]


class ServiceError(Exception):
    """A request the service cannot do; ``str()`` is a message for the user."""


class JobValidationError(ServiceError):
    """Bad input; ``errors`` maps each field to its messages, nested for nested fields
    (``{"payload": {"to": ["Enter a valid email address."]}}``)."""

    def __init__(self, errors: FieldErrors):
        self.errors = errors
        super().__init__(
            "; ".join(f"{field}: {' '.join(messages)}" for field, messages in flatten_errors(errors).items())
        )


class PayloadTooLarge(ServiceError):
    """The payload is larger than ``JOBQUEUE_MAX_PAYLOAD_BYTES``."""


class InvalidJobId(ServiceError):
    """Not a 24-hex job id."""


class JobNotFound(ServiceError):
    """No job has this id."""


class IdempotencyConflict(ServiceError):
    """The idempotency key was used before with a different request."""


class InvalidTransition(ServiceError):
    """The job is not in a state the action applies to (it may have changed meanwhile);
    ``status`` is the state it was found in, when known."""

    def __init__(self, message: str, *, status: str | None = None):
        super().__init__(message)
        self.status = status


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Field errors (dicts, lists and strings, nested) as ``{"payload.to": [messages]}``:
    one dotted path per field at fault, for one-line summaries. ``non_field_errors``
    reads as ``body``; list items as ``field[index]``."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = _field_name(key)
            for path, messages in flatten_errors(value, f"{prefix}.{name}" if prefix else name).items():
                flat.setdefault(path, []).extend(messages)
        return flat
    if isinstance(detail, list | tuple):
        flat = {}
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list | tuple):
                for path, messages in flatten_errors(item, f"{prefix}[{index}]").items():
                    flat.setdefault(path, []).extend(messages)
            else:
                flat.setdefault(prefix or "body", []).append(str(item))
        return flat
    return {prefix or "body": [str(detail)]}


def plain_errors(detail):
    """DRF's error detail (``ReturnDict``, ``ErrorDetail``) as plain dicts, lists and
    strings, ``non_field_errors`` renamed ``body``: what ``JobValidationError`` carries."""
    if isinstance(detail, Mapping):
        return {
            ("body" if key == "non_field_errors" else str(key)): plain_errors(value) for key, value in detail.items()
        }
    if isinstance(detail, list | tuple):
        return [plain_errors(item) for item in detail]
    return str(detail)


def _field_name(key) -> str:
    return "body" if key == "non_field_errors" else str(key)


class ScheduleNotFound(ServiceError):
    """No schedule has that name (the API answers 404)."""


class ScheduleExists(ServiceError):
    """A schedule of that name exists already (the API answers 409)."""
