"""WSGI entry point: ``gunicorn jobqueue.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobqueue.settings")

application = get_wsgi_application()
