"""One training run per workdir: an advisory lock on WORKDIR/.lock while a run trains.

Two runs in one workdir (a job resubmitted while the first still runs, a mistyped --workdir)
would interleave their checkpoints and trace rows. The lock is `flock` on WORKDIR/.lock, which
names its holder (process id, host, start time, command). The kernel releases it when the
holder dies, however it dies (`kill -9` included), so a lock left by a dead run is taken over
without asking; on NFS the server releases it when the dead client's lease expires. In a
multi-process run process 0 holds it for all.
"""

import datetime
import fcntl
import os
import pathlib
import socket
import sys

import jax

from gan.errors import UserError

LOCK_FILE = ".lock"


class WorkdirLock:
    """Holds WORKDIR/.lock for the duration of a `with` block (on process 0).

    Raises:
      UserError: on entry, when another live process holds the lock; nothing is changed.
    """

    def __init__(self, workdir: pathlib.Path):
        self.path = workdir / LOCK_FILE
        self._file = None

    def __enter__(self) -> "WorkdirLock":
        if jax.process_index() > 0:
            return self
        lock_file = open(self.path, "a+")  # noqa: SIM115  (held open until __exit__)
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "a process that did not say which"
            lock_file.close()
            raise UserError(
                f"The workdir {str(self.path.parent)!r} is in use by another training run "
                f"({holder}). Two runs in one workdir would mix their checkpoints and trace: "
                "wait for that run to end or stop it, or pass another --workdir. Nothing was "
                "changed."
            ) from None
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(
            f"process {os.getpid()} on {socket.gethostname()}, started {started}: "
            f"{' '.join(sys.argv)}\n"
        )
        lock_file.flush()
        self._file = lock_file
        return self

    def __exit__(self, *exc_info) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None
