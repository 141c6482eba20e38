"""The polymorphic inputs every entry point takes, normalised in one place with one set of checks.

- SAEs: one `SAE` (with ``.site``), a list of them, a ``{site: SAE}`` mapping, or "embedded"
  (the SAEs shipped for the embedded model) → ``{site: SAE}``; each site must exist in the
  model and be as wide as the SAE's input.
- statistics: None, one `FeatureStats`, a list or a ``{site: stats}`` mapping → ``{site:
  stats}``; each must have been built for the SAE at its site (`StatsMismatch` otherwise).
- labels: None, `Labels`, ``{feature: text}``, ``{site: labels}`` or "auto" → per site, a
  function ``feature → (label, score or None)``.

Analysis functions and widgets call these instead of checking on their own, so one input is
accepted (or refused, with the same message) everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from saewidgets.analysis.labels import Labels, auto_labels
from saewidgets.analysis.stats import FeatureStats
from saewidgets.model.model import Model
from saewidgets.sae import load_saes
from saewidgets.sae.module import SAE, SAEConfigError

EMBEDDED = "embedded"
LabelLookup = Callable[[int], tuple[str, float | None]]
SAEInput = SAE | Sequence[SAE] | Mapping[str, SAE] | str

_SAES_ALLOWED = 'an SAE with .site set, a list of them, a {site: SAE} dict, or "embedded"'


def saes_by_site(saes: SAEInput, model: Model | None = None) -> dict[str, SAE]:
    """``{site: SAE}`` from any accepted form; with ``model``, each site's width is checked."""
    pairs = _sae_pairs(saes)
    if not pairs:
        raise SAEConfigError(f"no SAEs given; pass {_SAES_ALLOWED}")
    out: dict[str, SAE] = {}
    for site, sae in pairs:
        _check_sae(site, sae, model)
        if site in out:
            raise SAEConfigError(f"two SAEs are given for {site}; pass one per site")
        out[site] = sae
    return out


def _sae_pairs(saes: SAEInput) -> list[tuple]:
    if isinstance(saes, str):
        if saes != EMBEDDED:
            raise TypeError(f"saes must be {_SAES_ALLOWED}; got the string {saes!r}")
        saes = load_saes(EMBEDDED)
    if isinstance(saes, SAE):
        saes = [saes]
    if isinstance(saes, Mapping):
        return list(saes.items())
    if not isinstance(saes, Sequence):
        raise TypeError(f"saes must be {_SAES_ALLOWED}; got {type(saes).__name__}")
    pairs = []
    for sae in saes:
        if not isinstance(sae, SAE):
            raise TypeError(f"expected SAE objects, got {type(sae).__name__}")
        if sae.site is None:
            raise SAEConfigError(
                "this SAE has no site; pass {site: sae} or set sae.site (for example "
                "'blocks.9.hook_resid_post')"
            )
        pairs.append((sae.site, sae))
    return pairs


def _check_sae(site, sae, model: Model | None) -> None:
    if not isinstance(sae, SAE):
        raise TypeError(f"value for site {site!r} is {type(sae).__name__}, expected SAE")
    if not isinstance(site, str):
        raise TypeError(f"site names are strings like 'blocks.9.hook_resid_post', got {site!r}")
    if model is not None:
        width = model.site_width(site)  # raises SiteError listing the valid sites
        if sae.d_in != width:
            raise SAEConfigError(
                f"the SAE for {site} has d_in={sae.d_in}, but that site of {model.name} is "
                f"{width} wide"
            )
    if sae.site is not None and sae.site != site:
        raise SAEConfigError(f"the SAE was trained on {sae.site!r} but is given for {site!r}")


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
                raise ValueError(f"the statistics given for {site!r} are of {item.site!r}")
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
            raise ValueError(f"two sets of statistics are given for {item.site}")
        if saes is not None:
            if item.site not in saes:
                raise ValueError(
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
) -> Labels | Mapping | None:
    """One site's labels (`Labels`, ``{feature: text}`` or None) from any accepted form.

    ``"auto"`` labels from ``stats`` (and ``model``'s tokenizer) when both are there, and means
    "no labels" when they are not.
    """
    if isinstance(labels, str):
        if labels != "auto":
            raise ValueError(
                f'labels must be "auto", None, sw.Labels, {{feature: text}} or {{site: labels}}; '
                f"got {labels!r}"
            )
        if stats is None or model is None:
            return None
        return auto_labels(stats, model.tokenizer)
    if isinstance(labels, Mapping) and site_keyed(labels):
        return labels.get(site)
    if labels is not None and n_sites > 1:
        raise ValueError("with SAEs at several sites pass labels as {site: labels}")
    if labels is not None and not isinstance(labels, (Labels, Mapping)):
        raise TypeError(
            'labels must be "auto", None, sw.Labels, {feature: text} or {site: labels}; '
            f"got {type(labels).__name__}"
        )
    return labels


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
            raise ValueError(f"labels cover {len(labels.auto)} features but the SAE has {d_sae}")

        def from_labels(f: int) -> tuple[str, float | None]:
            # The score rates the automatic label only; a user's label has none.
            return labels[f], None if f in labels.user else float(labels.score[f])

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
            raise ValueError(
                f"label keys are feature ids (0..{d_sae - 1}), or site names for {{site: labels}}; "
                f"got {key!r}"
            ) from None
    return lambda f: (table.get(int(f), ""), None)


def label_table(lookup: LabelLookup, d_sae: int) -> dict[str, str]:
    """Every non-empty label of a lookup as ``{"feature id": text}`` (JSON keys for the browser)."""
    out = {}
    for f in range(d_sae):
        text = lookup(f)[0]
        if text:
            out[str(f)] = text
    return out
