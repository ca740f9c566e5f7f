"""Versioned model artifacts with an atomic "current" pointer (the bot's serving snapshot follows the pointers).

Layout: `<root>/<name>/versions/<version>/` holds what a model's `save` wrote plus `meta.json`;
`<root>/<name>/CURRENT` names the published version. Publishing writes the new folder completely, then replaces
CURRENT with `os.replace` (atomic on POSIX), so a reader sees the old model or the new one, never half of one.

A process killed while staging or publishing leaves a `staging/<id>` folder or a `.CURRENT.<id>` temp file behind.
Each live staging folder holds an exclusive `flock` on itself for as long as it is in use (the kernel drops it when
the process dies), and `<name>/.lock` serialises creating a staging folder, replacing CURRENT and cleaning; so the
cleaning that starts every `staging()` removes exactly the leftovers of dead processes, never a concurrent
publisher's live folder, whatever their age.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class ArtifactStore:
    """Versions of named models under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, name: str) -> Path:
        return self.root / name

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Hold `<name>/.lock`: one process at a time creates staging folders, replaces CURRENT or cleans."""
        self._dir(name).mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir(name) / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def clean_leftovers(self, name: str) -> list[str]:
        """Remove staging folders no live process holds and stray `.CURRENT.*` temp files; returns what went."""
        removed: list[str] = []
        with self._locked(name):
            for tmp in self._dir(name).glob(".CURRENT.*"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp.name)
            staging_root = self._dir(name) / "staging"
            for folder in sorted(staging_root.iterdir()) if staging_root.exists() else []:
                if not folder.is_dir():
                    folder.unlink(missing_ok=True)
                    continue
                try:
                    fd = os.open(folder, os.O_RDONLY)
                except FileNotFoundError:  # adopted by `keep` meanwhile
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live publisher's folder
                finally:
                    os.close(fd)
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"staging/{folder.name}")
        if removed:
            log.info("cleaned %d leftovers of interrupted publishes of %s", len(removed), name)
        return removed

    @contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A fresh folder to save a model into; removed unless `publish` or `keep` adopts it.

        Leftovers of killed publishers are cleaned first; the new folder stays locked while it is in use.
        """
        self.clean_leftovers(name)
        staging = self._dir(name) / "staging" / uuid.uuid4().hex
        with self._locked(name):
            staging.mkdir(parents=True)
            fd = os.open(staging, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield staging
        finally:
            os.close(fd)
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def keep(self, name: str, staged: Path, meta: dict[str, Any] | None = None) -> str:
        """Move a staged folder into `versions/` (not yet current); returns the new version id."""
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        meta = {"name": name, "version": version, "created": datetime.now(UTC).isoformat(), **(meta or {})}
        (staged / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        final = self._dir(name) / "versions" / version
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        return version

    def set_current(self, name: str, version: str) -> None:
        """Point CURRENT at `version` atomically."""
        if not (self._dir(name) / "versions" / version / "meta.json").exists():
            raise FileNotFoundError(f"no version {version} of {name}")
        tmp = self._dir(name) / f".CURRENT.{uuid.uuid4().hex}"
        with self._locked(name):
            tmp.write_text(version)
            os.replace(tmp, self._dir(name) / "CURRENT")

    def publish(self, name: str, staged: Path, meta: dict[str, Any] | None = None) -> str:
        """Keep the staged folder as a new version and make it current."""
        version = self.keep(name, staged, meta)
        self.set_current(name, version)
        log.info("published %s version %s", name, version)
        return version

    def current_version(self, name: str) -> str | None:
        try:
            return (self._dir(name) / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def path(self, name: str, version: str | None = None) -> Path | None:
        """Folder of `version` (default: the current one), or None when nothing is published."""
        version = version or self.current_version(name)
        return None if version is None else self._dir(name) / "versions" / version

    def meta(self, name: str, version: str | None = None) -> dict[str, Any]:
        path = self.path(name, version)
        if path is None:
            return {}
        return json.loads((path / "meta.json").read_text())

    def versions(self, name: str) -> list[str]:
        folder = self._dir(name) / "versions"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def prune(self, name: str, keep_last: int = 3) -> None:
        """Delete old versions, never the current one."""
        current = self.current_version(name)
        for version in self.versions(name)[:-keep_last]:
            if version != current:
                shutil.rmtree(self._dir(name) / "versions" / version, ignore_errors=True)
