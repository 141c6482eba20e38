"""One background thread that runs a panel's generations, newest request first.

Submitting a job cancels the one in flight (through its `threading.Event`) and replaces any job
still waiting, so however fast requests arrive there is never more than one generation
running, and the last request is the one that finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Job = Callable[[threading.Event], None]


class LatestOnlyWorker:
    def __init__(self, name: str = "saewidgets-steering") -> None:
        self._cond = threading.Condition()
        self._pending: Job | None = None
        self._cancel: threading.Event | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("this panel was closed; create a new one")
            if self._cancel is not None:
                self._cancel.set()
            self._pending = job
            self._cond.notify_all()

    def cancel(self) -> None:
        """Stop the job in flight and drop the waiting one."""
        with self._cond:
            self._pending = None
            if self._cancel is not None:
                self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing runs or waits; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._busy and self._pending is None, timeout=timeout
            )

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy or self._pending is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            if self._cancel is not None:
                self._cancel.set()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, self._pending = self._pending, None
                cancel = threading.Event()
                self._cancel = cancel
                self._busy = True
            try:
                job(cancel)  # jobs report their own errors; the loop must survive them
            finally:
                with self._cond:
                    self._busy = False
                    self._cancel = None
                    self._cond.notify_all()
