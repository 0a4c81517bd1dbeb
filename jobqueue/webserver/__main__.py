"""``python -m jobqueue.webserver [--fd N]``: one web server process.

With ``--fd`` it serves on a listening socket inherited from ``manage.py serve``
(several processes share it; the kernel spreads connections); without, it binds
``HOST:PORT`` itself. Settings: ``WEB_THREADS`` (Django threads, default 32),
``WEB_READ_TIMEOUT`` (seconds to receive a whole request, default 10),
``WEB_KEEPALIVE_TIMEOUT`` (seconds an idle kept-alive connection stays open, default 5),
``WEB_GROUP_COMMIT`` (concurrent ``POST /jobs`` share one transaction, default on; see
``jobs.groupcommit``).
"""

import argparse
import os
import socket

import django
import uvicorn

from jobqueue.env import envbool, envfloat, envint
from jobqueue.webserver.sockets import listening_socket

# A thread mostly waits for the group commit's fsync, and a commit can share only the
# jobs of requests that have a thread: with 8, 32 connections made half the jobs/s.
DEFAULT_WEB_THREADS = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, help="serve on this inherited listening socket")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobqueue.settings")
    django.setup(set_prefix=False)

    from django.core.wsgi import get_wsgi_application

    from jobqueue.webserver.bridge import WSGIBridge
    from jobqueue.webserver.protocol import TimedHttpProtocol
    from jobs import groupcommit
    from jobs.fast_enqueue import FastEnqueueApp
    from jobs.request_body import max_body_bytes
    from jobs.stores import get_store

    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        sock = listening_socket(os.environ.get("HOST", "127.0.0.1"), envint("PORT", 8080, minimum=1, maximum=65535))
    # Open the job store now: the log names it, and an unreachable MongoDB fails the start.
    get_store()
    if envbool("WEB_GROUP_COMMIT", True):
        groupcommit.enable()
    TimedHttpProtocol.read_timeout = envfloat("WEB_READ_TIMEOUT", 10.0, minimum=0.1)
    app = WSGIBridge(
        FastEnqueueApp(get_wsgi_application()),
        threads=envint("WEB_THREADS", DEFAULT_WEB_THREADS, minimum=1, maximum=256),
        # Room for the largest POST /jobs body the API reads; anything bigger is refused here.
        max_body_bytes=max(max_body_bytes(), 2 * 1024 * 1024),
    )
    config = uvicorn.Config(
        app,
        http=TimedHttpProtocol,
        interface="asgi3",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_keep_alive=envint("WEB_KEEPALIVE_TIMEOUT", 5, minimum=1),
        timeout_graceful_shutdown=envint("WEB_GRACEFUL_TIMEOUT", 30, minimum=1),
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
