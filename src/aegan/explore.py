"""`aegan explore RUN`: a small web app (Gradio) on a trained run. Autoencoders: sliders over the
main directions of the code space (or over the code itself when it is small) with the decoded
example live; an upload shows its reconstruction, its place on the 2-D latent map and, for an
anomaly detector, its score against the threshold. GANs: samples by seed and class, and an
interpolation between two seeds. The answers are computed by `Explorer` (no Gradio in it), the
page by `build_app`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import DataError, UsageError
from .viz import grid_image, pyplot

MAX_SLIDERS = 8  # codes up to this size get one slider per number; larger ones one per principal direction
MAP_POINTS = 2000  # training examples on the latent map
SPREAD = 3.0  # sliders reach this many standard deviations either side of the mean


class Explorer:
    """What the page asks of a run (or an anomaly detector folder), as plain Python."""

    def __init__(self, path: str | Path, data: str | None = None):
        from .anomaly import ANOMALY_FILE, Scoring
        from .runs.registry import load
        path = Path(path)
        self.scoring = Scoring.load(path) if (path / ANOMALY_FILE).is_file() else None
        self.run = self.scoring.run if self.scoring is not None else load(path)
        self.run.data_override = data
        self.label = self.run.label
        if self.label not in ("autoencoder", "gan"):
            raise UsageError(f"{path} holds a {self.label} run; aegan explore takes autoencoder, GAN and anomaly "
                             "detector folders")
        if self.label == "autoencoder":
            self._fit_code_space()

    # --- autoencoders ------------------------------------------------------------------------
    def _fit_code_space(self) -> None:
        run = self.run
        try:
            ds = run.dataset("train")
        except Exception as e:  # the data moved: the page still decodes, without a map
            raise DataError(f"cannot read the run's training data for the code space ({e}); pass --data PATH") \
                from None
        pick = np.sort(np.random.default_rng(0).choice(len(ds), min(MAP_POINTS, len(ds)), replace=False))
        sub = ds.subset(pick)
        codes = run.encode(sub).astype(np.float64)
        self.labels, self.classes = sub.y, ds.classes
        self.mean = codes.mean(0)
        centred = codes - self.mean
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        self.sd = s / np.sqrt(max(1, len(codes) - 1))
        self.directions = vt  # rows: principal directions, largest spread first
        self.map = centred @ vt[:2].T if vt.shape[0] >= 2 else np.c_[centred[:, :1], np.zeros(len(codes))]
        self.by_number = run.code_dim <= MAX_SLIDERS
        if self.by_number:
            self.slider_names = [f"code[{i}]" for i in range(run.code_dim)]
            self.slider_ranges = [_rounded(codes[:, i].min(), codes[:, i].max(), self.mean[i])
                                  for i in range(run.code_dim)]
        else:
            k = min(MAX_SLIDERS, len(self.sd))
            self.slider_names = [f"direction {i + 1} (sd {self.sd[i]:.3g})" for i in range(k)]
            self.slider_ranges = [(-SPREAD, SPREAD, 0.0)] * k

    def code_from_sliders(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        if self.by_number:
            return v[None].astype(np.float32)
        k = len(v)
        return (self.mean + (v * self.sd[:k]) @ self.directions[:k])[None].astype(np.float32)

    def decoded(self, values) -> Image.Image:
        """The example the sliders' code decodes to, as a picture (tables: a bar chart of its values)."""
        x = self.run.decode(self.code_from_sliders(values))
        return self.picture(x)

    def picture(self, x: np.ndarray) -> Image.Image:
        run = self.run
        if run.kind == "image":
            return grid_image(run.normalizer.to_unit_pixels(x), nrow=len(x), min_size=192)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 2.4))
        for row in x:
            ax.bar(np.arange(len(row)), row, alpha=0.6)
        ax.set_xlabel("column")
        return _figure_image(fig)

    def read_upload(self, path: str) -> np.ndarray:
        """An uploaded image file -> (1, C, H, W) in the training data's units; a file that is not an
        image, or of another size or channel count than the run's, is a DataError saying so."""
        run = self.run
        if run.kind != "image":
            raise DataError("this run was trained on a table; uploads take images")
        c, h, w = run.shape
        try:
            img = Image.open(path)
            img.load()
        except (UnidentifiedImageError, OSError):
            raise DataError(f"{Path(path).name} is not an image this app can read (PNG, JPEG, ...)") from None
        have = {"L": 1, "LA": 1, "RGB": 3, "RGBA": 3, "P": 3, "I": 1, "I;16": 1, "F": 1}.get(img.mode, 0)
        if img.size != (w, h):
            raise DataError(f"{Path(path).name} is {img.size[0]} x {img.size[1]} pixels; this model takes "
                            f"{w} x {h} images (resize it first)")
        if have != c:
            want = "grey" if c == 1 else "RGB"
            raise DataError(f"{Path(path).name} has {have or img.mode} channel(s) ({img.mode}); this model takes "
                            f"{want} images ({c} channel{'s' if c > 1 else ''})")
        arr = np.asarray(img.convert("L" if c == 1 else "RGB"), dtype=np.float32)
        arr = arr[None] if c == 1 else arr.transpose(2, 0, 1)
        info = run.config.data_info
        if info.get("dtype") != "uint8":  # float images: map 0-255 onto the training range
            nz = run.normalizer
            arr = nz.lo + arr / 255.0 * (nz.hi - nz.lo)
        return arr[None]

    def analyse(self, path: str) -> tuple[Image.Image, Image.Image, str]:
        """(input and reconstruction, the latent map with this example, a text with its score)."""
        x = self.read_upload(path)
        rec = self.run.reconstruct(x)
        pair = grid_image(torch.cat([self.run.normalizer.to_unit_pixels(x), self.run.normalizer.to_unit_pixels(rec)]),
                          nrow=2, min_size=160)
        code = self.run.encode(x).astype(np.float64)[0]
        point = (code - self.mean) @ self.directions[:2].T if self.directions.shape[0] >= 2 else \
            np.array([code[0] - self.mean[0], 0.0])
        mse = float(((self.run.normalizer.to_unit_pixels(x) - self.run.normalizer.to_unit_pixels(rec)) ** 2).mean())
        text = f"reconstruction MSE {mse:.5f} (pixels in [0, 1])"
        if self.scoring is not None:
            score = float(self.scoring.scores(x)[0])
            verdict = "**anomalous**" if score > self.scoring.threshold else "normal"
            text += (f"; anomaly score {score:.4g} against the threshold {self.scoring.threshold:.4g}: {verdict}")
        return pair, self.latent_map(point), text

    def latent_map(self, point: np.ndarray | None = None) -> Image.Image:
        from .viz import latent_map_figure
        fig = latent_map_figure(self.map, self.labels, self.classes, "training codes (first two principal "
                                                                      "directions)")
        if point is not None:
            fig.axes[0].scatter([point[0]], [point[1]], marker="*", s=300, c="red", edgecolors="black", zorder=5)
        return _figure_image(fig)

    # --- GANs --------------------------------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        k = self.run.gan.num_classes or 0
        names = self.run.config.data_info.get("classes") or [str(i) for i in range(k)]
        return list(names[:k])

    def samples(self, seed: int, label: int | None = None, n: int = 16) -> Image.Image:
        x = self.run.sample(n, label, int(seed))
        return self.picture(x) if self.run.kind != "image" else \
            grid_image(self.run.normalizer.to_unit_pixels(x), nrow=8, min_size=96)

    def interpolation(self, seed_a: int, seed_b: int, label: int | None = None, steps: int = 8) -> Image.Image:
        gan = self.run.gan
        za = gan.noise(1, torch.Generator().manual_seed(int(seed_a)))
        zb = gan.noise(1, torch.Generator().manual_seed(int(seed_b)))
        t = torch.linspace(0, 1, steps).view(steps, 1)
        z = za * (1 - t) + zb * t
        x = self.run.normalizer.inverse(self.run.sample_model(steps, label, 0, z=z))
        return self.picture(x) if self.run.kind != "image" else \
            grid_image(self.run.normalizer.to_unit_pixels(x), nrow=steps, min_size=96)


