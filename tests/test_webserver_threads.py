"""The web server's Django threads: every call runs, a failing one stops nothing,
shutdown drops what has not started while the running call finishes, and a stopped
thread leaves no database connection open."""

import queue
import threading

from django.db import connections

from jobqueue.webserver.threads import CallThreads

TIMEOUT = 10


def test_calls_run_on_the_threads_concurrently():
    threads = CallThreads(3, name_prefix="test-web")
    all_running = threading.Barrier(3, timeout=TIMEOUT)
    names = []
    done = threading.Semaphore(0)

    def call(index):
        all_running.wait()  # breaks (and fails the test) unless three run at once
        names.append((index, threading.current_thread().name))
        done.release()

    for index in range(3):
        threads.submit(call, index)
    for _ in range(3):
        assert done.acquire(timeout=TIMEOUT)
    threads.shutdown()

    assert sorted(index for index, _ in names) == [0, 1, 2]
    assert all(name.startswith("test-web_") for _, name in names)
    assert len({name for _, name in names}) == 3


def test_a_failing_call_is_logged_and_the_thread_goes_on(caplog):
    threads = CallThreads(1, name_prefix="test-web")
    ran = threading.Event()

    def fail():
        raise RuntimeError("boom")

    threads.submit(fail)
    threads.submit(ran.set)

    assert ran.wait(TIMEOUT)
    threads.shutdown()
    assert "boom" in caplog.text


def test_shutdown_drops_calls_not_started_and_lets_the_running_one_finish():
    threads = CallThreads(1, name_prefix="test-web")
    started, release, finished, dropped = threading.Event(), threading.Event(), threading.Event(), threading.Event()

    def running():
        started.set()
        release.wait(TIMEOUT)
        finished.set()

    threads.submit(running)
    assert started.wait(TIMEOUT)
    threads.submit(dropped.set)
    threads.shutdown()
    release.set()

    for thread in threads._threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert finished.is_set() and not dropped.is_set()


def test_a_stopped_thread_has_closed_its_database_connection(transactional_db):
    threads = CallThreads(1, name_prefix="test-web")
    used = queue.SimpleQueue()

    def query():
        connection = connections["default"]  # this thread's own, kept open between requests
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        used.put(connection)

    threads.submit(query)
    connection = used.get(timeout=TIMEOUT)
    threads.shutdown()

    for thread in threads._threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert connection.connection is None
