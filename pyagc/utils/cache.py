"""A one-entry cache keyed on tensor identity and version (for ``ops`` and ``encoders``)."""
from __future__ import annotations

import weakref
from typing import Callable, Optional, Tuple

from torch import Tensor

__all__ = ["TensorCache"]


class TensorCache:
    """Remembers ``fn(*inputs)`` for the last inputs seen.

    Tensor inputs are matched by identity (weak reference, so a freed tensor whose memory is
    reused never hits) and version counter (no in-place edit since); other inputs by equality.
    Copies and pickles start empty.
    """

    def __init__(self, fn: Callable[..., object]) -> None:
        self.fn = fn
        self.clear()

    def __call__(self, *inputs: object) -> object:
        if self._hit(inputs):
            return self._value
        value = self.fn(*inputs)
        self._refs = tuple(weakref.ref(a) if isinstance(a, Tensor) else None for a in inputs)
        self._keys = tuple(a._version if isinstance(a, Tensor) else a for a in inputs)
        self._value = value
        return value

    def _hit(self, inputs: Tuple[object, ...]) -> bool:
        if self._refs is None or len(inputs) != len(self._refs):
            return False
        for ref, key, new in zip(self._refs, self._keys, inputs):
            if isinstance(new, Tensor):
                if ref is None or ref() is not new or new._version != key:
                    return False
            elif ref is not None or key != new:
                return False
        return True

    @property
    def value(self) -> object:
        """The remembered value (``None`` when empty)."""
        return self._value

    def clear(self) -> None:
        self._refs: Optional[Tuple[Optional[weakref.ReferenceType], ...]] = None
        self._keys: Tuple[object, ...] = ()
        self._value = None

    def __deepcopy__(self, memo) -> "TensorCache":
        return TensorCache(self.fn)

    def __getstate__(self):
        return {"fn": self.fn}

    def __setstate__(self, state) -> None:
        self.__init__(state["fn"])
