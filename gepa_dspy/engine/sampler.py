"""Epoch-shuffled minibatches over the training set."""

from __future__ import annotations

import random
from typing import Any, Sequence


class EpochMinibatchSampler:
    """Yields minibatches of ``batch_size`` ids; every id is seen once per epoch, reshuffled per epoch.

    When fewer than ``batch_size`` ids remain in an epoch the batch is topped up from the next
    (freshly shuffled) epoch, avoiding ids already in the batch where possible.
    """

    def __init__(self, ids: Sequence[str], batch_size: int, seed: int) -> None:
        if not ids:
            raise ValueError("cannot sample minibatches from an empty set")
        self.ids = list(ids)
        self.batch_size = min(batch_size, len(self.ids))
        self._rng = random.Random(seed)
        self._order: list[str] = []
        self._position = 0
        self.epoch = -1

    def _new_epoch(self) -> None:
        self._order = list(self.ids)
        self._rng.shuffle(self._order)
        self._position = 0
        self.epoch += 1

    def next_batch(self) -> list[str]:
        batch: list[str] = []
        # Each id can be deferred at most once per batch; more steps than this mean a corrupt order, not a slow draw.
        steps_left = len(self._order) - self._position + 2 * len(self.ids) + self.batch_size
        while len(batch) < self.batch_size:
            steps_left -= 1
            if steps_left < 0:
                raise RuntimeError(f"internal error: the minibatch order {self._order[:10]}... cannot fill a batch of {self.batch_size}")
            if self._position >= len(self._order):
                self._new_epoch()
            take = self._order[self._position]
            self._position += 1
            if take in batch:
                # Only possible right after an epoch boundary: defer the duplicate to keep it in this epoch.
                self._order.append(take)
                continue
            batch.append(take)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {
            "order": self._order,
            "position": self._position,
            "epoch": self.epoch,
            "rng": rng_state_to_json(self._rng),
        }

    def load_state_dict(self, data: dict[str, Any]) -> None:
        self._order = list(data["order"])
        self._position = int(data["position"])
        self.epoch = int(data["epoch"])
        self._rng.setstate(rng_state_from_json(data["rng"]))


def rng_state_to_json(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def rng_state_from_json(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
