"""The one way widgets run work in the kernel: a worker thread, newest request wins.

Trait observers and comm handlers never compute; they call `TaskRunner.submit`, which cancels
the job in flight (through its `threading.Event`), drops any job still waiting and queues the
new one. Each job reports through the widget's ``_task`` trait::

    {"id": 3, "name": "probe", "state": "running" | "done" | "error" | "cancelled" | "idle",
     "progress": None | 0..1, "message": "..."}

which the front end shows with one component (js/src/lib/task.js). A job's result is applied
only if no newer request arrived meanwhile; an error leaves the last good result on screen.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from saewidgets.core.errors import SAEWidgetsError

IDLE = {"id": 0, "name": "", "state": "idle", "progress": None, "message": ""}
# Errors that mean "the request was bad": shown as they are. Anything else is a bug, shown
# with its type and printed with its traceback.
USER_ERRORS = (SAEWidgetsError, ValueError, TypeError, KeyError, IndexError)


class TaskCancelled(Exception):
    """Raised inside a job by `TaskContext.check` once a newer request (or cancel) arrived."""


class TaskContext:
    """What a job gets: its cancel event, a progress reporter and a cancellation check."""

    def __init__(self, runner: TaskRunner, task_id: int, name: str) -> None:
        self._runner = runner
        self.id = task_id
        self.name = name
        self.cancelled = threading.Event()

    def progress(self, fraction: float | None = None, message: str | None = None) -> None:
        if not self.cancelled.is_set():
            self._runner._report(self, "running", fraction, message)

    def check(self) -> None:
        if self.cancelled.is_set():
            raise TaskCancelled


Job = Callable[[TaskContext], Any]


class TaskRunner:
    """Runs one widget's kernel work on a background thread, latest request first."""

    def __init__(self, widget, thread_name: str = "saewidgets-task", status: bool = True) -> None:
        self._widget = widget
        self._status = status  # False: a quiet lane (say, search) that never touches ``_task``
        self._cond = threading.Condition()
        self._pending: tuple[TaskContext, Job, Callable | None] | None = None
        self._current: TaskContext | None = None
        self._next_id = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)
        self._thread.start()

    # -- requests --------------------------------------------------------------------------

    def submit(
        self, name: str, job: Job, done: Callable[[Any], None] | None = None, message: str = ""
    ) -> int:
        """Queue ``job(ctx)``; ``done(result)`` applies its result unless a newer request came.
        Returns the task id (also in ``widget._task["id"]``)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("this widget was closed; create a new one")
            self._next_id += 1
            ctx = TaskContext(self, self._next_id, name)
            if self._current is not None:
                self._current.cancelled.set()
            if self._pending is not None:
                self._pending[0].cancelled.set()
            self._pending = (ctx, job, done)
            self._cond.notify_all()
        self._report(ctx, "running", None, message or f"{name}…")
        return ctx.id

    def fail(self, name: str, message: str, *, cancel: bool = False) -> None:
        """Refuse a request before it runs (bad input) and show why. ``cancel``: the refused
        request replaces the work in flight (a new setting), so stop that work too; a refused
        side request (a bad "add") leaves it running."""
        if cancel:
            self.cancel(report=False)
        with self._cond:
            self._next_id += 1
            ctx = TaskContext(self, self._next_id, name)
        self._report(ctx, "error", None, message)

    def cancel(self, report: bool = True) -> None:
        """Stop the job in flight and drop the waiting one."""
        with self._cond:
            stopped = [c for c in (self._current, self._pending and self._pending[0]) if c]
            self._pending = None
            for ctx in stopped:
                ctx.cancelled.set()
            self._cond.notify_all()
        if report and stopped:
            last = max(stopped, key=lambda c: c.id)
            self._set(last, "cancelled", None, "cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing runs or waits; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._current is None and self._pending is None, timeout=timeout
            )

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or self._pending is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for ctx in (self._current, self._pending and self._pending[0]):
                if ctx:
                    ctx.cancelled.set()
            self._pending = None
            self._cond.notify_all()

    # -- the worker ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                (ctx, job, done), self._pending = self._pending, None
                self._current = ctx
            try:
                self._run(ctx, job, done)
            finally:
                with self._cond:
                    self._current = None
                    self._cond.notify_all()

    def _run(self, ctx: TaskContext, job: Job, done) -> None:
        try:
            result = job(ctx)
            with self._cond:  # no newer request can slip in between the check and applying
                ctx.check()
                if done is not None:
                    done(result)
        except TaskCancelled:
            return  # the newer request reports for itself
        except USER_ERRORS as error:
            if not ctx.cancelled.is_set():
                self._set(ctx, "error", None, _message(error))
            return
        except Exception as error:  # a bug: keep the kernel alive, say what happened
            traceback.print_exc(file=sys.stderr)
            if not ctx.cancelled.is_set():
                self._set(ctx, "error", None, f"{type(error).__name__}: {error}")
            return
        if not ctx.cancelled.is_set():
            self._set(ctx, "done", 1.0, "")

    def _report(self, ctx: TaskContext, state: str, fraction, message) -> None:
        if not self._status:
            return
        current = self._widget._task
        if message is None and current.get("id") == ctx.id:
            message = current.get("message", "")
        self._set(ctx, state, fraction, message or "")

    def _set(self, ctx: TaskContext, state: str, fraction, message: str) -> None:
        if not self._status:
            if state == "error":
                print(f"saewidgets: {ctx.name} failed: {message}", file=sys.stderr)
            return
        with self._cond:
            if ctx.id < self._widget._task.get("id", 0):
                return  # an older job must never overwrite a newer one's status
            self._widget._task = {
                "id": ctx.id,
                "name": ctx.name,
                "state": state,
                "progress": None if fraction is None else float(min(max(fraction, 0.0), 1.0)),
                "message": message,
            }


def _message(error: Exception) -> str:
    # str(KeyError("x")) is "'x'" with quotes; the message itself reads better
    if isinstance(error, KeyError) and len(error.args) == 1:
        return str(error.args[0])
    return str(error)
