"""Work sharding over HF accelerate processes, and per-item seeds.

Work is cut into batches by index (batch k = items [kB, (k+1)B)); process r of a world of W
takes the batches with k mod W == r. Because a batch's contents never depend on W, a sharded
run produces exactly the items a single process would. ``python -m ...`` gives one process;
``accelerate launch --multi_gpu --num_processes N ...`` gives N (one per GPU, or CPU processes on a
CPU-only machine: there accelerate's ``--cpu`` launcher starts several processes only through MPI).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Callable, Iterator


def derive_seed(base_seed: int, index: int, purpose: str = "", bits: int = 63) -> int:
    """A ``bits``-bit seed for item ``index`` of a run seeded by ``base_seed`` (stable across platforms).

    63 bits suit ``torch.Generator``; 32 bits suit code that seeds numpy or does arithmetic on the seed.
    """
    digest = hashlib.sha256(f"diffubias:{purpose}:{base_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**bits - 1)


@dataclass(frozen=True)
class Shard:
    """This process's place in the world: rank, world size, a barrier and its device."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"
    barrier: Callable[[], None] = lambda: None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, batch_index: int) -> bool:
        """Whether this process renders/captions batch ``batch_index``."""
        return batch_index % self.world == self.rank

    def batches(self, num_items: int, batch_size: int) -> Iterator[tuple[int, range]]:
        """(k, item indices) of the batches this process owns; the last batch may be short."""
        for k in range((num_items + batch_size - 1) // batch_size):
            if self.owns(k):
                yield k, range(k * batch_size, min((k + 1) * batch_size, num_items))


def current_shard() -> Shard:
    """This process's shard: accelerate's state when launched with several processes, else one process.

    A CPU-only machine (or ``ACCELERATE_USE_CPU``) gets the gloo backend, so ``accelerate launch
    --multi_gpu --num_processes 2`` (torchrun underneath) also shards over CPU processes.
    """
    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard(0, 1, "cuda" if torch.cuda.is_available() else "cpu")
    from accelerate import PartialState

    cpu = not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true"
    state = PartialState(cpu=cpu)
    return Shard(state.process_index, state.num_processes, str(state.device), state.wait_for_everyone)

