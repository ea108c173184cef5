"""Run by tests/test_distributed.py, under torchrun or alone: the driver's single-loss loop with
plain SGD on digits, weights written to argv[1] (rank 0). SGD's step is linear in the gradient,
so a difference in the order of floating-point sums (a batch split in two and averaged) stays a
difference of the same size, unlike Adam's, which turns rounding noise in a near-zero gradient
into a step of the learning rate's size."""

import sys

import torch
from safetensors.torch import save_file

from aegan import distributed, load_dataset
from aegan.config import ModelConfig, TrainConfig
from aegan.data import Normalizer
from aegan.models import build_model
from aegan.train import train_on_loss

distributed.setup()
torch.manual_seed(0)
ds = load_dataset("digits", "train")
norm = Normalizer.fit(ds.x, ds.kind, "unit")
model = build_model(ModelConfig(hidden=(64,), code_dim=8), ds.kind, ds.shape, norm.model_range)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
train_on_loss(model, norm.transform(ds.x), None, TrainConfig(epochs=2, batch_size=64, lr=0.05), opt=opt,
              progress=False)
if distributed.is_main():
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, sys.argv[1])
distributed.teardown()
distributed.leave(0)  # see distributed.leave: no C++ exit-time teardown under torchrun
