"""The widgets' one task runner: newest request wins, errors keep the last result, cancel."""

import threading

import pytest

from saewidgets.widgets.base import SAEWidget


class View(SAEWidget):
    _bundle = "heatmap"  # any built bundle: these tests never render


@pytest.fixture
def view():
    w = View()
    yield w
    w.close()


def test_newest_request_wins(view):
    release = threading.Event()
    started = threading.Event()
    applied = []

    def slow(ctx):
        started.set()
        release.wait(10)
        return "old"

    first = view.tasks.submit("work", slow, done=applied.append)
    started.wait(10)
    second = view.tasks.submit("work", lambda ctx: "new", done=applied.append)
    assert second == first + 1
    release.set()
    view.wait(10)
    assert applied == ["new"]  # the superseded job finished, but its result was dropped
    assert view._task["id"] == second and view._task["state"] == "done"


def test_errors_keep_the_last_result_and_say_why(view):
    shown = []
    view.tasks.submit("probe", lambda ctx: 1, done=shown.append)
    view.wait(10)

    def bad(ctx):
        raise ValueError("type some text first")

    view.tasks.submit("probe", bad, done=shown.append)
    view.wait(10)
    assert shown == [1]
    assert view._task["state"] == "error" and view._task["message"] == "type some text first"

    view.tasks.submit("probe", lambda ctx: 1 / 0)  # a bug, not bad input: named by its type
    view.wait(10)
    assert view._task["message"].startswith("ZeroDivisionError")
    view.tasks.fail("probe", "refused before running")
    assert view._task["state"] == "error" and view._task["message"] == "refused before running"


def test_cancel_stops_the_job_and_reports_progress(view):
    steps = []
    running = threading.Event()

    def long(ctx):
        for i in range(10_000):
            ctx.progress(i / 10_000, f"step {i}")
            steps.append(i)
            running.set()
            ctx.check()
            threading.Event().wait(0.001)
        return "finished"

    applied = []
    view.tasks.submit("long", long, done=applied.append)
    running.wait(10)
    assert view._task["state"] == "running" and view._task["message"].startswith("step")
    assert 0 <= view._task["progress"] < 1
    view._on_task_message(view, {"type": "cancel_task"}, [])  # what the front end sends
    view.wait(10)
    assert applied == [] and len(steps) < 10_000
    assert view._task["state"] == "cancelled"


def test_a_closed_view_takes_no_more_work(view):
    view.tasks.submit("x", lambda ctx: None)
    view.wait(10)
    view.close()
    with pytest.raises(RuntimeError, match="closed"):
        view.tasks.submit("x", lambda ctx: None)


def test_exported_pages_carry_an_idle_status(view):
    view.tasks.fail("probe", "something")
    assert view._state_for_export()["_task"]["state"] == "idle"
