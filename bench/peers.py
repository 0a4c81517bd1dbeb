"""``make bench-peers``: us against Huey and django-tasks-db on the same workload.

Each contender enqueues N no-op jobs one by one from Python, then processes them with T
threads, on a SQLite file in WAL mode with synchronous=FULL in a fresh directory. The
contenders run in interleaved rounds (the order rotates each round, so a slow spell of a
shared machine does not fall on one of them), and the medians are compared.

The peers live in a throw-away virtualenv (``var/bench-peers/venv``, built from
``bench/peers-requirements.txt``, never from the project's requirements); our side runs
``manage.py benchqueue --json`` with the project's own interpreter. Only the standard
library is used here.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
REQUIREMENTS = BENCH_DIR / "peers-requirements.txt"
DEFAULT_WORK_DIR = REPO_DIR / "var" / "bench-peers"
RUN_TIMEOUT_SECONDS = 900
#: Per enqueue, the CPU outside SQLite's calls (the Python), from a pass of its own with
#: every sqlite3 call timed (``jobs/management/sqlitetime.py``); django-tasks-db's is not measured.
PYTHON_CPU = "enqueue_python_cpu_us_per_job"


def _us(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.0f} µs"


@dataclass
class Contender:
    name: str
    keeps: str  # what it stores, so that the rates are compared honestly
    runs: list = field(default_factory=list)  # one dict of figures per round

    def median(self, key: str) -> float | None:
        """The median of a figure over the rounds; ``None`` if this contender does not report it."""
        values = [run[key] for run in self.runs if run.get(key) is not None]
        return statistics.median(values) if values else None


def peers_python(work_dir: Path) -> Path:
    """The throw-away environment's interpreter, (re)built when the requirements change."""
    env_dir = work_dir / "venv"
    python = env_dir / "bin" / "python"
    stamp = env_dir / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"Building the peers' environment in {env_dir} ...", flush=True)
    shutil.rmtree(env_dir, ignore_errors=True)
    venv.create(env_dir, with_pip=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return python


def last_json_line(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith("{") and "enqueue_per_second" in line:
            return json.loads(line)
    raise RuntimeError(f"no figures in the output:\n{output}")


def run_once(command: list) -> dict:
    """Run one contender; the figures of its last JSON line."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [str(part) for part in command],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    if done.returncode:
        raise RuntimeError(f"{command[1]} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return last_json_line(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000, help="No-op jobs per run (default: 5000).")
    parser.add_argument("--threads", type=int, default=8, help="Worker threads (default: 8).")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; medians are shown (default: 3).")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK_DIR,
        help="Where the peers' environment and the databases go (default: var/bench-peers, on the project's "
        "disk). The databases can be put on tmpfs with --data-dir /dev/shm.",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="Where the SQLite files go (default: --work-dir).")
    arguments = parser.parse_args()
    if arguments.jobs < 1 or arguments.threads < 1 or arguments.rounds < 1:
        parser.error("--jobs, --threads and --rounds must be 1 or more")

    arguments.work_dir.mkdir(parents=True, exist_ok=True)
    peers = peers_python(arguments.work_dir)
    data_dir = arguments.data_dir or arguments.work_dir
    jobs, threads = arguments.jobs, arguments.threads
    workload = ["--jobs", jobs, "--threads", threads]
    contenders = {
        "ours": (
            Contender("ours (embedded SQLite store)", "row per job: status, attempts, lease; fsync per enqueue"),
            lambda directory: [
                *(sys.executable, REPO_DIR / "manage.py", "benchqueue", "--store=sql", "--jobs", jobs),
                *("--concurrency", threads, "--probes=0", "--json", "--database", directory / "ours.sqlite3"),
            ],
        ),
        "huey": (
            Contender("Huey 3.5 SqliteHuey", "row deleted when taken, no status; fsync per enqueue"),
            lambda directory: [peers, BENCH_DIR / "peer_huey.py", *workload, "--directory", directory],
        ),
        "django-tasks-db": (
            Contender("django-tasks-db 0.13, 1 worker", "row per task: status, times; fsync per enqueue"),
            lambda directory: [peers, BENCH_DIR / "peer_django_tasks_db.py", *workload, "--directory", directory],
        ),
    }

    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{jobs} no-op jobs enqueued one by one, then processed with {threads} threads; SQLite WAL, synchronous=FULL")
    print(f"databases in {data_dir.resolve()}; {arguments.rounds} interleaved rounds\n")
    names = list(contenders)
    for round_number in range(arguments.rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            contender, command = contenders[name]
            with tempfile.TemporaryDirectory(prefix="run-", dir=data_dir) as directory:
                figures = run_once(command(Path(directory)))
            if figures["completed"] != jobs:
                raise RuntimeError(f"{name} completed {figures['completed']} of {jobs} jobs")
            contender.runs.append(figures)
            print(
                f"round {round_number + 1}  {name:16} enqueue {figures['enqueue_per_second']:7.0f}/s "
                f"({figures['enqueue_cpu_us_per_job']:4.0f} µs CPU each, Python {_us(figures.get(PYTHON_CPU))}"
                f")  process {figures['process_per_second']:7.0f}/s",
                flush=True,
            )

    ours = contenders["ours"][0]
    print(f"\nMedians of {arguments.rounds} rounds (ratio: ours ÷ theirs, above 1.00 we are faster)\n")
    print(
        f"| {'':32} | enqueue/s | CPU µs per enqueue | Python CPU per enqueue | process/s | enqueue: ours ÷ "
        "| process: ours ÷ | keeps |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for contender, _ in contenders.values():
        enqueue, process = contender.median("enqueue_per_second"), contender.median("process_per_second")
        cpu, python = contender.median("enqueue_cpu_us_per_job"), contender.median(PYTHON_CPU)
        ratios = (
            ("", "")
            if contender is ours
            else (
                f"{ours.median('enqueue_per_second') / enqueue:.2f}x",
                f"{ours.median('process_per_second') / process:.2f}x",
            )
        )
        print(
            f"| {contender.name:32} | {enqueue:9,.0f} | {cpu:18,.0f} | {_us(python):>22} | {process:9,.0f} "
            f"| {ratios[0]:>15} | {ratios[1]:>15} | {contender.keeps} |"
        )
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (another busy process skews every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
