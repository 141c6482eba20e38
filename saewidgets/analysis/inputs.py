"""The polymorphic inputs every entry point takes, normalised in one place with one set of checks.

- SAEs: one `SAE` (with ``.site``), a list of them, a ``{site: SAE}`` mapping, or "embedded"
  (the SAEs shipped for the embedded model) → ``{site: SAE}``; each site must exist in the
  model and be as wide as the SAE's input.
- statistics: None, one `FeatureStats`, a list or a ``{site: stats}`` mapping → ``{site:
  stats}``; each must have been built for the SAE at its site (`StatsMismatch` otherwise).
- labels: None, `Labels`, ``{feature: text}``, ``{site: labels}`` or "auto" → per site, a
  function ``feature → (label, score or None)``. "auto" means the labels of the statistics
  given (the shipped labels for the shipped compact statistics), else those shipped with the
  SAE (found by its fingerprint), else none.

Analysis functions and widgets call these instead of checking on their own, so one input is
accepted (or refused, with the same message) everywhere. The SAE half lives in
`sae_inputs.py` (re-exported here) so that `stats.py` can use it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

from saewidgets.analysis.labels import Labels, auto_labels, shipped_labels
from saewidgets.analysis.sae_inputs import SAEInput, saes_by_site
from saewidgets.analysis.shipped import LABELS_FILE, site_folder
from saewidgets.analysis.stats import (
    CompactStatsError,
    FeatureStats,
    StatsMismatch,
    sae_fingerprint,
)
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE

LabelLookup = Callable[[int], tuple[str, float | None]]


class LabelsError(SAEWidgetsError, ValueError):
    """Labels in a form that is not accepted; the message lists the forms that are."""


def stats_by_site(
    stats: FeatureStats | Sequence[FeatureStats] | Mapping[str, FeatureStats] | None,
    saes: Mapping[str, SAE] | None = None,
    model: Model | None = None,
) -> dict[str, FeatureStats]:
    """``{site: FeatureStats}``. With ``saes``, statistics must be of the SAE at their site
    (`StatsMismatch` otherwise) and of a site that has one; with ``model``, statistics built
    from another model's activations warn."""
    if stats is None:
        return {}
    if isinstance(stats, FeatureStats):
        items = [stats]
    elif isinstance(stats, Mapping):
        items = list(stats.values())
        for site, item in stats.items():
            if isinstance(item, FeatureStats) and item.site != site:
                raise StatsMismatch(f"the statistics given for {site!r} are of {item.site!r}")
    elif isinstance(stats, Sequence) and not isinstance(stats, str):
        items = list(stats)
    else:
        raise TypeError(
            "stats must be FeatureStats (from sw.feature_stats), a list of them or "
            f"{{site: stats}}; got {type(stats).__name__}"
        )
    out: dict[str, FeatureStats] = {}
    for item in items:
        if not isinstance(item, FeatureStats):
            raise TypeError(
                f"stats must be FeatureStats (from sw.feature_stats), not {type(item).__name__}"
            )
        if item.site in out:
            raise StatsMismatch(f"two sets of statistics are given for {item.site}")
        if saes is not None:
            if item.site not in saes:
                raise StatsMismatch(
                    f"statistics for {item.site} were given, but there is no SAE at that site "
                    f"(sites: {', '.join(saes)})"
                )
            item.check_sae(saes[item.site], model)  # StatsMismatch for another SAE's stats
        out[item.site] = item
    return out


def site_keyed(labels: Mapping) -> bool:
    return bool(labels) and all(isinstance(k, str) and k.startswith("blocks.") for k in labels)


def site_labels(
    labels,
    site: str,
    *,
    stats: FeatureStats | None = None,
    model: Model | None = None,
    n_sites: int = 1,
    sae: SAE | None = None,
    sae_hash: str | None = None,
) -> Labels | Mapping | None:
    """One site's labels (`Labels`, ``{feature: text}`` or None) from any accepted form.

    ``"auto"`` labels from ``stats`` (and ``model``'s tokenizer) when both are there (compact
    statistics need no model: their labels were shipped with them); otherwise it means the
    labels shipped for the SAE (``sae``, or its fingerprint ``sae_hash``; the statistics' SAE),
    and "no labels" when there are none.
    """
    if isinstance(labels, str):
        if labels != "auto":
            raise LabelsError(
                f'labels must be "auto", None, sw.Labels, {{feature: text}} or {{site: labels}}; '
                f"got {labels!r}"
            )
        return _auto_labels(site, stats, model, sae, sae_hash)
    if isinstance(labels, Mapping) and site_keyed(labels):
        # one site's value may itself be "auto", a Labels, a mapping or None
        return site_labels(
            labels.get(site), site, stats=stats, model=model, sae=sae, sae_hash=sae_hash
        )
    if labels is not None and n_sites > 1:
        raise LabelsError("with SAEs at several sites pass labels as {site: labels}")
    if labels is not None and not isinstance(labels, (Labels, Mapping)):
        raise TypeError(
            'labels must be "auto", None, sw.Labels, {feature: text} or {site: labels}; '
            f"got {type(labels).__name__}"
        )
    return labels


