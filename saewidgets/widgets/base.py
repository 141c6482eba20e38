"""What every saewidgets view shares: selection traits, linking, offline HTML export."""

from __future__ import annotations

import os
from pathlib import Path

import anywidget
import traitlets

from saewidgets.widgets.html_export import render_page

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

    def __init__(self, **kwargs) -> None:
        _static(f"{self._bundle}.js")  # a clear message when the front end was never built
        super().__init__(**kwargs)

    def _state_for_export(self) -> dict:
        names = set(self.trait_names(sync=True)) - set(
            anywidget.AnyWidget.class_trait_names(sync=True)
        )
        return {name: getattr(self, name) for name in sorted(names)}

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
