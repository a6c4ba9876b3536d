"""Run a command and report its wall time and peak RSS, measured from a small process.

A child forked from the benchmark (which holds a whole generated document)
would start with the benchmark's memory counted in its peak RSS; forked
from this small process, it does not.

    python -m benchmarks.peak RESULT_FILE command args...
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    """Fork, exec the command, wait, and write {"wall", "rss_kib", "code"} to RESULT_FILE."""
    result, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as stream:
        json.dump({"wall": wall, "rss_kib": usage.ru_maxrss, "code": code}, stream)
    sys.exit(code)


if __name__ == "__main__":
    main()
