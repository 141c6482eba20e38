"""Feature cards: the small, JSON-ready summary of one feature that dashboards draw.

A card holds only what the panels show (a few dozen short examples, two histograms, a few
lists), so it is cheap to send on every selection change and to inline in exported pages.
"""

from __future__ import annotations

import numpy as np

from saewidgets.analysis.inputs import label_details
from saewidgets.analysis.stats import (
    CARD_BINS,
    CARD_LEFT,
    CARD_PER_BIN,
    CARD_RIGHT,
    CARD_TOP,
    FeatureStats,
)

# Defined beside the statistics: compact (shipped) statistics keep exactly these examples.
N_TOP_EXAMPLES = CARD_TOP
N_QUANTILE_BINS = CARD_BINS
PER_BIN = CARD_PER_BIN
N_RELATED_SHOWN = 8
LEFT, RIGHT = CARD_LEFT, CARD_RIGHT


def _round(values) -> list[float]:
    return [float(f"{v:.4g}") for v in np.asarray(values, dtype=np.float64)]


def _example(stats: FeatureStats, ex: dict) -> dict:
    return {
        "tokens": [stats.token_text(t) for t in ex["token_ids"]],
        "values": _round(ex["values"]),
        "focus": ex["focus"],
    }


def _related(ids, values, lookup, density) -> list[list]:
    out = []
    for f, v in zip(ids, values, strict=True):
        if f < 0 or len(out) >= N_RELATED_SHOWN:
            continue
        out.append([int(f), float(f"{v:.3g}"), lookup(int(f))[0], float(density[f])])
    return out


def feature_card(stats: FeatureStats, feature: int, lookup) -> dict:
    """Everything the dashboard panels need for one feature."""
    f = stats.check_feature(feature)
    label, score = lookup(f)
    dead = bool(stats.density[f] == 0)
    card = {
        "feature": f,
        "site": stats.site,
        "label": label,
        "label_score": score,
        **label_details(lookup, f),
        "dead": dead,
        "density": float(stats.density[f]),
        "max": float(stats.max_activation[f]),
        "mean": float(stats.mean_active[f]),
        "n_tokens": int(stats.n_tokens),
        "logits": {
            "top": [
                [stats.token_text(t), float(f"{v:.3g}")]
                for t, v in zip(stats.vocab_top_ids[f], stats.vocab_top_values[f], strict=True)
            ],
            "bottom": [
                [stats.token_text(t), float(f"{v:.3g}")]
                for t, v in zip(
                    stats.vocab_bottom_ids[f], stats.vocab_bottom_values[f], strict=True
                )
            ],
            "hist": {
                "counts": stats.logit_hist_counts[f].tolist(),
                "range": _round(stats.logit_hist_range[f]),
            },
        },
        "neighbours": _related(
            stats.neighbour_ids[f], stats.neighbour_values[f], lookup, stats.density
        ),
        "cooccur": [],
        "hist": None,
        "top": [],
        "quantiles": [],
    }
    if dead:
        return card  # nothing fired: no histogram, examples or co-occurrence to show
    counts = stats.hist_counts[f]
    nonzero = np.nonzero(counts)[0]
    lo, hi = int(nonzero[0]), int(nonzero[-1]) + 1
    card["hist"] = {
        # 10**edge is the activation at each bin edge; only the occupied range is sent.
        "edges": _round(10.0 ** stats.hist_edges[lo : hi + 1]),
        "counts": counts[lo:hi].tolist(),
    }
    card["cooccur"] = [
        row
        for row in _related(stats.cooccur_ids[f], stats.cooccur_values[f], lookup, stats.density)
        if row[1] > 0
    ]
    # tokens that tell the most about where it fires (mutual information, bits)
    for key, after in (("mi", False), ("mi_next", True)):
        card[key] = [[stats.token_text(t), float(f"{v:.3g}")] for t, v in stats.mi_tokens(f, after)]
    window = {"left": LEFT, "right": RIGHT}
    card["top"] = [_example(stats, ex) for ex in stats.top_examples(f, N_TOP_EXAMPLES, **window)]
    card["quantiles"] = [
        {
            "bin": _round(group["bin"]),
            "count": group["count"],
            "examples": [_example(stats, ex) for ex in group["examples"]],
        }
        for group in stats.quantile_examples(f, N_QUANTILE_BINS, PER_BIN, **window)
    ]
    return card


N_LIGHT_TOKENS = 10


def light_card(model, sae, site: str, feature: int, lookup) -> dict:
    """A card for a feature of a site without statistics: its label, if any, and the tokens
    its decoder direction raises and lowers most (VocabProj). No corpus pass is needed, so it
    is built on the click; ``"light": True`` tells the views that examples and histograms are
    missing."""
    import torch

    from saewidgets.analysis.logit_lens import logit_directions
    from saewidgets.model.tokens import TokenDecoder

    if not 0 <= feature < sae.d_sae:
        raise ValueError(f"feature {feature} is out of range 0..{sae.d_sae - 1}")
    logits = logit_directions(model, sae.W_dec.detach()[feature][None])[0]
    top, bottom = torch.topk(logits, N_LIGHT_TOKENS), torch.topk(-logits, N_LIGHT_TOKENS)
    texts = TokenDecoder(model.tokenizer).texts
    label, score = lookup(feature)
    return {
        "feature": int(feature),
        "site": site,
        "label": label,
        "label_score": score,
        **label_details(lookup, feature),
        "light": True,
        "logits": {
            "top": [
                [t, float(f"{v:.3g}")]
                for t, v in zip(texts(top.indices.tolist()), top.values.tolist(), strict=True)
            ],
            "bottom": [
                [t, float(f"{-v:.3g}")]
                for t, v in zip(texts(bottom.indices.tolist()), bottom.values.tolist(), strict=True)
            ],
        },
    }
