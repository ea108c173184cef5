"""The feature network behind aegan's sample metrics: a small CNN classifier whose
penultimate layer (`features`) plays the part Inception plays for FID, without any download."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..nets import conv_sizes


class Classifier(nn.Module):
    """(N, C, H, W) -> logits (N, K). A 3x3 conv at full resolution, then one stride-2 3x3 conv
    per further stage (BN + ReLU after each), Linear to `feature_dim` features, ReLU, Linear to
    the classes. Images are expected in [0, 1] (the unit normaliser)."""

    def __init__(self, cfg, shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        self.cfg, self.num_classes = cfg, num_classes
        c, h, w = shape
        layers: list[nn.Module] = []
        for i, c_out in enumerate(cfg.conv_channels):
            layers += [nn.Conv2d(c, c_out, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c = c_out
        self.convs = nn.Sequential(*layers)
        fh, fw = conv_sizes(h, w, len(cfg.conv_channels) - 1)[-1]
        self.fc = nn.Linear(c * fh * fw, cfg.feature_dim)
        self.head = nn.Linear(cfg.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, feature_dim), after the ReLU."""
        return F.relu(self.fc(self.convs(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self(x)
        return {"loss": F.cross_entropy(logits, y), "error": (logits.argmax(1) != y).float().mean()}
