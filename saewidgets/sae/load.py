"""`load_sae` / `load_saes`: one entry point for shipped, local and hub SAEs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats import read_local
from saewidgets.sae.module import SAE

EMBEDDED = "embedded"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def shipped_dir() -> Path:
    """Folder of the SAEs shipped for the embedded model (one subfolder per site)."""
    return Path(__file__).resolve().parent.parent / "data" / "saes"


def shipped_sites() -> list[str]:
    root = shipped_dir()
    if not root.is_dir():
        return []
    found = [p.name for p in root.iterdir() if (p / "cfg.json").is_file()]
    # Sort by depth, then by the order hooks fire in.
    return sorted(found, key=lambda s: (int(s.split(".")[1]), s))


def _require_shipped() -> list[str]:
    sites = shipped_sites()
    if not sites:
        raise SAEFormatError(
            "no SAEs are shipped in this installation yet; train them with "
            "`python -m saewidgets train --preset embedded` or load your own"
        )
    return sites


def _hub_folder(repo_id: str, subfolder: str | None, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    patterns = [f"{subfolder.strip('/')}/*"] if subfolder else None
    try:
        root = snapshot_download(repo_id, revision=revision, allow_patterns=patterns)
    except LocalEntryNotFoundError as error:
        raise SAEFormatError(
            f"could not fetch {repo_id!r}: the hub is unreachable and it is not in the local "
            f"Hugging Face cache ({error})"
        ) from error
    except (HfHubHTTPError, OSError) as error:
        raise SAEFormatError(f"could not fetch {repo_id!r} from the hub: {error}") from error
    return Path(root)


def load_sae(
    source: str | os.PathLike,
    *,
    site: str | None = None,
    subfolder: str | None = None,
    revision: str | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    norm_scaling_factor: float | None = None,
) -> SAE:
    """Load one SAE.

    ``source`` is ``"embedded"`` (the SAEs shipped for the embedded model; pick one with
    ``site=``), a file or folder in any supported format (auto-detected), or a hub repo id
    (``"org/repo"``, with ``subfolder=`` for repos holding many SAEs). ``site=`` overrides the
    site read from the file (it is required when the file does not name one and you trace).
    """
    load: dict[str, Any] = {"device": device, "dtype": dtype}
    if norm_scaling_factor is not None:
        load["norm_scaling_factor"] = norm_scaling_factor
    if str(source) == EMBEDDED:
        available = _require_shipped()
        if site is None:
            raise ValueError(f"load_sae('embedded') needs site=, one of: {', '.join(available)}")
        if site not in available:
            raise ValueError(f"no shipped SAE for site {site!r}; shipped: {', '.join(available)}")
        return read_local(shipped_dir() / site, **load)

    path = Path(source)
    if subfolder:
        path = path / subfolder
    if not Path(source).exists():
        if isinstance(source, str) and _HUB_ID.match(source):
            path = _hub_folder(source, subfolder, revision)
            path = path / subfolder if subfolder else path
        else:
            raise FileNotFoundError(
                f"{source!s} is neither an existing file/folder nor a hub id like 'org/repo'"
            )
    sae = read_local(path, **load)
    if site is not None:
        if sae.site and sae.site != site:
            sae.metadata["file_site"] = sae.site
        sae.site = site
    return sae


def load_saes(source: str | os.PathLike = EMBEDDED, **kwargs: Any) -> dict[str, SAE]:
    """Every SAE under ``source`` as ``{site: SAE}`` (``"embedded"``: all shipped sites)."""
    if str(source) == EMBEDDED:
        return {s: load_sae(EMBEDDED, site=s, **kwargs) for s in _require_shipped()}
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"load_saes needs a folder of SAE folders, got {source!s}")
    saes: dict[str, SAE] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            sae = read_local(folder, **kwargs)
        except SAEFormatError:
            continue
        key = sae.site or folder.name
        saes[key] = sae
    if not saes:
        raise SAEFormatError(f"{root}: no subfolder holds a readable SAE")
    return saes