def _rounded(lo: float, hi: float, mid: float) -> tuple[float, float, float]:
    """A slider's range: the training codes' range and a tenth more each side, to 3 significant digits."""
    pad = 0.1 * (hi - lo) or 1.0
    r = lambda v: float(f"{v:.3g}")  # noqa: E731
    return r(lo - pad), r(hi + pad), r(mid)


def _figure_image(fig) -> Image.Image:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    pyplot().close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def build_app(ex: Explorer, title: str):
    """The Gradio page of an Explorer."""
    import gradio as gr

    def guarded(fn, n_out: int):
        """Errors a user causes (a bad upload) go to the page's message box, not to a crash."""
        def call(*args):
            try:
                return (*fn(*args), "")
            except (DataError, UsageError) as e:
                return (*([None] * n_out), f"**{e}**")
        return call

    with gr.Blocks(title=f"aegan explore: {title}") as app:
        gr.Markdown(f"## aegan explore: {title}")
        if ex.label == "autoencoder":
            gr.Markdown("Move the sliders to walk the code space: " + (
                "one slider per number of the code." if ex.by_number else
                "each slider moves along one of the main directions of the training codes, in standard deviations."))
            with gr.Row():
                with gr.Column():
                    sliders = [gr.Slider(lo, hi, value=v, step=(hi - lo) / 100 or 0.01, label=name,
                                         elem_id=f"slider-{i}")
                               for i, (name, (lo, hi, v)) in enumerate(zip(ex.slider_names, ex.slider_ranges))]
                decoded = gr.Image(value=ex.decoded([v for _, _, v in ex.slider_ranges]), label="decoded",
                                   type="pil", elem_id="decoded", interactive=False)
            for s in sliders:
                s.change(lambda *v: ex.decoded(v), inputs=sliders, outputs=decoded)
            if ex.run.kind == "image":
                c, h, w = ex.run.shape
                gr.Markdown(f"### Your image\nUpload a {w} x {h} {'grey' if c == 1 else 'RGB'} image: its "
                            "reconstruction, its place among the training codes" +
                            (" and its anomaly score." if ex.scoring is not None else "."))
                upload = gr.File(label="image file", file_types=["image"], type="filepath", elem_id="upload")
                message = gr.Markdown(elem_id="message")
                with gr.Row():
                    pair = gr.Image(label="input | reconstruction", type="pil", elem_id="reconstruction",
                                    interactive=False)
                    where = gr.Image(value=ex.latent_map(), label="latent map", type="pil", elem_id="latent-map",
                                     interactive=False)
                score = gr.Markdown(elem_id="score")
                upload.change(guarded(lambda p: ex.analyse(p) if p else (None, ex.latent_map(), ""), 3),
                              inputs=upload, outputs=[pair, where, score, message])
        else:
            classes = ex.class_names
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                klass = gr.Dropdown(choices=classes, value=classes[0], label="class", elem_id="class") \
                    if classes else None
            grid = gr.Image(value=ex.samples(0, 0 if classes else None), label="samples", type="pil",
                            elem_id="samples", interactive=False)
            inputs = [seed] + ([klass] if klass is not None else [])
            pick = (lambda s, c=None: ex.samples(int(s or 0), classes.index(c) if c in classes else None))
            for comp in inputs:
                comp.change(pick, inputs=inputs, outputs=grid)
            gr.Markdown("### Interpolation between two seeds")
            with gr.Row():
                seed_a = gr.Number(value=0, precision=0, label="from seed", elem_id="seed-a")
                seed_b = gr.Number(value=1, precision=0, label="to seed", elem_id="seed-b")
            strip = gr.Image(value=ex.interpolation(0, 1, 0 if classes else None), label="interpolation",
                             type="pil", elem_id="interpolation", interactive=False)
            between = [seed_a, seed_b] + ([klass] if klass is not None else [])
            walk = (lambda a, b, c=None: ex.interpolation(int(a or 0), int(b or 0),
                                                          classes.index(c) if c in classes else None))
            for comp in between:
                comp.change(walk, inputs=between, outputs=strip)
    return app


def port_free(host: str, port: int) -> bool:
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
