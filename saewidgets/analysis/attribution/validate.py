"""What an intervention on a graph's nodes reports, and how a request for one is checked.

Three ways to run the change (`ReplacementContext.intervene` runs them):

- ``"direct"``: the frozen replacement model with every dictionary site held at its clean value
  except the edit. Each read changes by exactly the graph's edge sum (the exactness check).
- ``"frozen"``: the same frozen model, but the graph's features downstream of the edit respond
  through their SAE encoders, so effects propagate (nonlinearly) from site to site.
- ``"free"``: the real model, nothing frozen and no SAE in the loop: the honest test.

The graph's side of the comparison is `AttributionGraph.predict`. This module needs neither
torch nor a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from saewidgets.core.errors import SAEWidgetsError

MODES = ("direct", "frozen", "free")
SOURCE_TYPES = ("feature", "error", "token")


class ValidationError(SAEWidgetsError, ValueError):
    """An intervention that cannot run; the message says what was wrong and what is allowed."""


def check_request(multiplier, mode: str) -> None:
    """Refuse an unknown mode or a multiplier that is not a finite number."""
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(multiplier, (int, float)) or not np.isfinite(multiplier):
        raise ValidationError(f"multiplier must be a finite number, got {multiplier!r}")


@dataclass
class InterventionResult:
    """``targets``: each target's value before, predicted and actual change (free mode adds
    probabilities); ``features``: the same for every feature node with incoming edges."""

    targets: pd.DataFrame
    features: pd.DataFrame
    nodes: list[str]
    multiplier: float
    mode: str

    @property
    def correlation(self) -> float:
        """Pearson correlation of predicted and actual changes over targets and features."""
        both = pd.concat([self.targets, self.features])
        p, a = both["predicted"].to_numpy(), both["actual"].to_numpy()
        if len(p) < 2 or np.std(p) == 0 or np.std(a) == 0:
            return float("nan")
        return float(np.corrcoef(p, a)[0, 1])

    def to_dict(self) -> dict:
        return {
            "nodes": self.nodes,
            "multiplier": self.multiplier,
            "mode": self.mode,
            "correlation": None if np.isnan(self.correlation) else round(self.correlation, 4),
            "targets": self.targets.replace({np.nan: None}).to_dict("records"),
            "features": self.features.head(12).replace({np.nan: None}).to_dict("records"),
        }
