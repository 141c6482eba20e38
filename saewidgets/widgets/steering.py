"""`sw.SteeringPanel`: sliders on SAE features, baseline and steered text side by side.

The front end edits ``rows`` (one per feature: site, feature, mode, strength) and the
generation settings; every accepted change starts a run on the panel's worker thread, which
cancels the run in flight. Runs stream their text into ``_baseline`` / ``_steered`` tagged with
their run id; the front end shows only the newest run, so two runs never mix on screen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import traitlets

from saewidgets.analysis.inputs import SAEInput, labels_for_site, saes_by_site, stats_by_site
from saewidgets.analysis.labels import Labels
from saewidgets.analysis.search import SearchHit, SearchIndex, feature_tokens, query_words
from saewidgets.analysis.stats import FeatureStats
from saewidgets.analysis.steering import (
    Intervention,
    SteeringError,
    SteeringResult,
    steer,
    steering_sweep,
)
from saewidgets.analysis.steering.interventions import APPLY_TO, feature_unit
from saewidgets.analysis.steering.run import MAX_NEW_TOKENS
from saewidgets.core.aliases import renamed
from saewidgets.model.model import Model
from saewidgets.widgets.base import STATIC, SAEWidget
from saewidgets.widgets.tasks import TaskContext

SWEEP_POINTS = 7
SWEEP_TOKENS = 16
N_SEARCH = 20
# Slider reach: ±10× the max activation with statistics (past Anthropic's ±5 "sweet spot", so
# the breakdown is visible), ±1× ‖x‖ without.
LIMIT_WITH_STATS, LIMIT_RELATIVE = 10.0, 1.0


class SteeringPanel(SAEWidget):
    """Steer generation with SAE features from sliders.

    ``SteeringPanel(model, saes, features=[...], prompt=...)``: ``saes`` is one SAE or several
    (a list, ``{site: sae}`` or "embedded"); ``features`` are ids of the first SAE,
    ``(site, id)`` pairs or `sw.Intervention` objects. With ``stats`` (`FeatureStats`, one per
    site) strengths are multiples of each feature's max activation and rows get labels;
    without, multiples of ‖x‖. With the default ``labels="auto"`` the package's own SAEs get
    their shipped labels even without statistics.

    The panel shows the baseline (no edits) and the steered continuation side by side,
    streamed token by token. Moving a slider cancels the run in flight; releasing it starts a
    new one. ``result`` / ``baseline`` hold the last finished runs; ``wait()`` blocks until
    the panel is idle.
    """

    _bundle = "steering"
    _esm = STATIC / "steering.js"
    _css = STATIC / "steering.css"

    prompt = traitlets.Unicode("").tag(sync=True)
    chat = traitlets.Bool(False).tag(sync=True)
    max_new_tokens = traitlets.Int(32).tag(sync=True)
    temperature = traitlets.Float(0.0).tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    apply_to = traitlets.Unicode("both").tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    _run = traitlets.Int(0).tag(sync=True)  # newest run id: the front end shows only it
    _baseline = traitlets.Dict().tag(sync=True)
    _steered = traitlets.Dict().tag(sync=True)
    _search = traitlets.Unicode("").tag(sync=True)
    _search_results = traitlets.List().tag(sync=True)
    _sweep = traitlets.Dict().tag(sync=True)
    _meta = traitlets.Dict().tag(sync=True)
    # Texts at slider stops, only in exported pages (see `precompute`).
    _precomputed = traitlets.Dict().tag(sync=True)

    @renamed(sae="saes")
    def __init__(
        self,
        model: Model,
        saes: SAEInput,
        features: Iterable[int | tuple[str, int] | Intervention] = (),
        *,
        prompt: str = "",
        stats: FeatureStats | Sequence[FeatureStats] | Mapping[str, FeatureStats] | None = None,
        labels: Labels | Mapping | str | None = "auto",
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        seed: int = 0,
        apply_to: str = "both",
        chat: bool = False,
        run: bool = True,
    ) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"SteeringPanel needs a sw.Model, got {type(model).__name__}")
        self._model = model
        self._saes = saes_by_site(saes, model)
        if any(s.is_transcoder for s in self._saes.values()):
            raise SteeringError("steering edits a site with an SAE; transcoders are not supported")
        self._stats = stats_by_site(stats, self._saes, model)
        self._lookups = {
            site: labels_for_site(
                labels,
                site,
                s.d_sae,
                stats=self._stats.get(site),
                model=model,
                n_sites=len(self._saes),
                sae=s,
            )
            for site, s in self._saes.items()
        }
        self._baseline_key: tuple | None = None
        self._search_tokens: dict[str, tuple] = {}  # site -> (top tokens, promoted tokens)
        self._search_cache: dict[str, tuple[list[str], SearchIndex]] = {}
        self.baseline: SteeringResult | None = None
        self.result: SteeringResult | None = None
        self.last_sweep = None
        self._ready = False
        super().__init__(
            _meta={"model": model.name, "sites": list(self._saes)},
            prompt=prompt,
            chat=chat,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
            apply_to=apply_to,
        )
        self.rows = [self._row(*self._feature_args(item)) for item in features]
        self.on_msg(self._on_message)
        self._ready = True
        if run and prompt.strip():
            self.regenerate()

    # -- rows ------------------------------------------------------------------------------

    def _feature_args(self, item) -> tuple:
        if isinstance(item, Intervention):
            return item.feature, item.site, item.strength, item.mode
        if isinstance(item, tuple) and len(item) == 2:
            return item[1], item[0], 0.0, "add"
        return item, None, 0.0, "add"

    def _row(self, feature, site=None, strength=0.0, mode="add") -> dict:
        site = site or next(iter(self._saes))
        if site not in self._saes:
            raise SteeringError(
                f"no SAE for site {site!r} in this panel; it has: {', '.join(self._saes)}"
            )
        item = Intervention(self._saes[site], feature, strength, mode)  # validates
        unit = feature_unit(self._stats.get(site), item.feature)
        label, _ = self._lookups[site](item.feature)
        return {
            "site": site,
            "feature": item.feature,
            "strength": item.strength,
            "mode": item.mode,
            "label": label,
            "unit": unit,  # activation per strength step; None: strength is × ‖x‖
            "limit": LIMIT_WITH_STATS if unit is not None else LIMIT_RELATIVE,
        }

    def add_feature(
        self, feature: int, site: str | None = None, strength: float = 0.0, mode: str = "add"
    ) -> None:
        """Add a row for ``feature`` (of ``site``'s SAE; default the first)."""
        self.rows = [*self.rows, self._row(feature, site, strength, mode)]

    def remove_feature(self, index: int) -> None:
        if not 0 <= index < len(self.rows):
            raise IndexError(f"row {index} does not exist: the panel has {len(self.rows)} rows")
        self.rows = [r for i, r in enumerate(self.rows) if i != index]

    def set_strength(self, index: int, strength: float) -> None:
        if not 0 <= index < len(self.rows):
            raise IndexError(f"row {index} does not exist: the panel has {len(self.rows)} rows")
        rows = [dict(r) for r in self.rows]
        rows[index]["strength"] = float(strength)
        self.rows = rows

    def interventions(self) -> list[Intervention]:
        """The rows as `sw.Intervention` objects (what the next run applies)."""
        return [
            Intervention(self._saes[r["site"]], r["feature"], r["strength"], r["mode"])
            for r in self.rows
        ]

    # -- runs ------------------------------------------------------------------------------

    def _settings(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "apply_to": self.apply_to,
            "chat": self.chat,
        }

    @traitlets.observe(
        "rows", "prompt", "chat", "max_new_tokens", "temperature", "seed", "apply_to"
    )
    def _changed(self, change) -> None:
        if self._ready:
            self.regenerate()

    def regenerate(self) -> int:
        """Start a new run with the current prompt, rows and settings (cancels the one in
        flight); returns its run id. Bad settings show their message and run nothing."""
        try:
            items = self.interventions()
            if self.apply_to not in APPLY_TO:
                raise SteeringError(f"apply_to must be one of {', '.join(APPLY_TO)}")
            if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
                raise SteeringError(f"max tokens must be 1..{MAX_NEW_TOKENS}")
            if not self.prompt.strip():
                raise SteeringError("the prompt is empty; type a prompt to continue")
        except (SteeringError, TypeError, KeyError) as error:
            self.tasks.fail("generate", str(error), cancel=True)
            return self._run
        self._run += 1
        run = self._run
        prompt, settings = self.prompt, self._settings()
        self.tasks.submit(
            "generate",
            lambda ctx: self._job(run, prompt, settings, items, ctx),
            message="generating…",
        )
        return run

    def wait(self, timeout: float | None = 120) -> SteeringResult | None:
        """Block until the panel is idle; returns the last steered result."""
        super().wait(timeout)
        return self.result

    def _stream(self, trait: str, run: int, ctx: TaskContext, what: str, limit: int):
        def on_token(text: str, ids: list[int]) -> None:
            if not ctx.cancelled.is_set():
                setattr(self, trait, {"run": run, "text": text, "done": False})
                ctx.progress(len(ids) / limit, f"{what}: {len(ids)} of {limit} tokens")

        return on_token

    def _job(self, run, prompt, settings, items, ctx: TaskContext) -> None:
        # Errors propagate to the task runner, which shows them; the model is unhooked by then.
        cancel = ctx.cancelled
        key = (prompt, *settings.values())
        if self._baseline_key != key:
            ctx.progress(None, "generating the baseline…")
            base = steer(
                self._model,
                prompt,
                [],
                **settings,
                on_token=self._stream(
                    "_baseline", run, ctx, "the baseline", settings["max_new_tokens"]
                ),
                cancel=cancel,
            )
            if base.cancelled or cancel.is_set():
                return
            self.baseline, self._baseline_key = base, key
            self._baseline = self._final(run, base)
        else:  # the baseline is unchanged; re-tag it for this run
            self._baseline = {**self._baseline, "run": run}
        ctx.progress(None, "generating with the edits…")
        result = (
            steer(
                self._model,
                prompt,
                items,
                stats=self._stats,
                **settings,
                on_token=self._stream(
                    "_steered", run, ctx, "with the edits", settings["max_new_tokens"]
                ),
                cancel=cancel,
            )
            if items
            else self.baseline
        )
        if result.cancelled or cancel.is_set():
            return
        self.result = result
        self._steered = self._final(run, result)

    def _final(self, run: int, result: SteeringResult) -> dict:
        measures = []
        for record in result.features.to_dict("records"):
            measures.append(
                {
                    k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in record.items()
                }
            )
        return {
            "run": run,
            "text": result.text,
            "done": True,
            "n_tokens": result.n_tokens,
            "perplexity": result.perplexity,
            "seconds": round(result.seconds, 3),
            "measures": measures,
        }

    # -- exported pages: texts at slider stops ----------------------------------------------

    def slider_stops(self, stops: int | Sequence[float] = 5) -> list[list[float]]:
        """The strengths an exported page carries texts for, per row: ``stops`` evenly spaced
        from 0 to twice the row's strength (at most the slider's limit; half the limit when
        the strength is 0), or the given strengths for every row. The row's own strength is
        always among them."""
        out = []
        for row in self.rows:
            if row["mode"] == "ablate":
                out.append([])  # no strength to move
                continue
            if isinstance(stops, int):
                if not 2 <= stops <= 12:
                    raise SteeringError(f"stops must be 2..12 per row, got {stops}")
                end = 2 * row["strength"] if row["strength"] else row["limit"] / 2
                end = float(np.clip(end, -row["limit"], row["limit"]))  # what the slider reaches
                values = np.linspace(0.0, end, stops).tolist()
            else:
                values = [float(v) for v in stops]
                bad = [v for v in values if abs(v) > row["limit"]]
                if bad:
                    raise SteeringError(
                        f"stops {bad} are outside the slider's range ±{row['limit']}"
                    )
            out.append(sorted({round(v, 4) for v in [*values, row["strength"]]}))
        return out

    def precompute(self, stops: int | Sequence[float] = 5, progress: bool = True) -> dict:
        """Generate the steered text at each slider stop of each row, the other rows at their
        strengths (what an exported page shows when a slider is dragged; no kernel there)."""
        from tqdm.auto import tqdm

        if not self.prompt.strip():
            raise SteeringError("the prompt is empty: there is nothing to precompute")
        plan = self.slider_stops(stops)
        settings = self._settings()
        rows: list[dict] = []
        total = sum(len(values) for values in plan)
        with tqdm(total=total, desc="slider stops", disable=not progress) as bar:
            for index, values in enumerate(plan):
                texts = []
                for value in values:
                    items = self.interventions()
                    items[index] = Intervention(
                        self._saes[self.rows[index]["site"]],
                        self.rows[index]["feature"],
                        value,
                        self.rows[index]["mode"],
                    )
                    result = steer(self._model, self.prompt, items, stats=self._stats, **settings)
                    texts.append(self._final(-1, result))
                    bar.update(1)
                rows.append({"stops": values, "texts": texts})
        return {"prompt": self.prompt, "rows": rows}

    def _state_for_export(self, stops: int | Sequence[float] | None = None) -> dict:
        state = super()._state_for_export()
        if stops is not None and self.rows:
            state["_precomputed"] = self.precompute(stops)
        return state

    def to_html(
        self,
        path=None,
        *,
        title: str = "saewidgets steering",
        stops: int | Sequence[float] | None = 5,
    ) -> str:
        """A self-contained page. With ``stops`` (default 5 per row; None: none) it carries the
        steered text at that many strengths of each row (`slider_stops`), so dragging a slider
        in the page shows the text for the nearest stop without a kernel."""
        return super().to_html(path, title=title, stops=stops)

    # -- sweep and search (front-end requests) ----------------------------------------------

    def sweep(self, index: int = 0, points: int = SWEEP_POINTS) -> None:
        """Sweep row ``index`` from −limit to +limit (on the task runner; the plot appears in
        the panel and the table in ``last_sweep``). The texts of the last run stay current."""
        if not 0 <= index < len(self.rows):
            raise IndexError(f"row {index} does not exist: the panel has {len(self.rows)} rows")
        row = dict(self.rows[index])
        if row["mode"] == "ablate":
            raise SteeringError(
                f"feature {row['feature']} is ablated: there is no strength to sweep; switch "
                "its row to add or clamp"
            )
        item = Intervention(self._saes[row["site"]], row["feature"], 0.0, row["mode"])
        strengths = np.linspace(-row["limit"], row["limit"], points).round(4).tolist()
        settings = {**self._settings(), "max_new_tokens": min(SWEEP_TOKENS, self.max_new_tokens)}
        prompt = self.prompt

        def job(ctx: TaskContext):
            cancel = ctx.cancelled
            sweep = steering_sweep(
                self._model,
                prompt,
                item,
                strengths,
                stats=self._stats,
                progress=False,
                cancel=cancel,
                **settings,
            )
            if cancel.is_set():
                return
            self.last_sweep = sweep
            table = sweep.table
            self._sweep = {
                "site": row["site"],
                "feature": row["feature"],
                "label": row["label"],
                "mode": row["mode"],
                "unit": row["unit"],  # activation per strength step; None: × ‖x‖
                "points": [
                    [float(s), _num(v), _num(p), _num(a)]
                    for s, v, p, a in zip(
                        table.strength,
                        table.vocab_shift,
                        table.perplexity,
                        table.activation,
                        strict=True,
                    )
                ],
            }

        self.tasks.submit("sweep", job, message=f"sweeping feature {row['feature']}…")

    def search(self, query: str) -> list[dict]:
        """Features whose id, label, top-activation tokens or promoted tokens match ``query``
        by whole words, best first (what the add box shows; the rule is
        `saewidgets.analysis.search`). Each result says what matched (``matches``, best
        first). An empty query finds nothing; a non-string is a ``TypeError``."""
        query_words(query)  # TypeError for a non-string, before any work
        hits = []
        for site in self._saes:  # stable sort below: equal hits keep the sites' order
            hits += self._search_index(site).search(query, N_SEARCH)
        hits.sort(key=SearchHit.rank_key)
        return [hit.to_json() for hit in hits[:N_SEARCH]]

    def _search_index(self, site: str) -> SearchIndex:
        # Labels can change under the panel (`Labels.set`), tokens cannot: the token fields
        # are split once, the index is rebuilt only when a label differs.
        sae, stats = self._saes[site], self._stats.get(site)
        labels = [self._lookups[site](f)[0] for f in range(sae.d_sae)]
        cached = self._search_cache.get(site)
        if cached is not None and cached[0] == labels:
            return cached[1]
        if site not in self._search_tokens:
            self._search_tokens[site] = feature_tokens(stats) if stats is not None else (None, None)
        top, promoted = self._search_tokens[site]
        maxima = stats.max_activation if stats is not None else None
        index = SearchIndex(labels, top, promoted, maxima, site=site)
        self._search_cache[site] = (labels, index)
        return index

    @traitlets.observe("_search")
    def _run_search(self, change) -> None:
        query = change["new"]
        self.lane("search").submit("search", lambda ctx: self.search(query), done=self._found)

    def _found(self, results: list[dict]) -> None:
        self._search_results = results

    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "cancel":
            self.cancel()
        elif kind == "add":
            try:
                self.add_feature(int(content["feature"]), content.get("site"))
            except (KeyError, IndexError, SteeringError, TypeError, ValueError) as error:
                self.tasks.fail("add", str(error))
        elif kind == "sweep":
            try:
                self.sweep(int(content.get("row", 0)))
            except (IndexError, SteeringError, TypeError, ValueError) as error:
                self.tasks.fail("sweep", str(error))


def _num(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
