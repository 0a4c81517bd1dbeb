"""Settings of the worker processes the tests start: the service's own, plus the
``tests.gates`` app (the ``file-gate`` job type)."""

from jobqueue.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.gates"]  # noqa: F405
