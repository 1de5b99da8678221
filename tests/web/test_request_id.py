"""Request ids made here: 32 hex digits, never repeated, and a forked worker does not continue
its parent's sequence."""
import os
import re
import subprocess
import sys

from survey_engine.web import request_id


def test_request_ids_are_unique_hex_and_differ_per_process():
    ids = [request_id.new_request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    code = "from survey_engine.web import request_id as r; print(r.new_request_id())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__)))).stdout.strip()
    assert other[:16] != ids[0][:16] and other not in ids


def test_a_forked_child_starts_its_own_sequence():
    parent = request_id.new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker after fork
        os.close(read)
        os.write(write, request_id.new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", child) and child[:16] != parent[:16]
