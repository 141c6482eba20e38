"""What every saewidgets view shares: selection traits, linking, offline HTML export."""

from __future__ import annotations

import os
from pathlib import Path

import anywidget
import traitlets

from saewidgets.widgets.html_export import render_page
from saewidgets.widgets.tasks import IDLE, TaskRunner

STATIC = Path(__file__).resolve().parent.parent / "static"


def _static(name: str) -> Path:
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the widget front end {path} is missing: build it with `npm --prefix js install && "
            "npm --prefix js run build` (pip install -e . does this on a fresh checkout)"
        )
    return path


class SAEWidget(anywidget.AnyWidget):
    """Base class: ``selected_feature`` / ``selected_token`` traits shared by linked views."""

    _bundle = ""  # file stem in saewidgets/static, set by subclasses

    selected_feature = traitlets.Int(-1, help="selected feature id (-1: none)").tag(sync=True)
    selected_token = traitlets.List(traitlets.Int(), default_value=[], help="[doc, pos]").tag(
        sync=True
    )

    # Status of the kernel work the view asked for (see widgets/tasks.py).
    _task = traitlets.Dict(dict(IDLE)).tag(sync=True)
    # False where no kernel answers (exported pages): views disable what needs one.
    _live = traitlets.Bool(True).tag(sync=True)

    def __init__(self, **kwargs) -> None:
        _static(f"{self._bundle}.js")  # a clear message when the front end was never built
        self._runner: TaskRunner | None = None
        self._lanes: dict[str, TaskRunner] = {}
        super().__init__(**kwargs)
        self.on_msg(self._on_task_message)

    @property
    def tasks(self) -> TaskRunner:
        """This view's task runner (started on first use)."""
        if self._runner is None:
            self._runner = TaskRunner(self, thread_name=f"saewidgets-{self._bundle}")
        return self._runner

    def lane(self, name: str) -> TaskRunner:
        """A second, quiet runner for cheap requests (search) that must not cancel the main
        work or touch its status."""
        if name not in self._lanes:
            self._lanes[name] = TaskRunner(self, f"saewidgets-{self._bundle}-{name}", status=False)
        return self._lanes[name]

    def _on_task_message(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "cancel_task":
            self.cancel()

    def cancel(self) -> None:
        """Stop the kernel work in flight (what was shown so far stays)."""
        if self._runner is not None:
            self._runner.cancel()

    def wait(self, timeout: float | None = 120):
        """Block until the view's kernel work is done; raises TimeoutError after ``timeout`` s."""
        for runner in [self._runner, *self._lanes.values()]:
            if runner is not None and not runner.wait(timeout):
                raise TimeoutError(f"{type(self).__name__} was still working after {timeout} s")

    def close(self) -> None:
        # absent when __init__ failed early
        for runner in [getattr(self, "_runner", None), *getattr(self, "_lanes", {}).values()]:
            if runner is not None:
                runner.close()
        super().close()

    def _state_for_export(self) -> dict:
        names = set(self.trait_names(sync=True)) - set(
            anywidget.AnyWidget.class_trait_names(sync=True)
        )
        state = {name: getattr(self, name) for name in sorted(names)}
        state["_task"] = dict(IDLE)  # a page has no kernel: nothing runs there
        state["_live"] = False
        return state

    def to_html(
        self, path: str | os.PathLike | None = None, *, title: str = "saewidgets", **export
    ) -> str:
        """One self-contained HTML file: bundle, CSS and state inlined, no network requests.

        Everything that needs a kernel (running the model) is disabled in the page; selection,
        hovering and everything computed from the state keep working. Returns the HTML and
        writes it to ``path`` when given. Widget-specific ``export`` options (for example the
        ``features`` a dashboard page carries) are documented on each widget.
        """
        page = render_page(
            bundle=_static(f"{self._bundle}.js").read_text(encoding="utf-8"),
            css=_static(f"{self._bundle}.css").read_text(encoding="utf-8"),
            state=self._state_for_export(**export),
            title=title,
        )
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page


def link(*widgets: SAEWidget, traits: tuple[str, ...] = ("selected_feature", "selected_token")):
    """Keep the selection of several widgets in step (kernel-side links); returns the links."""
    if len(widgets) < 2:
        raise ValueError("link needs at least two widgets")
    links = []
    for name in traits:
        for other in widgets[1:]:
            for w in (widgets[0], other):
                if not w.has_trait(name):
                    raise ValueError(f"{type(w).__name__} has no trait {name!r}")
            links.append(traitlets.link((widgets[0], name), (other, name)))
    return links
