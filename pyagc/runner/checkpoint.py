"""Checkpoints written atomically (temp file + rename), so an interrupted write never leaves
a truncated file where a good one was."""
from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Optional, Union

import torch

PathLike = Union[str, os.PathLike]


def _atomic_replace(path: PathLike, write) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    _atomic_replace(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_save(obj: Any, path: PathLike) -> None:
    """``torch.save(obj, path)`` through a temporary file and :func:`os.replace`."""
    _atomic_replace(path, lambda handle: torch.save(obj, handle))


class CheckpointManager:
    """Best and last training state of one run, in ``<ckpt_dir>/{best,last}.pt``.

    ``last`` holds everything needed to continue (model and optimizer state, stage, epoch,
    loss history, early-stopping state, RNG state); ``best`` the lowest-loss model state.
    """

    def __init__(self, ckpt_dir: PathLike) -> None:
        self.ckpt_dir = os.fspath(ckpt_dir)

    def path(self, which: str) -> str:
        if which not in ("best", "last"):
            raise ValueError(f"which must be 'best' or 'last', got {which!r}.")
        return os.path.join(self.ckpt_dir, f"{which}.pt")

    def save(self, which: str, state: Dict[str, Any]) -> None:
        atomic_save(state, self.path(which))

    def has(self, which: str = "last") -> bool:
        return os.path.isfile(self.path(which))

    def load(self, which: str = "last", map_location: Union[str, torch.device] = "cpu"
             ) -> Optional[Dict[str, Any]]:
        if not self.has(which):
            return None
        try:
            # Our own files hold tensors, numbers, strings and lists only.
            return torch.load(self.path(which), map_location=map_location, weights_only=True)
        except Exception as err:  # a foreign or corrupt file
            raise ValueError(f"Checkpoint {self.path(which)} cannot be read ({err}); delete it "
                             "to start the run afresh.") from None
