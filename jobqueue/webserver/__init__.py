"""The HTTP server of the API and admin: uvicorn's event loop in front of Django's WSGI app.

Why not gunicorn's threads: a thread there reads the request itself, so eight clients
that send headers and half a body hold all of 2 x 4 threads for as long as they like.
Here the event loop reads every request whole (``bridge``) before a thread runs Django,
a request that stalls is cut after ``WEB_READ_TIMEOUT`` (``protocol``), and the server's
own error answers are JSON like the API's. ``python -m jobqueue.webserver`` runs one
process; ``manage.py serve`` runs ``WEB_CONCURRENCY`` of them on one listening socket.
"""
