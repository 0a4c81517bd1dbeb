"""WSGI entry point (Django's application), served by ``jobqueue.webserver``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobqueue.settings")

application = get_wsgi_application()
