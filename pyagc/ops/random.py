"""Seeded random streams for models that may live on any device."""
from __future__ import annotations

from typing import Dict, Optional, Union

import torch

__all__ = ["DeviceGenerators"]


class DeviceGenerators:
    """Seeded ``torch.Generator`` s, one per device, made on first use.

    A model moved with ``.to(device)`` draws on that device, and a CPU generator cannot feed a
    CUDA draw; so each device gets its own generator seeded with ``seed``. The same seed gives
    the same draws on the same device (CPU and CUDA streams differ). ``seed=None`` returns
    ``None`` everywhere: torch's global RNG (as seeded by ``pyagc.utils.set_seed``).
    """

    def __init__(self, seed: Optional[int] = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}.")
        self.seed = seed
        self._generators: Dict[torch.device, torch.Generator] = {}

    def __call__(self, device: Union[torch.device, str, None] = None
                 ) -> Optional[torch.Generator]:
        if self.seed is None:
            return None
        device = torch.device("cpu" if device is None else device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def reset(self) -> None:
        """Restart every stream from ``seed``."""
        self._generators.clear()

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """The state of each stream drawn from so far, by device name (for checkpoints)."""
        return {str(device): gen.get_state() for device, gen in self._generators.items()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        """Continue every stream from a :meth:`state_dict`."""
        for device, value in state.items():
            self(device).set_state(value)
