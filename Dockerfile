# The job queue service: API + admin (uvicorn, jobqueue/webserver) and, unless told otherwise, a worker pool.
# Not built in CI (no Docker engine there); tests/test_container_files.py checks that every
# command, port and variable used here exists in the project.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    JOBQUEUE_VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system app && useradd --system --gid app --home-dir /app --no-create-home app

# Dependencies first, in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=app:app . .
RUN mkdir -p /app/var && chown app:app /app/var
USER app

EXPOSE 8080
# Liveness of the web process: /healthz answers without touching the store.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=3)"

CMD ["python", "manage.py", "serve"]
