"""Text to read: the offline default corpus, the broad corpus, the user's texts and files, HF
datasets.

``sw.corpus.default()``, ``sw.corpus.heldout_prose()``, ``sw.corpus.training_mix()``,
``sw.corpus.from_texts([...])``, ``sw.corpus.from_folder(path)``.
"""

from saewidgets.corpus.broad import dashboard_mix, heldout_prose, training_mix
from saewidgets.corpus.corpus import (
    LAYOUT_VERSION,
    Corpus,
    CorpusError,
    CorpusTooSmall,
    Document,
    default,
    from_files,
    from_folder,
    from_hf_dataset,
    from_texts,
)

__all__ = [
    "LAYOUT_VERSION",
    "Corpus",
    "CorpusError",
    "CorpusTooSmall",
    "Document",
    "dashboard_mix",
    "default",
    "from_files",
    "from_folder",
    "from_hf_dataset",
    "from_texts",
    "heldout_prose",
    "training_mix",
]
