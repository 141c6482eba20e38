"""`sw.explore`: one workspace in which every view follows the same prompt, site and feature.

The workspace is an ipywidgets layout (it renders and resizes the same way in JupyterLab,
Notebook 7 and marimo) around the package's own views: a prompt box and site picker, the
`TokenHeatmap` of the prompt, the `FeatureBrowser` (search and dashboard) of the chosen site,
the `SteeringPanel`, and an attribution `GraphView` built on request. Kernel work (tracing a
new prompt, statistics for a site seen for the first time, the graph) runs on one
`TaskRunner`, newest request first, so the first view never waits for the slow ones.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as ipw
import traitlets

from saewidgets.analysis.inputs import SAEInput, saes_by_site, stats_by_site
from saewidgets.analysis.stats import FeatureStats, feature_stats, sae_fingerprint, shipped_stats
from saewidgets.analysis.trace import trace
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.sae.errors import SAEConfigError
from saewidgets.widgets.feature_browser import FeatureBrowser
from saewidgets.widgets.graph_view import GraphView
from saewidgets.widgets.heatmap import TokenHeatmap
from saewidgets.widgets.steering import SteeringPanel
from saewidgets.widgets.tasks import IDLE, TaskContext, TaskRunner

DEFAULT_PROMPT = "The Eiffel Tower is in Paris."
STATE_VERSION = 1


class WorkspaceStateError(SAEWidgetsError, ValueError):
    """A saved workspace that does not fit this model, these SAEs or this format."""


def explore(
    model: Model | None = None,
    saes: SAEInput = "embedded",
    stats: FeatureStats | list | Mapping | None = None,
    prompt: str | None = None,
    *,
    site: str | None = None,
    state: str | os.PathLike | Mapping | None = None,
    stats_tokens: int = 100_000,
) -> Workspace:
    """Open a linked workspace: prompt box, token heatmap, feature dashboard and search,
    steering panel and (on request) the attribution graph of the prompt.

    ``model`` defaults to the embedded model and ``saes`` to the SAEs shipped for it.
    ``stats``: statistics for some sites (a `FeatureStats`, a list or ``{site: stats}``);
    the others are computed the first time their dashboard opens (shipped SAEs: at once).
    ``site``: the site shown first (default: two thirds of the way down the loaded sites,
    where features are more about meaning than spelling). ``state``: a file written by
    `Workspace.save` (or its dict) to restore. ``stats_tokens``: held-out tokens per site
    for statistics computed here.
    """
    if model is None:
        from saewidgets.model.model import load_model

        model = load_model()
    workspace = Workspace(
        model, saes, stats=stats, prompt=prompt, site=site, stats_tokens=stats_tokens
    )
    if state is not None:
        workspace.restore(state)
    return workspace


def _same_model(a: str | None, b: str | None) -> bool:
    # "HuggingFaceTB/SmolLM2-135M-Instruct" and a local folder of it are the same model
    return not a or not b or a.rstrip("/").split("/")[-1] == b.rstrip("/").split("/")[-1]


def _default_site(sites: list[str]) -> str:
    return sites[(2 * len(sites)) // 3] if len(sites) > 2 else sites[-1]


class Workspace(ipw.VBox):
    """The widget `sw.explore` returns; its views are attributes (``heatmap``, ``dashboard``,
    ``steering``, ``graph``) for code that wants to reach into them."""

    _task = traitlets.Dict(dict(IDLE))  # the runner's status (see widgets/tasks.py)

    def __init__(
        self,
        model: Model,
        saes: SAEInput = "embedded",
        *,
        stats: FeatureStats | list | Mapping | None = None,
        prompt: str | None = None,
        site: str | None = None,
        stats_tokens: int = 100_000,
    ) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"explore needs a sw.Model, got {type(model).__name__}")
        all_saes = saes_by_site(saes, model)  # widths checked against the model
        for name, sae in all_saes.items():
            trained_on = sae.metadata.get("model_name")
            if not _same_model(trained_on, model.name):
                raise SAEConfigError(
                    f"the SAE at {name} was trained on {trained_on}, not on {model.name}; "
                    "pass SAEs trained for this model"
                )
        self.model = model
        self.saes = all_saes
        self._stats: dict[str, FeatureStats] = dict(stats_by_site(stats, all_saes, model))
        self.sites = list(all_saes)
        site = site or _default_site(self.sites)
        if site not in all_saes:
            raise ValueError(f"site {site!r} has no SAE here; loaded: {', '.join(self.sites)}")
        prompt = DEFAULT_PROMPT if prompt is None else prompt
        if not prompt.strip():
            raise ValueError("the prompt is empty; pass some text (or None for the default)")

        if not isinstance(stats_tokens, int) or stats_tokens < 1_000:
            raise ValueError(f"stats_tokens must be an integer ≥ 1,000, got {stats_tokens!r}")
        self._stats_tokens = stats_tokens
        self._runner = TaskRunner(self, thread_name="saewidgets-explore")
        self._browsers: dict[str, FeatureBrowser] = {}
        self._syncing = False
        self.graph: GraphView | None = None
        self._graph_prompt = ""
        self._graph_settings: dict | None = None  # pins and groups of a restored graph

        self.prompt_box = ipw.Text(
            value=prompt,
            description="Prompt",
            continuous_update=False,  # Enter (or leaving the box) submits
            layout=ipw.Layout(flex="1 1 auto", width="auto"),
        )
        self.site_picker = ipw.Dropdown(
            options=[(s, s) for s in self.sites],
            value=site,
            description="Site",
            layout=ipw.Layout(width="300px"),
        )
        self.graph_button = ipw.Button(
            description="Attribution graph",
            icon="project-diagram",
            tooltip="build the attribution graph of the prompt (which features drive the next "
            "token)",
            layout=ipw.Layout(width="auto", min_width="170px"),
        )
        self.steer_button = ipw.Button(
            description="Steer",
            icon="sliders-h",
            tooltip="add the selected feature (from any view) to the steering panel",
            layout=ipw.Layout(width="auto"),
            disabled=not any(not sae.is_transcoder for sae in all_saes.values()),
        )
        self.cancel_button = ipw.Button(
            description="Cancel", disabled=True, layout=ipw.Layout(width="auto")
        )
        self.status = ipw.HTML(value="")
        self.progress = ipw.FloatProgress(
            min=0.0, max=1.0, layout=ipw.Layout(width="160px", visibility="hidden")
        )
        bar = ipw.HBox(
            [
                self.prompt_box,
                self.site_picker,
                self.steer_button,
                self.graph_button,
                self.cancel_button,
            ],
            layout=ipw.Layout(width="100%", align_items="center"),
        )
        status_row = ipw.HBox([self.progress, self.status], layout=ipw.Layout(width="100%"))

        self.heatmap = TokenHeatmap(trace(model, [prompt], all_saes, progress=False), site=site)
        self.dashboard = self._browser(site) if self._has_stats(site) else None
        self._heat_box = ipw.Box([self.heatmap], layout=_pane("1 1 0"))
        self._dash_box = ipw.Box(
            [self.dashboard] if self.dashboard else [_note("Loading statistics…")],
            layout=_pane("1 1 0"),
        )
        steerable = {s: sae for s, sae in all_saes.items() if not sae.is_transcoder}
        self.steering = (
            SteeringPanel(model, steerable, prompt=prompt, stats=self._stats, run=False)
            if steerable
            else None
        )
        self._graph_box = ipw.VBox(
            [_note("Press “Attribution graph” to see which features drive the next token.")],
            layout=ipw.Layout(width="100%"),
        )
        super().__init__(
            [
                bar,
                status_row,
                ipw.HBox([self._heat_box, self._dash_box], layout=ipw.Layout(width="100%")),
                *([_heading("Steering"), self.steering] if self.steering else []),
                _heading("Attribution graph"),
                self._graph_box,
            ],
            layout=ipw.Layout(width="100%"),
        )
        self.add_class("saew-explore")
        self._watch_heatmap(self.heatmap)
        if self.dashboard is not None:
            self._connect(self.dashboard)
        else:
            self._load_site(site)
        self.prompt_box.observe(self._on_prompt, names="value")
        self.site_picker.observe(self._on_site, names="value")
        self.graph_button.on_click(lambda _: self.build_graph())
        self.steer_button.on_click(lambda _: self._steer_clicked())
        self.cancel_button.on_click(lambda _: self.cancel())

    # -- what is shown ----------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return self.prompt_box.value

    @property
    def site(self) -> str:
        return self.site_picker.value

    @property
    def selected_feature(self) -> int:
        return self.heatmap.selected_feature

    def select(self, feature: int, site: str | None = None) -> None:
        """Show ``feature`` of ``site`` (default: the current site) in every view."""
        if site is not None and site != self.site:
            if site not in self.saes:
                raise ValueError(f"site {site!r} has no SAE here; loaded: {', '.join(self.sites)}")
            self.site_picker.value = site
        self.heatmap.selected_feature = int(feature)  # the observers pass it on

    def steer(self, feature: int | None = None, site: str | None = None, strength: float = 0.0):
        """Add a steering row for ``feature`` (default: the selected one)."""
        if self.steering is None:
            raise SAEConfigError("no steerable SAE here (transcoders cannot be steered)")
        site = site or self.site
        feature = self.selected_feature if feature is None else int(feature)
        if feature < 0:
            raise ValueError("no feature is selected; pick one first or pass feature=")
        self.steering.add_feature(feature, site=site, strength=strength)

    def _steer_clicked(self) -> None:
        try:
            self.steer()
        except (SAEConfigError, ValueError) as error:
            self._runner.fail("steer", str(error))

    # -- prompt and site --------------------------------------------------------------------

    def _on_prompt(self, change) -> None:
        text = change["new"]
        if not text.strip():
            self._runner.fail("trace", "the prompt is empty; type some text", cancel=True)
            return
        self._runner.submit(
            "trace",
            lambda ctx: trace(self.model, [text], self.saes, progress=False),
            lambda tr: self._show_trace(tr, text),
            message="tracing the prompt…",
        )

    def _show_trace(self, tr, text: str) -> None:
        feature = self.heatmap.selected_feature
        heatmap = TokenHeatmap(tr, site=self.site)
        if feature >= 0:
            heatmap.selected_feature = feature  # keep what the reader was looking at
        old, self.heatmap = self.heatmap, heatmap
        self._watch_heatmap(heatmap)
        self._heat_box.children = [heatmap]
        old.close()
        if self.dashboard is not None:
            self.dashboard.query = text
        if self.steering is not None:
            self.steering.prompt = text
        if self.graph is not None and self._graph_prompt != text:
            self._graph_box.children = [
                _note("The prompt changed: press “Attribution graph” to build its graph."),
                self.graph,
            ]

    def _on_site(self, change) -> None:
        site = change["new"]
        if self.heatmap.site != site:
            self.heatmap.site = site
        if site in self._browsers:
            self._show_browser(self._browsers[site])
        elif self._has_stats(site):
            self._show_browser(self._browser(site))
        else:
            self._dash_box.children = [_note(f"Loading statistics for {site}…")]
            self._load_site(site)

    def _has_stats(self, site: str) -> bool:
        if site in self._stats:
            return True
        found = shipped_stats(self.saes[site], site=site, model=self.model)
        if found is not None:
            self._stats[site] = found
        return found is not None

    def _load_site(self, site: str) -> None:
        """Statistics for a site seen for the first time, computed in the background."""

        def job(ctx: TaskContext) -> FeatureStats:
            started = time.perf_counter()

            def step(fraction: float) -> None:
                ctx.check()  # a cancel (or a newer request) stops the pass between batches
                elapsed = time.perf_counter() - started
                left = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
                eta = f", about {left:.0f} s left" if left is not None else ""
                ctx.progress(fraction, f"statistics for {site}: {fraction:.0%}{eta}")

            return feature_stats(
                self.model,
                self.saes[site],
                n_tokens=self._stats_tokens,
                progress=False,
                on_progress=step,
            )

        self._runner.submit(
            "stats",
            job,
            lambda st: self._stats_ready(site, st),
            message=f"computing statistics for {site} over {self._stats_tokens:,} tokens "
            f"(about {max(1, round(self._stats_tokens / 2_000))} s on 2 CPU cores; cached on "
            "disk afterwards)…",
        )

    def _stats_ready(self, site: str, stats: FeatureStats) -> None:
        self._stats[site] = stats
        if self.site == site:
            self._show_browser(self._browser(site))

    def _browser(self, site: str) -> FeatureBrowser:
        if site not in self._browsers:
            browser = FeatureBrowser(
                self.model,
                self.saes[site],
                self._stats[site],
                feature=self.heatmap.selected_feature if self.heatmap.site == site else None,
            )
            self._browsers[site] = browser
        return self._browsers[site]

    def _show_browser(self, browser: FeatureBrowser) -> None:
        if self.dashboard is not browser:
            self.dashboard = browser
            self._connect(browser)
        self._dash_box.children = [browser]
        if self.heatmap.site == browser.site and self.heatmap.selected_feature >= 0:
            browser.selected_feature = self.heatmap.selected_feature

    # -- links ------------------------------------------------------------------------------

    def _watch_heatmap(self, heatmap: TokenHeatmap) -> None:
        heatmap.observe(self._heatmap_feature, names="selected_feature")
        heatmap.observe(self._heatmap_site, names="site")

    def _connect(self, browser: FeatureBrowser) -> None:
        if getattr(browser, "_explore_linked", False):
            return
        browser._explore_linked = True
        browser.observe(self._browser_feature, names="selected_feature")
        if self.steering is not None:  # its "steer this feature" button adds to our panel
            browser._steering = self.steering
            browser._can_steer = True
        if browser.query != self.prompt:
            browser.query = self.prompt

    def _heatmap_feature(self, change) -> None:
        self._follow(change["new"], source="heatmap")

    def _browser_feature(self, change) -> None:
        if change["owner"] is self.dashboard:
            self._follow(change["new"], source="dashboard")

    def _heatmap_site(self, change) -> None:
        if change["new"] != self.site_picker.value:
            self.site_picker.value = change["new"]

    def _follow(self, feature: int, source: str) -> None:
        """One feature selection reaching every view (never echoing back to its source)."""
        if self._syncing or feature < 0:
            return
        self._syncing = True
        try:
            if source != "heatmap" and self.heatmap.selected_feature != feature:
                self.heatmap.selected_feature = feature
            dash = self.dashboard
            if source != "dashboard" and dash is not None and dash.site == self.site:
                if dash.selected_feature != feature:
                    dash.selected_feature = feature
            if source != "graph" and self.graph is not None:
                node = self._graph_node(self.site, feature)
                if node is not None and self.graph.clicked != node:
                    self.graph.clicked = node
        finally:
            self._syncing = False

    # -- the attribution graph --------------------------------------------------------------

    def build_graph(self) -> int:
        """Build the attribution graph of the current prompt in the background (cancel with
        `cancel`); returns the task id."""
        from saewidgets.analysis.attribution import attribute

        text = self.prompt

        def job(ctx: TaskContext):
            def step(fraction: float) -> None:
                ctx.check()  # a cancel stops the build between batches
                ctx.progress(fraction, f"attribution graph: {fraction:.0%} of the feature rows")

            return attribute(self.model, text, self.saes, progress=False, on_progress=step)

        self._graph_box.children = [_note("Building the attribution graph…")]
        return self._runner.submit(
            "graph", job, lambda g: self._show_graph(g, text), message="attribution graph…"
        )

    def _show_graph(self, graph, text: str) -> None:
        view = GraphView(graph, stats={s: st for s, st in self._stats.items() if s in self.saes})
        old, self.graph = self.graph, view
        self._graph_prompt = text
        view.observe(self._graph_click, names="clicked")
        settings, self._graph_settings = self._graph_settings, None
        if settings and settings.get("prompt") == text:
            view.node_threshold = settings["node_threshold"]
            view.pinned = settings["pinned"]
            view.supernodes = settings["supernodes"]
        self._graph_box.children = [view]
        if old is not None:
            old.close()

    def _graph_node(self, site: str, feature: int) -> str | None:
        """The id of the graph's most influential node of ``feature`` at ``site``, if any."""
        nodes = self.graph.graph.nodes
        rows = nodes[(nodes["site"] == site) & (nodes["feature"] == feature)]
        if rows.empty:
            return None
        # the nodes' stored cumulative-influence rank (smaller: more influential), not a
        # recomputation of influence on every selection
        return str(rows["node_id"].loc[rows["influence"].idxmin()])

    def _graph_click(self, change) -> None:
        node = change["new"]
        if not node or self._syncing:
            return
        nodes = self.graph.graph.nodes
        row = nodes[nodes["node_id"].astype(str) == node]
        if row.empty or row["type"].iloc[0] not in ("feature", "feature_target"):
            return
        site, feature = str(row["site"].iloc[0]), int(row["feature"].iloc[0])
        if site not in self.saes:
            return
        if site != self.site:
            self._syncing = True  # the site's default feature must not move the graph's node
            try:
                self.site_picker.value = site
            finally:
                self._syncing = False
        self._follow(feature, source="graph")

    # -- tasks ------------------------------------------------------------------------------

    @traitlets.observe("_task")
    def _show_task(self, change) -> None:
        task = change["new"]
        running = task["state"] == "running"
        self.cancel_button.disabled = not running
        self.progress.layout.visibility = "visible" if running else "hidden"
        self.progress.value = task["progress"] or 0.0
        text = {"error": "⚠ ", "cancelled": "Cancelled: "}.get(task["state"], "")
        self.status.value = _escape(text + (task["message"] or "")) if task["message"] else ""
        if task["state"] in ("error", "cancelled") and task["name"] == "graph":
            self._graph_box.children = [_note(task["message"] or "cancelled")]

    def cancel(self) -> None:
        """Stop the kernel work in flight (views keep what they show)."""
        self._runner.cancel()

    def wait(self, timeout: float | None = 300) -> None:
        """Block until the workspace and its views are idle (for scripts and tests)."""
        if not self._runner.wait(timeout):
            raise TimeoutError(f"the workspace was still working after {timeout} s")
        for view in (self.heatmap, self.dashboard, self.steering, self.graph):
            if view is not None:
                view.wait(timeout)

    def close(self) -> None:
        # getattr: ipywidgets also closes a workspace whose __init__ raised half-way
        runner = getattr(self, "_runner", None)
        if runner is not None:
            runner.close()
        views = [getattr(self, name, None) for name in ("heatmap", "steering", "graph")]
        for view in [*views, *getattr(self, "_browsers", {}).values()]:
            if view is not None:
                view.close()
        super().close()

    # -- the offline page -------------------------------------------------------------------

    def to_html(
        self,
        path: str | os.PathLike | None = None,
        *,
        title: str = "saewidgets workspace",
        stops: int | list[float] | None = 5,
        features: list[int] | None = None,
    ) -> str:
        """One self-contained page with every view, linked as here (a feature clicked in the
        heatmap opens its card in the dashboard). The dashboard carries the cards of the
        heatmap's strongest features at the shown site plus ``features``; the steering panel
        carries the steered text at ``stops`` strengths per row (`SteeringPanel.slider_stops`),
        so its sliders still change the text in the page, with no kernel. Returns the HTML and
        writes it to ``path`` when given."""
        from saewidgets.widgets.base import _static
        from saewidgets.widgets.html_export import render_views_page

        self.wait()
        site = self.site
        views, layout, links = [], [], []

        def add(widget, state) -> int:
            views.append(
                {
                    "bundle_name": widget._bundle,
                    "bundle": _static(f"{widget._bundle}.js").read_text(encoding="utf-8"),
                    "css": _static(f"{widget._bundle}.css").read_text(encoding="utf-8"),
                    "state": state,
                }
            )
            return len(views) - 1

        heat = add(self.heatmap, self.heatmap._state_for_export())
        row = [heat]
        if self.dashboard is not None:
            chosen = [int(r[0]) for r in self.heatmap._summary.get(site) or []]
            chosen += [self.heatmap.selected_feature, *(features or [])]
            chosen = [f for f in dict.fromkeys(chosen) if f >= 0]
            dash = add(self.dashboard, self.dashboard._state_for_export(features=chosen))
            row.append(dash)
            links.append(
                {"traits": [[heat, "selected_feature"], [dash, "selected_feature"]], "same": "site"}
            )
        layout.append(row)
        if self.steering is not None:
            export_stops = stops if self.steering.rows else None
            layout.append([add(self.steering, self.steering._state_for_export(export_stops))])
        if self.graph is not None:
            layout.append([add(self.graph, self.graph._state_for_export())])
        head = (
            "<header class='saew-page-head'><h1>"
            + _escape(title)
            + "</h1><div>prompt: <b>"
            + _escape(self.prompt)
            + "</b> · site: <b>"
            + _escape(site)
            + "</b> · "
            + _escape(self.model.name)
            + "</div></header>"
        )
        page = render_views_page(
            views=views, links=links, layout=layout, title=title, head_html=head
        )
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    # -- state ------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to bring this workspace back (see `save` and `restore`)."""
        steering = None
        if self.steering is not None:
            panel = self.steering
            steering = {
                "prompt": panel.prompt,
                "rows": [
                    {k: r[k] for k in ("site", "feature", "strength", "mode")} for r in panel.rows
                ],
                **panel._settings(),
            }
        graph = None
        if self.graph is not None:
            graph = {
                "prompt": self._graph_prompt,
                "pinned": list(self.graph.pinned),
                "supernodes": [list(s) for s in self.graph.supernodes],
                "node_threshold": self.graph.node_threshold,
            }
        return {
            "saewidgets_workspace": STATE_VERSION,
            "model": self.model.name,
            "model_hash": self.model.fingerprint(),
            "saes": {site: sae_fingerprint(sae) for site, sae in self.saes.items()},
            "prompt": self.prompt,
            "site": self.site,
            "feature": int(self.heatmap.selected_feature),
            "token": list(self.heatmap.selected_token),
            "steering": steering,
            "graph": graph,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the workspace's state to a small JSON file; returns its path."""
        path = Path(path)
        path.write_text(json.dumps(self.state(), indent=1), encoding="utf-8")
        return path

    def restore(self, state: str | os.PathLike | Mapping) -> None:
        """Bring back a saved state. Everything is checked first (model, SAEs, sites, feature
        ids, steering rows); a mismatch raises `WorkspaceStateError` and changes nothing."""
        if not isinstance(state, Mapping):
            try:
                state = json.loads(Path(state).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as error:
                raise WorkspaceStateError(f"cannot read the workspace state: {error}") from None
        rows = self._check_state(state)
        # Checked: now apply, the prompt last so one trace serves the new site and feature.
        if self.site != state["site"]:
            self.site_picker.value = state["site"]
        if state["feature"] >= 0:
            self.select(state["feature"])
        steering = state.get("steering")
        if self.steering is not None and steering:
            panel = self.steering
            panel._ready = False  # one regeneration for the whole change, not one per field
            try:
                for key in ("max_new_tokens", "temperature", "seed", "apply_to", "chat"):
                    setattr(panel, key, steering[key])
                panel.prompt = steering["prompt"]
                panel.rows = rows
            finally:
                panel._ready = True
            if rows and panel.prompt.strip():
                panel.regenerate()
        if state["prompt"] != self.prompt:
            self.prompt_box.value = state["prompt"]
        if state.get("token") and self.prompt == state["prompt"]:
            try:
                self.heatmap.selected_token = state["token"]
            except traitlets.TraitError:
                pass  # the prompt's tokens differ (another tokenizer version): skip the token
        graph = state.get("graph")
        if graph:  # rebuilt in the background; its pins and groups are applied when it lands
            self._graph_settings = graph
            self.build_graph()

    def _check_state(self, state: Mapping) -> list[dict]:
        if state.get("saewidgets_workspace") != STATE_VERSION:
            raise WorkspaceStateError(
                "this is not a saewidgets workspace state (version "
                f"{state.get('saewidgets_workspace')!r}; this version reads {STATE_VERSION})"
            )
        if state.get("model_hash") != self.model.fingerprint():
            raise WorkspaceStateError(
                f"the state was saved with the model {state.get('model')!r}, not this "
                f"{self.model.name!r} (their fingerprints differ)"
            )
        saved = dict(state.get("saes") or {})
        ours = {site: sae_fingerprint(sae) for site, sae in self.saes.items()}
        missing = sorted(set(saved) - set(ours))
        if missing:
            raise WorkspaceStateError(
                f"the state used SAEs at {', '.join(missing)}, which this workspace has not "
                f"loaded (it has {', '.join(self.sites)})"
            )
        changed = sorted(site for site in saved if saved[site] != ours[site])
        if changed:
            raise WorkspaceStateError(
                f"the SAE at {', '.join(changed)} is not the one the state was saved with "
                "(different weights); load the same SAEs to restore it"
            )
        site = state.get("site")
        if site not in self.saes:
            raise WorkspaceStateError(f"the state's site {site!r} is not loaded here")
        feature = state.get("feature")
        d_sae = self.saes[site].d_sae
        if not isinstance(feature, int) or not -1 <= feature < d_sae:
            raise WorkspaceStateError(
                f"the state's feature {feature!r} is not a feature of the SAE at {site} "
                f"(0..{d_sae - 1}, or -1 for none)"
            )
        if not isinstance(state.get("prompt"), str) or not state["prompt"].strip():
            raise WorkspaceStateError("the state's prompt is missing or empty")
        rows = []
        steering = state.get("steering")
        if steering and self.steering is not None:
            try:
                rows = [
                    self.steering._row(r["feature"], r["site"], r["strength"], r["mode"])
                    for r in steering["rows"]
                ]
            except (KeyError, TypeError, ValueError) as error:
                raise WorkspaceStateError(
                    f"a steering row of the state is invalid: {error}"
                ) from None
        return rows


def _pane(flex: str) -> ipw.Layout:
    # A bounded height keeps the steering panel and the graph in reach below a long card.
    return ipw.Layout(
        flex=flex, min_width="320px", max_height="720px", overflow="auto", margin="0 8px 0 0"
    )


def _escape(text: str) -> str:
    return html.escape(text)


def _heading(text: str) -> ipw.HTML:
    return ipw.HTML(f"<h4 style='margin:12px 0 4px'>{_escape(text)}</h4>")


def _note(text: str) -> ipw.HTML:
    return ipw.HTML(f"<div style='padding:8px;opacity:.8'>{_escape(text)}</div>")
