"""DDP on CPU (gloo, 2 processes): all-gathered InfoNCE + DDP gives the full-batch gradient."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from training.losses import info_nce

pytestmark = pytest.mark.slow  # two gloo processes


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 6, generator=g)
    b = F.normalize(torch.randn(8, 4, generator=g), dim=-1)
    labels = torch.tensor([0, 1, 2, 3, 0, 5, 6, 7])  # one repeated species: multi-positive path too
    return x, b, labels


def _model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Linear(6, 4)


class _Wrap(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.inner(x), dim=-1)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    x, b, labels = _data()
    model = nn.parallel.DistributedDataParallel(_Wrap(_model()))
    a = model(x[rank::world])
    loss = info_nce(a, b[rank::world], torch.tensor(2.0), labels[rank::world])
    loss.backward()
    torch.save({"loss": loss.detach(), "grad": model.module.inner.weight.grad}, Path(out) / f"rank{rank}.pt")
    # both ranks finish their collectives before either tears the group down: without this, a rank
    # that exits first has aborted the other ("terminate called without an active exception")
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_match_one_process_on_the_full_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    x, b, labels = _data()
    model = _Wrap(_model())
    # the ranks see rows in gathered order [0,2,4,6,1,3,5,7]: the same batch, permuted
    order = torch.tensor([0, 2, 4, 6, 1, 3, 5, 7])
    loss = info_nce(model(x[order]), b[order], torch.tensor(2.0), labels[order])
    loss.backward()
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert torch.allclose(got["loss"], loss.detach(), atol=1e-6)
        assert torch.allclose(got["grad"], model.inner.weight.grad, atol=1e-6)
