"""The relay's logs go through a queue to a listener thread: same lines as before, none lost at exit."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import logging, threading
from mailgate.logjson import configure
configure("{fmt}")
log = logging.getLogger("mailgate.relay")
rcpts = ["b@y"]
log.info("%s %s -> %s %s", "id1", "a@x", rcpts, "pass", extra={{"audit_id": "id1"}})
rcpts.append("changed@later")  # the line keeps what the arguments were when it was logged
try:
    1 / 0
except ZeroDivisionError:
    log.exception("lint failed")
logging.getLogger("other").info("not shown: other loggers log from WARNING on")
logging.getLogger("other").warning("shown")
print("threads", sorted(t.name for t in threading.enumerate() if t.name != "MainThread"))
"""


def run(fmt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fmt=fmt)], capture_output=True, text=True, timeout=60, check=True
    )


def test_json_lines_are_written_by_the_listener_and_flushed_at_exit() -> None:
    done = run("json")
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(x["level"], x["logger"], x["msg"]) for x in lines] == [
        ("info", "mailgate.relay", "id1 a@x -> ['b@y'] pass"),
        ("error", "mailgate.relay", "lint failed"),
        ("warning", "other", "shown"),
    ]
    assert lines[0]["audit_id"] == "id1" and "exc" not in lines[0]
    assert lines[1]["exc"].startswith("Traceback") and lines[1]["exc"].endswith("ZeroDivisionError: division by zero")
    assert "Thread-1 (_monitor)" in done.stdout  # the QueueListener's thread does the writing


def test_text_lines_keep_the_traceback() -> None:
    lines = run("text").stderr.splitlines()
    assert lines[0].endswith("mailgate.relay INFO id1 a@x -> ['b@y'] pass")
    assert lines[1].endswith("mailgate.relay ERROR lint failed") and lines[2] == "Traceback (most recent call last):"
    assert lines[-2] == "ZeroDivisionError: division by zero" and lines[-1].endswith("other WARNING shown")
