"""Image-to-image translation runs: pix2pix on pairs (U-Net G, PatchGAN D on (input, output),
adversarial + lambda x L1; Isola et al. 2017) and CycleGAN on two unpaired domains (two G, two D,
least-squares adversarial loss, cycle consistency and identity losses, a history pool;
Zhu et al. 2017). Both train through the driver (checkpoints, resume, NaN handling, torchrun)
with Adam 2e-4 (0.5, 0.999), constant for the first half of the epochs, then linear to zero."""

from __future__ import annotations

import dataclasses
import math
from shlex import quote

import numpy as np
import torch

from ..accel import Accel
from ..config import RunConfig
from ..data import Dataset, Normalizer
from ..data.arrays import as_examples, check_finite
from ..data.feed import TensorFeed
from ..errors import DataError, UsageError
from ..losses import d_cross_entropy, d_least_squares, g_least_squares, g_non_saturating
from ..models.translation import Translator, push_pool, resolve
from ..optim import LR_SCHEDULES, descend, make_optimizer, set_lr
from ..train import drive, fresh_state
from ..version import __version__
from ..viz import grid_image, save_png
from .base import Figure, Job, RunBase, Section, data_info
from .recipe import check_one_batch, split_feed

SHOWN = 8  # examples in the per-epoch pictures
DIRECTIONS = ("a2b", "b2a")


