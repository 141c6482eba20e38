"""SAEs in every accepted form, normalised and checked in one place (see `inputs.py`).

Kept apart from the statistics and labels half of `inputs.py` because `stats.py` and
`evaluate.py` check their SAE with it, and `inputs.py` imports `stats.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from saewidgets.model.model import Model
from saewidgets.sae import load_saes
from saewidgets.sae.module import SAE, SAEConfigError

EMBEDDED = "embedded"
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
        raise SAEConfigError(
            f"the SAE was trained on {sae.site!r} but is given for {site!r}; to use it there "
            f"anyway, set sae.site = {site!r} first"
        )


def sae_at(sae: SAE, model: Model, site: str | None = None) -> tuple[str, SAE]:
    """One SAE and the site it reads (``site``, else its own), checked like every other."""
    if not isinstance(sae, SAE):
        raise TypeError(f"expected an SAE, got {type(sae).__name__}")
    site = site or sae.site
    if site is None:
        raise SAEConfigError("the SAE has no site; pass site= or set sae.site")
    _check_sae(site, sae, model)
    return site, sae
