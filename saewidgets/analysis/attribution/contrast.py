"""`sw.contrast`: which features explain why a target logit differs between two prompts.

Both prompts get a graph for the same target (a token, or a logit difference ``(A, B)``);
each node's total effect on it (`AttributionGraph.total_effects`: the change of the target
when the node's whole contribution is removed, through every path) is summed per feature over
positions, and the features are ranked by how much more they push the target in prompt A than
in prompt B. Error nodes are summed per site the same way, so a difference the dictionaries
do not capture shows up as "error" rows instead of going unseen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from saewidgets.analysis.attribution.engine import AttributionError, attribute
from saewidgets.analysis.attribution.graph import AttributionGraph


@dataclass
class Contrast:
    """``table``: one row per feature (and per site's errors, per token text) with its effect
    on the target in A and B and their difference, largest |difference| first."""

    graph_a: AttributionGraph
    graph_b: AttributionGraph
    table: pd.DataFrame
    value_a: float  # the target's value (logit or logit difference) in each prompt
    value_b: float

    @classmethod
    def from_graphs(cls, a: AttributionGraph, b: AttributionGraph) -> Contrast:
        la, lb = _only_target(a, "A"), _only_target(b, "B")
        if a.nodes["label"].iloc[la] != b.nodes["label"].iloc[lb]:
            raise AttributionError(
                f"the two graphs have different targets ({a.nodes['label'].iloc[la]!r} and "
                f"{b.nodes['label'].iloc[lb]!r}); build both for the same one"
            )
        ea, eb = _effects(a, la), _effects(b, lb)
        table = ea.add_suffix("_a").join(eb.add_suffix("_b"), how="outer").fillna(0.0)
        table["difference"] = table["effect_a"] - table["effect_b"]
        table = table.reset_index()
        table = table.iloc[np.argsort(-table["difference"].abs().to_numpy(), kind="stable")]
        value = "value" if "value" in a.nodes else "activation"
        return cls(
            a,
            b,
            table.reset_index(drop=True),
            float(np.nan_to_num(a.nodes[value].iloc[la])),
            float(np.nan_to_num(b.nodes[value].iloc[lb])),
        )

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.table.head(n)

    def figure(self, n: int = 15):
        import plotly.graph_objects as go

        from saewidgets.core.plotting import themed

        rows = self.table.head(n).iloc[::-1]
        names = [_name(r) for r in rows.to_dict("records")]
        fig = go.Figure(
            [
                go.Bar(y=names, x=rows["effect_a"], name="prompt A", orientation="h"),
                go.Bar(y=names, x=rows["effect_b"], name="prompt B", orientation="h"),
            ]
        )
        fig.update_layout(
            barmode="group",
            title=f"What moves the target from {self.value_b:.2f} (B) to {self.value_a:.2f} (A)",
            xaxis_title="total effect on the target",
            height=max(320, 28 * len(rows) + 120),
        )
        return themed(fig)

    def _repr_html_(self) -> str:
        shown = self.top(10)[
            ["kind", "site", "feature", "label", "effect_a", "effect_b", "difference"]
        ]
        return (
            f"<b>Contrast</b>: target {self.value_a:.3f} in A, {self.value_b:.3f} in B"
            + shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", escape=True)
        )


def _only_target(graph: AttributionGraph, which: str) -> int:
    targets = np.nonzero(graph.mask("logit"))[0]
    if len(targets) != 1:
        raise AttributionError(
            f"graph {which} has {len(targets)} logit targets; a contrast needs exactly one "
            "(build it with target= a token or a pair (A, B))"
        )
    return int(targets[0])


def _effects(graph: AttributionGraph, target: int) -> pd.DataFrame:
    """Total effects summed per (kind, site, feature); tokens per token text."""
    effect = graph.total_effects(target)
    nodes = graph.nodes
    kind = nodes["type"].to_numpy()
    keep = np.isin(kind, ("feature", "error", "token"))
    frame = pd.DataFrame(
        {
            "kind": kind[keep],
            "site": nodes["site"].where(nodes["site"].notna(), "").to_numpy()[keep],
            "feature": np.where(kind == "feature", nodes["feature"], -1)[keep].astype(int),
            "label": np.where(kind == "feature", "", nodes["label"].astype(str))[keep],
            "effect": effect[keep],
        }
    )
    return frame.groupby(["kind", "site", "feature", "label"]).sum()


def _name(row: dict) -> str:
    if row["kind"] == "feature":
        return f"#{row['feature']} @ {row['site']}"
    if row["kind"] == "error":
        return f"error @ {row['site']}"
    return f"token {row['label']!r}"


def contrast(model, prompt_a: str, prompt_b: str, target, saes=None, **options) -> Contrast:
    """Graphs of ``prompt_a`` and ``prompt_b`` for the same ``target`` (a token, text or id,
    or a pair ``(A, B)`` for the logit difference A − B) and the features that explain the
    difference (`Contrast.table`, `.figure()`). ``saes`` and ``options`` go to `attribute`."""
    if target is None:
        raise AttributionError("a contrast needs one target for both prompts (a token or a pair)")
    options.setdefault("progress", False)
    a = attribute(model, prompt_a, saes, target, **options)
    b = attribute(model, prompt_b, saes, target, **options)
    return Contrast.from_graphs(a, b)
