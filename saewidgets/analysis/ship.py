"""Writing the files shipped beside the embedded SAEs (``python -m saewidgets ship-stats``).

Per shipped site: the full statistics over held-out text no SAE trained on
(`saewidgets.corpus.broad.dashboard_mix`), their automatic labels (``labels.json.gz``), and the
compact statistics (``stats.npz``) that `feature_stats` returns for the shipped SAE; the token
texts once for all sites (``vocab.json.gz``). A written file is read back and its dashboard
examples compared with the full statistics' before the command reports success.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saewidgets.analysis.labels import auto_labels, labels_document
from saewidgets.analysis.shipped import (
    LABELS_FILE,
    STATS_FILE,
    VOCAB_FILE,
    shipped_root,
    site_folder,
    write_json,
)
from saewidgets.analysis.stats import (
    CARD_BINS,
    CARD_LEFT,
    CARD_PER_BIN,
    CARD_RIGHT,
    DEFAULT_TOKENS,
    DEFAULT_WINDOW,
    N_TOP,
    FeatureStats,
    feature_stats,
)
from saewidgets.corpus import Corpus
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE


def same_examples(full: FeatureStats, compact: FeatureStats, features) -> bool:
    """Whether every top example and the dashboard's quantile examples of ``features`` agree
    between the two statistics."""
    window = {"left": CARD_LEFT, "right": CARD_RIGHT}
    for f in features:
        f = int(f)
        if full.top_examples(f, N_TOP, **window) != compact.top_examples(f, N_TOP, **window):
            return False
        a = full.quantile_examples(f, CARD_BINS, CARD_PER_BIN, **window)
        if a != compact.quantile_examples(f, CARD_BINS, CARD_PER_BIN, **window):
            return False
    return True


def ship_site(
    model: Model,
    sae: SAE,
    corpus: Corpus,
    root: str | Path,
    *,
    n_tokens: int = DEFAULT_TOKENS,
    window: int = DEFAULT_WINDOW,
    progress: bool = True,
    n_checked: int = 64,
) -> dict:
    """Write ``stats.npz`` and ``labels.json.gz`` of one SAE into its site's folder under
    ``root`` (and ``vocab.json.gz`` into ``root``); returns the sizes in bytes."""
    full = feature_stats(model, sae, corpus, n_tokens=n_tokens, window=window, progress=progress)
    labels = auto_labels(full, model.tokenizer)  # only the automatic ones are written
    folder = site_folder(full.site, root)
    stats_bytes = full.compacted().save_npz(folder / STATS_FILE, vocab_file=Path(root) / VOCAB_FILE)
    labels_bytes = write_json(
        folder / LABELS_FILE, labels_document(labels, full.sae_hash, full.site)
    )
    reread = FeatureStats.load_npz(folder / STATS_FILE)
    alive = np.nonzero(full.density > 0)[0]
    checked = np.random.default_rng(0).choice(alive, size=min(n_checked, len(alive)), replace=False)
    if not same_examples(full, reread, checked):
        raise RuntimeError(f"{folder / STATS_FILE}: its examples differ from the full statistics")
    return {
        "site": full.site,
        "n_tokens": full.n_tokens,
        "full_entries": len(full.indices),
        "kept_entries": len(reread.indices),
        "stats_bytes": stats_bytes,
        "labels_bytes": labels_bytes,
        "vocab_bytes": (Path(root) / VOCAB_FILE).stat().st_size,
    }


def ship_stats(
    model: Model,
    *,
    out: str | Path | None = None,
    sites: list[str] | None = None,
    n_tokens: int = DEFAULT_TOKENS,
    corpus: Corpus | None = None,
    progress: bool = True,
) -> list[dict]:
    """(Re)compute the shipped statistics and labels of every shipped SAE (or of ``sites``)
    into ``out`` (default: beside the SAEs, in the package); one row of sizes per site."""
    from saewidgets.corpus.broad import dashboard_mix
    from saewidgets.sae.load import load_sae, shipped_sites

    available = shipped_sites()
    sites = list(sites or available)
    unknown = [s for s in sites if s not in available]
    if unknown:
        raise ValueError(f"no shipped SAE at {', '.join(unknown)}; shipped: {available}")
    corpus = corpus if corpus is not None else dashboard_mix()
    root = Path(out) if out is not None else shipped_root()
    rows = []
    for site in sites:
        sae = load_sae("embedded", site=site)
        rows.append(ship_site(model, sae, corpus, root, n_tokens=n_tokens, progress=progress))
    return rows
