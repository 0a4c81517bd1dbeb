"""Prometheus metrics, read from the job store at scrape time.

Every figure is computed when ``/metrics`` is scraped, through ``jobs.services``, so it is
the same whichever web process answers and however many worker processes run: there is
no per-process state and no multiprocess directory to manage.

* ``jobqueue_jobs{type,status}``: jobs stored now.
* ``jobqueue_jobs_finished_total{type,outcome}``: completed, failed and cancelled jobs
  still stored. Derived from store counts, so it drops when finished jobs are purged
  (Prometheus' ``rate()`` treats a drop as a counter reset).
* ``jobqueue_job_run_seconds{type}`` and ``jobqueue_job_queue_wait_seconds{type}``: gauge
  histograms over the latest ``SAMPLE_SIZE`` finished jobs (run time of the last
  attempt; wait from due to first start). A sample, not a cumulative histogram: no
  process sees every job, and the store keeps no running totals.
* ``jobqueue_oldest_pending_age_seconds``, ``jobqueue_delayed_jobs``.
* ``jobqueue_queue_jobs{queue,status}``, ``jobqueue_queue_oldest_pending_age_seconds{queue}``,
  ``jobqueue_queue_paused{queue}``: per named queue (``jobs.queues``).
* ``jobqueue_worker_pools``, ``jobqueue_worker_threads``, ``jobqueue_worker_threads_busy``:
  live pools from the registry heartbeat.
"""

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from jobs import queues, services
from jobs.domain import FINISHED_STATUSES, Job

#: Finished jobs the run-time and wait histograms are computed from.
SAMPLE_SIZE = 500
#: Histogram bucket bounds in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def run_seconds(job: Job) -> float | None:
    """How long the job's last attempt ran."""
    if not job.attempts:
        return None
    last = job.attempts[-1]
    return max(0.0, (last.finished_at - last.started_at).total_seconds())


def queue_wait_seconds(job: Job) -> float | None:
    """How long the job waited from due to its first start (``None`` when the first
    attempt fell out of the kept history). A retried job's ``runAt`` is its retry time,
    so its wait counts from creation."""
    if not job.attempts or job.attempt_count > len(job.attempts):
        return None
    due = job.run_at if job.retry_count == 0 else job.created_at
    return max(0.0, (job.attempts[0].started_at - due).total_seconds())


class StoreCollector:
    """A collector that reads the store on every ``collect()``."""

    def collect(self):
        stats = services.queue_stats()
        jobs = GaugeMetricFamily("jobqueue_jobs", "Jobs stored, by type and status.", labels=["type", "status"])
        finished = CounterMetricFamily(
            "jobqueue_jobs_finished", "Finished jobs still stored, by type and outcome.", labels=["type", "outcome"]
        )
        for job_type, counts in stats.by_type.items():
            for status, count in counts.items():
                jobs.add_metric([job_type, status], count)
                if status in FINISHED_STATUSES:
                    finished.add_metric([job_type, status], count)
        yield jobs
        yield finished
        yield GaugeMetricFamily(
            "jobqueue_oldest_pending_age_seconds",
            "Age of the oldest due pending job (0 when none).",
            value=stats.oldest_pending_age_seconds or 0.0,
        )
        yield GaugeMetricFamily("jobqueue_delayed_jobs", "Pending jobs not due yet.", value=stats.delayed)
        yield from self._queues(queues.list_queues())
        yield from self._histograms(services.recently_finished_jobs(limit=SAMPLE_SIZE))
        yield from self._pools(services.live_worker_pools())

    @staticmethod
    def _histograms(recent: list[Job]):
        for name, doc, measure in (
            ("jobqueue_job_run_seconds", "Run time of the last attempt", run_seconds),
            ("jobqueue_job_queue_wait_seconds", "Wait from due to first start", queue_wait_seconds),
        ):
            family = GaugeHistogramMetricFamily(
                name, f"{doc}, over the latest {SAMPLE_SIZE} finished jobs, by type.", labels=["type"]
            )
            by_type: dict[str, list[float]] = {}
            for job in recent:
                value = measure(job)
                if value is not None:
                    by_type.setdefault(job.type, []).append(value)
            for job_type, values in sorted(by_type.items()):
                buckets = [(floatToGoString(bound), float(sum(1 for v in values if v <= bound))) for bound in BUCKETS]
                buckets.append(("+Inf", float(len(values))))
                family.add_metric([job_type], buckets, gsum_value=sum(values))
            yield family

    @staticmethod
    def _queues(summaries):
        """Per named queue: jobs by status, the oldest due pending job's age, paused or not."""
        by_status = GaugeMetricFamily(
            "jobqueue_queue_jobs", "Jobs stored, by queue and status.", labels=["queue", "status"]
        )
        oldest = GaugeMetricFamily(
            "jobqueue_queue_oldest_pending_age_seconds",
            "Age of the queue's oldest due pending job (0 when none).",
            labels=["queue"],
        )
        paused = GaugeMetricFamily("jobqueue_queue_paused", "1 while the queue is paused.", labels=["queue"])
        for summary in summaries:
            for status, count in summary.counts.items():
                by_status.add_metric([summary.name, status], count)
            oldest.add_metric([summary.name], summary.oldest_pending_age_seconds or 0.0)
            paused.add_metric([summary.name], 1.0 if summary.paused else 0.0)
        yield by_status
        yield oldest
        yield paused

    @staticmethod
    def _pools(pools):
        yield GaugeMetricFamily("jobqueue_worker_pools", "Live worker processes.", value=len(pools))
        yield GaugeMetricFamily(
            "jobqueue_worker_threads", "Worker threads of live pools.", value=sum(p.concurrency for p in pools)
        )
        yield GaugeMetricFamily(
            "jobqueue_worker_threads_busy", "Jobs running on live pools.", value=sum(p.running for p in pools)
        )


def render(*, accept: str | None = None) -> tuple[bytes, str]:
    """The store's metrics, read now, and their content type: OpenMetrics when ``accept``
    (a request's ``Accept`` header) asks for it, else the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector())
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
