"""Rate-distortion of image coders on 8-bit grey images: the peers a user would reach for (WebP,
JPEG and PNG from Pillow, lzma, PCA with quantised coefficients) and the Bjontegaard delta rate.

Every rate is whole bytes on disk divided by the images: headers included, one file per image
("per image") or one picture holding all of them ("mosaic", which spreads the headers and lets
the coder predict across neighbouring images). PSNR is 10 log10(1 / MSE) with the MSE over every
pixel of the set on [0, 1].
"""

from __future__ import annotations

import io
import lzma
import math
import time

import numpy as np

WEBP_QUALITIES = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
JPEG_QUALITIES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(((x.astype(np.float64) - y.astype(np.float64)) ** 2).mean()) / 255.0 ** 2
    return 10 * math.log10(1 / max(mse, 1e-12))


def mosaic(x: np.ndarray) -> tuple[np.ndarray, int]:
    """(N, H, W) -> one (rows*H, cols*W) picture, cols = ceil(sqrt(N)), unused tiles black."""
    n, h, w = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    pad = np.zeros((rows * cols, h, w), np.uint8)
    pad[:n] = x
    return pad.reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w), cols


def unmosaic(img: np.ndarray, n: int, h: int, w: int, cols: int) -> np.ndarray:
    rows = img.shape[0] // h
    return img.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(rows * cols, h, w)[:n]


def _pil_roundtrip(arr: np.ndarray, fmt: str, **opts) -> tuple[int, np.ndarray]:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **opts)
    data = buf.getvalue()
    return len(data), np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def pillow_points(x: np.ndarray, fmt: str, qualities, per_image: bool) -> list[dict]:
    """(bytes per image, PSNR, encode+decode images/s) of a Pillow format at each quality."""
    n, h, w = x.shape
    points = []
    for q in qualities:
        opts = {"quality": q} if fmt != "PNG" else {"optimize": True}
        if fmt == "WEBP":
            opts["method"] = 6  # the slowest, smallest setting
        t0 = time.perf_counter()
        if per_image:
            sizes, back = zip(*(_pil_roundtrip(img, fmt, **opts) for img in x))
            total, y = sum(sizes), np.stack(back)
        else:
            m, cols = mosaic(x)
            total, img = _pil_roundtrip(m, fmt, **opts)
            y = unmosaic(img, n, h, w, cols)
        secs = time.perf_counter() - t0
        points.append({"quality": q if fmt != "PNG" else "lossless", "bytes": total / n, "psnr": psnr(x, y),
                       "images_per_s": n / secs})
        if fmt == "PNG":
            break
    return points


def lzma_point(x: np.ndarray) -> dict:
    t0 = time.perf_counter()
    total = len(lzma.compress(x.tobytes(), preset=9 | lzma.PRESET_EXTREME))
    return {"quality": "lossless", "bytes": total / len(x), "psnr": float("inf"),
            "images_per_s": len(x) / (time.perf_counter() - t0)}


def quantised_lzma(coeffs: np.ndarray, step: float) -> tuple[int, np.ndarray]:
    """Coefficients rounded to multiples of `step`, stored as int16 and lzma'd: (bytes, the values back)."""
    q = np.clip(np.rint(coeffs / step), -32768, 32767).astype(np.int16)
    return len(lzma.compress(q.tobytes(), preset=9 | lzma.PRESET_EXTREME)) + 4, q.astype(np.float32) * step


def pca_points(train: np.ndarray, x: np.ndarray, ks=(4, 8, 16, 32, 64), steps=(2.0, 4.0, 8.0, 16.0)) -> list[dict]:
    """PCA-k fitted on the training images; test coefficients quantised (step in units of pixel/255
    scaled by 255) and lzma'd; the basis is not counted (both sides have it, like a codec's weights)."""
    from sklearn.decomposition import PCA
    n = len(x)
    xt, xs = train.reshape(len(train), -1) / 255.0, x.reshape(n, -1) / 255.0
    points = []
    for k in ks:
        p = PCA(k, random_state=0).fit(xt)
        c = p.transform(xs)
        for s in steps:
            t0 = time.perf_counter()
            size, cq = quantised_lzma(c * 255.0, s)
            y = np.clip(np.rint(p.inverse_transform(cq / 255.0) * 255.0), 0, 255)
            points.append({"quality": f"k={k}, step {s:g}", "bytes": size / n, "psnr": psnr(x, y.reshape(x.shape)),
                           "images_per_s": n / (time.perf_counter() - t0)})
    return points


def pareto(points: list[dict]) -> list[dict]:
    """The points no other point beats on both bytes and PSNR, by bytes."""
    pts = sorted((p for p in points if math.isfinite(p["psnr"])), key=lambda p: (p["bytes"], -p["psnr"]))
    front, best = [], -math.inf
    for p in pts:
        if p["psnr"] > best:
            front.append(p)
            best = p["psnr"]
    return front


def bd_rate(test: list[dict], ref: list[dict], lo: float, hi: float) -> float | None:
    """Bjontegaard delta rate of `test` against `ref` in percent (negative: fewer bytes for the same
    PSNR): the mean difference of log bytes over the PSNR range both Pareto fronts cover inside
    [lo, hi], as a rate ratio. Log bytes are interpolated linearly in PSNR between measured points
    (the piecewise variant of Bjontegaard's cubic fit: it needs only two points per curve and
    cannot overshoot between them). None without overlap."""
    pt, pr = pareto(test), pareto(ref)
    if len(pt) < 2 or len(pr) < 2:
        return None
    a = max(lo, pt[0]["psnr"], pr[0]["psnr"])
    b = min(hi, pt[-1]["psnr"], pr[-1]["psnr"])
    if b <= a:
        return None
    grid = np.linspace(a, b, 200)

    def log_bytes(pts):
        return np.interp(grid, [p["psnr"] for p in pts], np.log([p["bytes"] for p in pts]))

    return float((math.exp(float(np.mean(log_bytes(pt) - log_bytes(pr)))) - 1) * 100)


def bytes_at(points: list[dict], target_psnr: float) -> float | None:
    """Bytes per image at a PSNR, interpolated (in log bytes) along the Pareto front; None outside it."""
    pts = pareto(points)
    for p, q in zip(pts, pts[1:]):
        if p["psnr"] <= target_psnr <= q["psnr"]:
            t = (target_psnr - p["psnr"]) / (q["psnr"] - p["psnr"])
            return float(math.exp(math.log(p["bytes"]) + t * (math.log(q["bytes"]) - math.log(p["bytes"]))))
    return None
