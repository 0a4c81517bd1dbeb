"""WSGI entry point (Django's application), served by ``jobqueue.webserver``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobqueue.settings")

django_application = get_wsgi_application()

# Imported once Django is set up: the body limit reads the settings.
from django.conf import settings  # noqa: E402

from jobqueue.chunked import ChunkedBodyMiddleware  # noqa: E402
from jobs.request_body import max_body_bytes  # noqa: E402


def _largest_body() -> int:
    """A chunked body may be as large as a POST /jobs body or a form Django accepts."""
    return max(max_body_bytes(), settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


application = ChunkedBodyMiddleware(django_application, _largest_body)
