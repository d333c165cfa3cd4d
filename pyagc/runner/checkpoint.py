"""Checkpoints written atomically (temp file + rename), so an interrupted write never leaves
a truncated file where a good one was.

Checkpoints are data, never code: they are read with ``torch.load(weights_only=True)``, which
builds tensors, numbers, strings and containers only, and a file that needs more (a pickled
object) or lacks the keys pyagc writes is refused as "not a pyagc checkpoint".
"""
from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Optional, Union

import torch

PathLike = Union[str, os.PathLike]

#: Name prefix of the temporary files of an atomic write (removed if a run is killed mid-write,
#: see :class:`pyagc.runner.outputs.ResultsWriter`).
TMP_PREFIX = ".tmp-"


def _atomic_replace(path: PathLike, write) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=os.path.basename(path), dir=folder)
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


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    _atomic_replace(path, lambda handle: handle.write(data))


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8) like :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


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
        """The saved state, or ``None`` when there is none.

        Raises:
            ValueError: the file is not a pyagc checkpoint (a pickled object, another
                program's file, a damaged or truncated file, missing keys).
        """
        if not self.has(which):
            return None
        path = self.path(which)
        try:
            # Our own files hold tensors, numbers, strings and lists only.
            state = torch.load(path, map_location=map_location, weights_only=True)
        except Exception:  # noqa: BLE001 - a foreign, hostile or corrupt file
            # torch's message suggests retrying with weights_only=False, i.e. running the
            # file's code: wrong advice for a file pyagc did not write, so it is not passed on.
            state = None
        if not _has_keys(state, _REQUIRED[which]):
            raise ValueError(f"Checkpoint {path} cannot be read: it is not a pyagc checkpoint "
                             "(or it is damaged); "
                             "pyagc reads only the tensors, numbers and strings it saves "
                             "itself and never runs code from a file. Delete it to start the "
                             "run afresh.")
        return state


_REQUIRED = {"last": {"model": dict, "optimizers": dict, "train_state": dict},
             "best": {"model": dict, "stage_index": int}}


def _has_keys(state: Any, required: Dict[str, type]) -> bool:
    return isinstance(state, dict) and all(isinstance(state.get(key), kind)
                                           for key, kind in required.items())
