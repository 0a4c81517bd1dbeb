"""Gunicorn settings for the API and admin (``gunicorn jobqueue.wsgi`` reads this file).

HOST (default 127.0.0.1) and PORT (8080) choose the address; WEB_CONCURRENCY (2)
processes of GUNICORN_THREADS (4) threads each serve requests.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
accesslog = "-"
graceful_timeout = 30
# Each worker opens its own database connections after the fork.
preload_app = False
if os.environ.get("JOBQUEUE_LOG_FORMAT", "plain").strip().lower() == "json":
    from jobqueue.logconfig import gunicorn_logconfig

    logconfig_dict = gunicorn_logconfig(log_format="json")


def post_worker_init(worker):
    """Open the job store as each web worker starts, so the log names it and an
    unreachable MongoDB fails the start instead of the first request."""
    from jobs.stores import get_store

    get_store()
