"""Job ids made without bson are ObjectId-shaped: 24 hex, time first, unique."""

import os
import time

from jobs.ids import new_job_id, new_job_ids


def test_ids_are_24_hex_unique_and_start_with_the_creation_second():
    before = int(time.time())
    ids = [new_job_id() for _ in range(10_000)]
    after = int(time.time())
    assert len(set(ids)) == len(ids)
    assert all(len(job_id) == 24 and int(job_id, 16) >= 0 and job_id == job_id.lower() for job_id in ids)
    assert all(before <= int(job_id[:8], 16) <= after for job_id in ids)


def test_ids_made_in_a_batch_are_shaped_alike_and_unique_with_single_ones():
    before = int(time.time())
    ids = [new_job_id(), *new_job_ids(1000), new_job_id(), *new_job_ids(0)]
    after = int(time.time())
    assert len(ids) == 1002 and len(set(ids)) == len(ids)
    assert all(len(job_id) == 24 and int(job_id, 16) >= 0 and job_id == job_id.lower() for job_id in ids)
    assert all(before <= int(job_id[:8], 16) <= after for job_id in ids)
    assert len({job_id[8:18] for job_id in ids}) == 1  # this process's random part


def test_a_forked_child_makes_ids_of_its_own():
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave at once
        os.write(writer, new_job_id().encode())
        os._exit(0)
    os.close(writer)
    child_id = os.read(reader, 24).decode()
    os.waitpid(pid, 0)
    os.close(reader)
    parent_id = new_job_id()
    assert child_id[8:18] != parent_id[8:18]  # the per-process random part differs
