"""Figures read in light and dark notebook themes: no painted backgrounds, neutral ink."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px

import saewidgets as sw
from saewidgets.analysis.evaluate import EvalReport
from saewidgets.analysis.steering.run import SweepResult


def _transparent(fig) -> bool:
    layout = fig.layout
    return (
        layout.paper_bgcolor == "rgba(0,0,0,0)"
        and layout.plot_bgcolor == "rgba(0,0,0,0)"
        and layout.font.color not in (None, "#2a3f5f", "black", "#000")
    )


def test_package_figures_and_themed_user_figures_are_transparent():
    report = EvalReport(
        "blocks.9.hook_resid_post",
        100,
        {"explained_variance": 0.8},
        np.linspace(0, 0.2, 50),
        np.random.default_rng(0).random(100),
    )
    figures = report.figures()
    assert all(_transparent(f) for f in figures.values())
    sae = sw.SAE(8, 16, "topk", k=2, site="blocks.0.hook_resid_post", seed=0)
    table = pd.DataFrame(
        {"strength": [0.0, 1.0], "activation": [0, 1], "vocab_shift": [0, 0.1],
         "perplexity": [3.0, 4.0], "text": ["a", "b"]}
    )  # fmt: skip
    assert _transparent(SweepResult(sw.Intervention(sae, 1), table).plot())
    plain = px.histogram(x=[1, 2, 2, 3])
    assert not _transparent(plain)  # plotly's default paints a white page
    assert _transparent(sw.themed(plain))
