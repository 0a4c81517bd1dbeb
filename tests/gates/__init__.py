"""A Django app for worker processes started by the tests: its ``job_handlers`` module
registers ``file-gate``, a handler that holds its job until the test opens the gate.

``tests.process_settings`` installs it; the tests drive it through ``Deployment``.
Importing this package registers nothing, so the test process can use the paths.
"""

from pathlib import Path


def gate_path(directory: Path, gate: str) -> Path:
    """The file whose creation opens ``gate``."""
    return Path(directory) / f"{gate}.open"


def started_path(directory: Path, job_id: str) -> Path:
    """The file the handler creates when the job starts."""
    return Path(directory) / f"{job_id}.started"
