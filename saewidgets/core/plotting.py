"""One look for every plotly figure the package makes, readable in light and dark themes.

Plotly's default template paints a white page; inside a dark JupyterLab that is a glaring
white box with dark text. Transparent backgrounds, a mid-grey font and faint grid lines read
on either theme, and the notebook's own background shows through.
"""

from __future__ import annotations

_INK = "rgb(128,128,128)"
_GRID = "rgba(128,128,128,0.25)"


def themed(fig):
    """``fig`` with transparent backgrounds and theme-neutral ink (returned for chaining)."""
    fig.update_layout(
        template="none",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": _INK},
        legend={"bgcolor": "rgba(0,0,0,0)"},
    )
    axis = {"gridcolor": _GRID, "zerolinecolor": _GRID, "linecolor": _GRID}
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig
