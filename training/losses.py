"""Contrastive losses of BioVITA (eq. 1 and 2) and the stage-2 weight schedule.

`info_nce(a, b, logit_scale)` is the symmetric cross-entropy over the similarity matrix
S = a b^T * exp(logit_scale), rows and columns (BioVITA eq. 1). With `labels`, every pair
of the same species counts as a positive (targets spread evenly over them), so two clips of
one species in a batch are not pushed apart; without labels, the diagonal is the target.
Under DDP, embeddings are all-gathered (with gradients) before the loss.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def gather(x: torch.Tensor) -> torch.Tensor:
    """All ranks' rows, in rank order; gradients flow back to each rank's own rows."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=0)


def _targets(labels: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    if labels is None:
        return torch.eye(n, device=device)
    same = (labels[:, None] == labels[None, :]).float()
    return same / same.sum(dim=1, keepdim=True)


def info_nce(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor,
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between L2-normalised a (N, d) and b (N, d)."""
    a, b = gather(a), gather(b)
    if labels is not None:
        labels = gather(labels)
    logits = a @ b.t() * logit_scale.exp().clamp(max=100.0)
    targets = _targets(labels, a.shape[0], a.device)
    rows = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    cols = -(targets * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return 0.5 * (rows + cols)


def stage2_lambda(epoch_progress: float, ramp_epochs: float = 2.0, top: float = 0.1) -> float:
    """lambda grows linearly from 0 to `top` over the first `ramp_epochs` epochs, then stays."""
    if ramp_epochs <= 0:
        return top
    return top * min(1.0, max(0.0, epoch_progress / ramp_epochs))


def stage2_loss(audio: torch.Tensor, image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                lam: float, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """L = L_ATC + lambda (L_AIC + L_ITC) (BioVITA eq. 2); also returns the parts."""
    atc = info_nce(audio, text, logit_scale, labels)
    aic = info_nce(audio, image, logit_scale, labels)
    itc = info_nce(image, text, logit_scale, labels)
    total = atc + lam * (aic + itc)
    return total, {"atc": float(atc.detach()), "aic": float(aic.detach()), "itc": float(itc.detach()), "lambda": lam}