class TranslationRun(RunBase):
    """A trained translation model. `translate(images, direction)` returns numpy images in the
    data's own units."""

    label = "translation"
    commands = "aegan translate takes translation runs (aegan train pix2pix / cyclegan)"

    @property
    def pairs(self) -> dict:
        return self.config.data_info["pairs"]

    @property
    def paired(self) -> bool:
        return self.config.model.mode == "pix2pix"

    def side_shape(self, side: str) -> tuple[int, int, int]:
        return (self.pairs[f"{side}_channels"], *self.shape[1:])

    @property
    def title(self) -> str:
        m = self.config.model
        return f"{m.mode} ({m.generator} generator)" + (", no discriminator" if m.adv_weight == 0 else "")

    def check_direction(self, direction: str) -> None:
        if direction not in DIRECTIONS:
            raise UsageError(f"--direction {direction!r}; expected a2b or b2a")
        if direction == "b2a" and self.paired:
            raise UsageError("--direction b2a: a pix2pix run translates A to B only; train 'aegan train cyclegan' "
                             "for both directions")

    def side_to_model(self, x, side: str) -> torch.Tensor:
        """Images of one side (an array (N, C, H, W), (N, H, W) or one image) -> model units."""
        shape = self.side_shape(side)
        arr = np.asarray(x)
        if arr.shape == shape:
            arr = arr[None]
        elif shape[0] == 1 and arr.shape == shape[1:]:
            arr = arr[None, None]
        arr, _ = as_examples(arr, "input")
        if tuple(arr.shape[1:]) != shape:
            raise DataError(f"images of shape {tuple(arr.shape[1:])} do not fit this run, whose {side.upper()} "
                            f"images are {shape} (channels, height, width); use images like its training data "
                            "(e.g. the same --image-size and --channels)")
        check_finite(arr, "input")
        return self.normalizer.transform(arr)

    def translate_model(self, t: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        self.check_direction(direction)
        g = self.module.g_ab if direction == "a2b" else self.module.g_ba
        return self.map_batches(g, t, batch_size=256)

    def translate(self, x, direction: str = "a2b") -> np.ndarray:
        """Images of the source side -> images of the other side, in the data's units."""
        self.check_direction(direction)
        t = self.side_to_model(x, "a" if direction == "a2b" else "b")
        return self.normalizer.inverse(self.translate_model(t, direction))

    def sides(self, ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """A translation dataset -> (A, B) in model units (paired: row i of each goes together)."""
        x = self.normalizer.transform(ds.x)
        return split_sides(x, ds, self.pairs["a_channels"])

    @classmethod
    def build_module(cls, config: RunConfig, normalizer: Normalizer) -> torch.nn.Module:
        info = config.data_info["pairs"]
        shape = config.data_info["shape"]
        return Translator(config.model, (info["a_channels"], *shape[1:]), (info["b_channels"], *shape[1:]))

    @staticmethod
    def shown_metric(key: str, value) -> bool:
        return isinstance(value, float) and (key.endswith("loss") or key.startswith("val_"))

    def next_commands(self) -> list[str]:
        p = quote(str(self.path))
        data = quote(self.config.data.data)
        lines = [f"aegan translate {p} --data {data} --out translated.png   # inputs, outputs (and targets)",
                 f"aegan evaluate {p}          # L1, PSNR, SSIM, FCD on the test split"]
        if not self.paired:
            lines.insert(1, f"aegan translate {p} --data {data} --direction b2a --out back.png")
        return lines + super().next_commands()

    def describe(self) -> list[tuple[str, str]]:
        m = self.config.model
        weights = (f"L1 x{m.l1_weight}, D's instance noise {m.d_noise:g}" if self.paired else
                   f"cycle x{m.cycle_weight}, identity x{m.identity_weight * m.cycle_weight:g}, pool {m.pool_size}")
        return [("model", f"{self.title}, base channels {m.base_channels}, adversarial x{m.adv_weight}, {weights}"),
                ("sides", f"A {self.side_shape('a')} -> B {self.side_shape('b')}, "
                         f"{'paired' if self.pairs['paired'] else 'unpaired'}")]

    def learning_rates(self) -> str:
        return f"lr {self.config.train.lr} (Adam betas {tuple(self.config.model.betas)}, linear decay over the " \
               "second half)"

    def evaluation(self, n: int, features: str | None, seed: int) -> dict:
        from ..translation_eval import evaluate_translation
        return evaluate_translation(self, n, features, seed)

    def picture(self, a: torch.Tensor, b: torch.Tensor):
        """Rows of inputs, outputs and targets (pix2pix); for CycleGAN A, A->B, back to A, then B,
        B->A, back to B."""
        g_ab, g_ba = self.module.g_ab, self.module.g_ba
        was = self.module.training
        self.module.eval()
        with torch.no_grad():
            dev = self.device
            a, b = a.to(dev), b.to(dev)
            fake_b = g_ab(a)
            rows = [a, fake_b, b] if g_ba is None else [a, fake_b, g_ba(fake_b), b, g_ba(b), g_ab(g_ba(b))]
        self.module.train(was)
        c = max(t.shape[1] for t in rows)
        rows = [self.normalizer.to_pixels(t).expand(-1, c, -1, -1) for t in rows]
        return grid_image(torch.cat(rows), nrow=len(a))

    def report_sections(self) -> list[Section]:
        what = ("rows: input, output, target" if self.paired else
                "rows: A, A->B, back to A; B, B->A, back to B")
        sections = []
        pics = self.epoch_pictures("translation")
        if pics:
            sections.append(Section(f"Validation examples over the epochs ({what})", pics))
        try:
            test = self.dataset("test")
        except DataError:
            return sections
        a, b = self.sides(test.subset(np.arange(min(len(test), 4000))))
        a, b = a[:SHOWN], b[:SHOWN]
        return sections + [Section("Test examples", [Figure(self.picture(a, b), what, keep="translation.png")])]


def split_sides(x: torch.Tensor, ds: Dataset, a_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    if ds.extra["pairs"]["paired"]:
        return x[:, :a_channels], x[:, a_channels:]
    y = torch.as_tensor(ds.y)
    return x[y == 0], x[y == 1]


def prepare(ds: Dataset, config: RunConfig, accel: Accel) -> Job:
    """Pixels in [-1, 1]; the validation part held out of each side; G and D built."""
    tc, pairs = config.train, ds.extra.get("pairs")
    if ds.kind != "image" or pairs is None:
        raise UsageError(f"{ds.source}: translation needs two sides of images (A/ and B/ folders, an .npz with a "
                         "and b, or edges, superres, inpaint, sneaker-boot)")
    m = resolve(config.model, ds.shape[1:])
    if m.mode == "pix2pix" and not pairs["paired"]:
        raise UsageError(f"{ds.source}: pix2pix learns from pairs; this data has none; use 'aegan train cyclegan'")
    normalizer = Normalizer.fit(ds.x, "image", "symmetric")  # the generators end in tanh
    a_all, b_all = split_sides(normalizer.transform(ds.x), ds, pairs["a_channels"])
    if m.mode == "cyclegan" and m.identity_weight > 0 and a_all.shape[1] != b_all.shape[1]:
        m = dataclasses.replace(m, identity_weight=0.0)  # G_ab(b) needs b to have A's channels
    # paired sides have as many rows, so the same permutation: the pairs stay together
    (a_val, a_tr), (b_val, b_tr) = (tuple(None if f is None else f.x for f in split_feed(TensorFeed(t), tc))
                                    for t in (a_all, b_all))
    check_one_batch(len(a_all), tc)
    info = data_info(ds, normalizer, pairs=pairs)
    config = dataclasses.replace(config, task="translation", model=m, data_info=info, aegan_version=__version__)
    model = Translator(m, (pairs["a_channels"], *ds.shape[1:]), (pairs["b_channels"], *ds.shape[1:]))
    model.to(accel.device)
    run = TranslationRun(config, model, normalizer)
    gens = [p for g in model.generators() for p in g.parameters()]
    discs = [p for d in model.discriminators() for p in d.parameters()]
    opt_g = make_optimizer(gens, tc.lr, m.betas)
    opt_d = make_optimizer(discs, tc.lr, m.betas) if discs else None
    opts = [o for o in (opt_g, opt_d) if o is not None]
    shown_a = (a_val if a_val is not None else a_tr)[:SHOWN]
    shown_b = (b_val if b_val is not None else b_tr)[:SHOWN]

    def pictures(record: dict, path) -> dict:
        grid = run.picture(shown_a, shown_b)
        save_png(path / f"translation_epoch{record['epoch']:03d}.png", grid)
        return {"translation": grid}

    def train(ctl, on_epoch, progress):
        loop = pix2pix_loop if m.mode == "pix2pix" else cyclegan_loop
        return loop(model, m, tc, ctl, on_epoch, progress, accel, opts, (a_tr, b_tr), (a_val, b_val))

    return Job(run, train, lambda: {f"optimizer_{i}": o.state_dict() for i, o in enumerate(opts)}, pictures)


def _psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")


@torch.no_grad()
def _distance(g, x: torch.Tensor, target: torch.Tensor, accel: Accel, back=None) -> dict:
    """Mean L1 and MSE in pixels in [0, 1] of g(x) (then back(.) for a cycle) against target."""
    l1 = se = 0.0
    for i in range(0, len(x), 256):
        out = g(x[i:i + 256].to(accel.device))
        if back is not None:
            out = back(out)
        diff = (out.float().cpu() - target[i:i + 256]) / 2  # model units [-1, 1] -> pixels [0, 1]
        l1 += float(diff.abs().sum())
        se += float(diff.pow(2).sum())
    n = target.numel()
    return {"l1": l1 / n, "psnr": _psnr(se / n)}


def _loop(model, opts, tc, ctl, on_epoch, progress, accel, feed, step, validate):
    schedule, base = LR_SCHEDULES["half_linear"], [tc.lr] * len(opts)
    total = tc.epochs * math.ceil(len(feed) / tc.batch_size)

    def step_lr(batch, st):
        set_lr(opts, base, schedule(st["done"] / total) * st["lr_scale"])
        st["done"] += 1
        return step(batch, st)

    def end_epoch(st, means, seconds):
        record = {"epoch": st["epoch"], "step": st["step"], **means}
        model.eval()
        record.update(validate())
        model.train()
        record["seconds"] = seconds
        if on_epoch is not None:
            on_epoch(record)
        return record, False

    accel.place(model)
    model.train()
    history = drive(model, opts, feed, tc, ctl, fresh_state(done=0), step_lr, end_epoch, progress, accel)
    model.eval()
    return history


def pix2pix_loop(model, m, tc, ctl, on_epoch, progress, accel, opts, train, val):
    """Per batch: D on (a, b) real and (a, G(a)) fake, its loss halved; then G on the
    adversarial loss through D plus l1_weight x |G(a) - b|."""
    a_tr, b_tr = train
    feed = TensorFeed(torch.cat([a_tr, b_tr], 1), device=accel.device)
    ca = a_tr.shape[1]
    G, D = model.g_ab, model.d_b
    opt_g, opt_d = opts[0], (opts[1] if len(opts) > 1 else None)
    g_params, d_params = list(G.parameters()), list(D.parameters()) if D is not None else []

    def seen(a, b):
        """What D sees of a pair: instance noise on the output side hides the exact agreement of a
        real target with its input (inpaint's known pixels, superres' block means), which fakes
        never quite reach and D would otherwise learn to check instead of realism."""
        return torch.cat([a, b + m.d_noise * torch.randn_like(b) if m.d_noise else b], 1)

    def step(batch, st):
        x, _ = batch
        a, b = x[:, :ca], x[:, ca:]
        fake = G(a)
        out = {}
        if D is not None:
            d_real, d_fake = D(seen(a, b)), D(seen(a, fake.detach()))
            d_loss = 0.5 * d_cross_entropy(d_real, d_fake)  # halved, as in pix2pix
            descend(opt_d, d_loss, d_params, ctl.grad_clip, "discriminator loss")
            out["d_loss"] = (d_loss.detach(), 1)
        l1 = (fake - b).abs().mean()
        g_loss = m.l1_weight * l1
        if D is not None and m.adv_weight > 0:
            g_adv = g_non_saturating(D(seen(a, fake)))
            g_loss = g_loss + m.adv_weight * g_adv
            out["g_adv"] = (g_adv.detach(), 1)
        descend(opt_g, g_loss, g_params, ctl.grad_clip, "generator loss")
        st["step"] += 1
        return {**out, "g_loss": (g_loss.detach(), 1), "l1": (l1.detach() / 2, 1)}  # l1 in pixels [0, 1]

    def validate():
        if val[0] is None:
            return {}
        return {f"val_{k}": v for k, v in _distance(G, val[0], val[1], accel).items()}

    return _loop(model, opts, tc, ctl, on_epoch, progress, accel, feed, step, validate)


def cyclegan_loop(model, m, tc, ctl, on_epoch, progress, accel, opts, train, val):
    """Per batch of A (with as many B drawn at random): both G on least-squares adversarial +
    cycle_weight x (|G_ba(G_ab(a)) - a| + |G_ab(G_ba(b)) - b|) + identity terms; then both D
    on real images and fakes from the history pools. An epoch is one pass over A."""
    a_tr, b_tr = train
    feed = TensorFeed(a_tr, device=accel.device)
    b_tr = b_tr.to(accel.device)
    g_ab, g_ba, d_a, d_b = model.g_ab, model.g_ba, model.d_a, model.d_b
    opt_g, opt_d = opts[0], (opts[1] if len(opts) > 1 else None)
    g_params = [p for g in (g_ab, g_ba) for p in g.parameters()]
    d_params = [p for d in (d_a, d_b) if d is not None for p in d.parameters()]
    lam, idt = m.cycle_weight, m.identity_weight * m.cycle_weight

    def step(batch, st):
        a, _ = batch
        b = b_tr[torch.randint(len(b_tr), (len(a),)).to(b_tr.device)]
        fake_b, fake_a = g_ab(a), g_ba(b)
        cycle = (g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean()
        g_loss = lam * cycle
        out = {"cycle": (cycle.detach() / 2, 1)}
        if idt > 0:
            ident = (g_ab(b) - b).abs().mean() + (g_ba(a) - a).abs().mean()
            g_loss = g_loss + idt * ident
            out["identity"] = (ident.detach() / 2, 1)
        if d_b is not None:
            g_adv = 2 * (g_least_squares(d_b(fake_b)) + g_least_squares(d_a(fake_a)))  # (D(G(x)) - 1)^2 each
            g_loss = g_loss + m.adv_weight * g_adv
            out["g_adv"] = (g_adv.detach(), 1)
        descend(opt_g, g_loss, g_params, ctl.grad_clip, "generator loss")
        if d_b is not None:
            seen_b, st["pool_b"] = push_pool(st.get("pool_b"), fake_b, m.pool_size)
            seen_a, st["pool_a"] = push_pool(st.get("pool_a"), fake_a, m.pool_size)
            d_loss = d_least_squares(d_b(b), d_b(seen_b)) + d_least_squares(d_a(a), d_a(seen_a))
            descend(opt_d, d_loss, d_params, ctl.grad_clip, "discriminator loss")
            out["d_loss"] = (d_loss.detach(), 1)
        st["step"] += 1
        return {**out, "g_loss": (g_loss.detach(), 1)}

    def validate():
        if val[0] is None or not len(val[1]):
            return {}
        ra = _distance(g_ab, val[0], val[0], accel, back=g_ba)
        rb = _distance(g_ba, val[1], val[1], accel, back=g_ab)
        return {"val_cycle_l1": (ra["l1"] + rb["l1"]) / 2, "val_cycle_psnr_a": ra["psnr"],
                "val_cycle_psnr_b": rb["psnr"]}

    return _loop(model, opts, tc, ctl, on_epoch, progress, accel, feed, step, validate)


RUN_CLASS = TranslationRun  # what runs/tasks.py finds here, with `prepare`
