"""Training speed of pythae's trainer (benchmark_VAE 0.1.2) on the networks aegan's `classic`
autoencoder and MLP VAE use; run by benchmarks/speed.py in the bench-only environment
(.venv-bench), never imported by aegan.

    python benchmarks/pythae_speed.py {ae,vae} DATA.npy EPOCHS  ->  JSON list of samples/s per epoch
"""

import json
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn
from pythae.data.datasets import BaseDataset
from pythae.models import AE, VAE, AEConfig, VAEConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from pythae.trainers import BaseTrainer, BaseTrainerConfig
from pythae.trainers.training_callbacks import TrainingCallback

# (encoder hidden sizes, code size): aegan's classic preset and its vae mlp default
NETS = {"ae": ((128,), 32), "vae": ((512, 256), 32)}


def mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class Encoder(BaseEncoder):
    def __init__(self, hidden, code, variational):
        super().__init__()
        self.variational, self.code = variational, code
        self.net = mlp([784, *hidden, 2 * code if variational else code])

    def forward(self, x):
        h = self.net(x.flatten(1))
        if self.variational:
            mu, logvar = h.chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)
        return ModelOutput(embedding=h)


class Decoder(BaseDecoder):
    def __init__(self, hidden, code, sigmoid):
        super().__init__()
        self.net = mlp([code, *reversed(hidden), 784])
        self.sigmoid = sigmoid

    def forward(self, z):
        out = self.net(z)
        return ModelOutput(reconstruction=(torch.sigmoid(out) if self.sigmoid else out).view(-1, 1, 28, 28))


class EpochClock(TrainingCallback):
    """Seconds of each epoch's training steps (from the first step to the last, no eval/copies)."""

    def __init__(self):
        self.start, self.last, self.seconds = None, None, []

    def on_train_step_begin(self, training_config, **kw):  # once per epoch, before its loop
        self.start = time.perf_counter()

    def on_train_step_end(self, training_config, **kw):
        self.last = time.perf_counter()

    def on_epoch_end(self, training_config, **kw):
        self.seconds.append(self.last - self.start)


def main():
    kind, path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    x = np.load(path).astype(np.float32)
    hidden, code = NETS[kind]
    variational = kind == "vae"
    cfg = (VAEConfig if variational else AEConfig)(input_dim=(1, 28, 28), latent_dim=code, reconstruction_loss="mse")
    model = (VAE if variational else AE)(cfg, encoder=Encoder(hidden, code, variational),
                                         decoder=Decoder(hidden, code, variational))
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as out:
        tc = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=1e-3,
                               per_device_train_batch_size=128, no_cuda=True)
        data = BaseDataset(torch.from_numpy(x), torch.zeros(len(x)))  # what its TrainingPipeline builds
        BaseTrainer(model, train_dataset=data, training_config=tc, callbacks=[clock]).train()
    print(json.dumps([len(x) / s for s in clock.seconds]))


if __name__ == "__main__":
    main()