def _auto_labels(site, stats, model, sae, sae_hash) -> Labels | None:
    if stats is not None and stats.is_compact:
        try:
            return auto_labels(stats, model.tokenizer if model is not None else None)
        except CompactStatsError as error:  # a view still opens, without labels
            warnings.warn(f"no labels are shown: {error}", stacklevel=4)
            return None
    if stats is not None and model is not None:
        return auto_labels(stats, model.tokenizer)
    if stats is not None:
        sae_hash = sae_hash or stats.sae_hash
    if not sae_hash and sae is not None and shipped_labels_exist(site):
        sae_hash = sae_fingerprint(sae)  # hashing reads every weight: only where labels are
    return shipped_labels(sae_hash, site=site) if sae_hash else None


def shipped_labels_exist(site: str) -> bool:
    """Whether the package ships labels for ``site`` (for any SAE: a cheap first check)."""
    return (site_folder(site) / LABELS_FILE).is_file()


def labels_for_site(labels, site: str, d_sae: int, **kwargs) -> LabelLookup:
    """`site_labels` as a lookup ``feature → (label, score or None)``; a user's label has no
    score."""
    return label_lookup(site_labels(labels, site, **kwargs), d_sae)


def _no_labels(feature: int) -> tuple[str, float | None]:
    return "", None


def label_lookup(labels: Labels | Mapping | None, d_sae: int) -> LabelLookup:
    """A function feature → (label, score or None) from a `Labels`, a mapping or nothing."""
    if labels is None:
        return _no_labels
    if isinstance(labels, Labels):
        if len(labels.auto) != d_sae:
            raise LabelsError(f"labels cover {len(labels.auto)} features but the SAE has {d_sae}")

        def from_labels(f: int) -> tuple[str, float | None]:
            # The F1 rates the automatic label only; `label_details` has every label's scores.
            return labels[f], None if f in labels.user else float(labels.score[f])

        from_labels.labels = labels  # what `label_details` reads
        return from_labels
    if not isinstance(labels, Mapping):
        raise TypeError(
            f"labels must be sw.Labels or a mapping feature id → text, not {type(labels).__name__}"
        )
    table = {}
    for key, text in labels.items():
        try:
            table[int(key)] = str(text)
        except (TypeError, ValueError):
            raise LabelsError(
                f"label keys are feature ids (0..{d_sae - 1}), or site names for {{site: labels}}; "
                f"got {key!r}"
            ) from None
    return lambda f: (table.get(int(f), ""), None)


N_TWINS = 5  # features named as sharing a label's text, at most


def label_details(lookup: LabelLookup, feature: int) -> dict:
    """For a card: the detection/fuzzing scores of the label ``feature`` shows (None when
    unscored or labels are a plain mapping) and the features whose labels read the same."""
    labels = getattr(lookup, "labels", None)
    if labels is None:
        return {"label_scores": None, "label_twins": []}
    twins = labels.duplicates().get(int(feature), [])
    return {"label_scores": labels.scores_of(feature), "label_twins": twins[:N_TWINS]}


def label_table(lookup: LabelLookup, d_sae: int) -> dict[str, str]:
    """Every non-empty label of a lookup as ``{"feature id": text}`` (JSON keys for the browser)."""
    out = {}
    for f in range(d_sae):
        text = lookup(f)[0]
        if text:
            out[str(f)] = text
    return out


__all__ = [
    "LabelLookup",
    "LabelsError",
    "SAEInput",
    "label_details",
    "label_lookup",
    "label_table",
    "labels_for_site",
    "saes_by_site",
    "shipped_labels_exist",
    "site_keyed",
    "site_labels",
    "stats_by_site",
]
