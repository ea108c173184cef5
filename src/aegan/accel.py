"""Where and how a training step runs: the device (`--device`), the arithmetic (`--precision`)
and torch.compile (`--compile`).

fp32 is the default everywhere. bf16 and fp16 run the forward pass under autocast (matrix
products in half precision, reductions and losses in fp32); fp16 adds a gradient scaler, whose
skipped steps (overflow while it finds its scale) are normal and not a divergence. On a CPU the
half-precision modes work too; whether they are faster depends on the network (the speed table
of BENCHMARKS.md measures it)."""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager, nullcontext

import torch

from .errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str) -> torch.device:
    """--device -> a torch.device. `auto` takes a CUDA GPU, then Apple's MPS, then the CPU. Under
    torchrun each process takes the GPU of its LOCAL_RANK."""
    if name not in DEVICES:
        raise UsageError(f"--device {name!r} is not a device; expected one of {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: PyTorch sees no CUDA GPU here (torch.cuda.is_available() is False); "
                             "use --device cpu, or install a CUDA build of torch on a machine with a GPU")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise UsageError(f"torchrun started process {local} on a machine with {torch.cuda.device_count()} "
                             "GPU(s); start at most one process per GPU (--nproc_per_node)")
        return torch.device("cuda", local)
    if name == "mps" and not _mps_available():
        raise UsageError("--device mps: PyTorch sees no Apple GPU here (torch.backends.mps.is_available() is "
                         "False); use --device cpu")
    return torch.device(name)


@dataclasses.dataclass
class Accel:
    """The device, precision and compile switches of one training run."""

    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    compile: bool = False

    @classmethod
    def from_config(cls, tc) -> "Accel":
        if tc.precision not in PRECISIONS:
            raise UsageError(f"--precision {tc.precision!r} is not a precision; expected one of "
                             f"{', '.join(PRECISIONS)}")
        device = resolve_device(tc.device)
        if tc.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError(f"--precision bf16: the GPU {torch.cuda.get_device_name(device)} has no bfloat16 "
                             "arithmetic; use --precision fp16 (or fp32)")
        return cls(device, tc.precision, bool(tc.compile))

    def autocast(self):
        """The context a forward pass runs in: autocast for bf16/fp16, nothing for fp32."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A gradient scaler for fp16 (one per optimiser), None otherwise."""
        return torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None

    def place(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module on the device; convolutional ones in channels_last memory format, which the
        CPU's and the GPU's convolution kernels run faster on (measured +6-13% per conv AE step on
        this CPU). Parameters are changed in place, so optimisers made before stay valid."""
        module.to(self.device)
        if any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in module.modules()):
            module.to(memory_format=torch.channels_last)
        return module

    @staticmethod
    def release(module: torch.nn.Module) -> torch.nn.Module:
        """Back on the CPU in the default memory format, as a run loaded from its folder is, so
        that the trained run and the loaded one compute bit for bit the same."""
        return module.to("cpu", memory_format=torch.contiguous_format)

    def loader_workers(self, asked: int | None) -> int:
        """Loader processes for data read from disk: as asked, else none when training on the CPU
        (on a 2-core machine one or two readers made a streamed epoch about 1.5x slower and took
        more memory: `make bench`, speed section) and 4 (at most the spare cores) beside a GPU."""
        if asked is not None:
            return asked
        return 0 if self.device.type == "cpu" else max(0, min(4, (os.cpu_count() or 1) - 1))

    def compiled(self, fn):
        """`fn` (a module or a function) through torch.compile when --compile is on."""
        return torch.compile(fn) if self.compile else fn


@contextmanager
def fast_cpu_math(device: torch.device):
    """While training on a CPU, flush denormal floats to zero: Adam's second-moment estimates and
    small gradients drift into the denormal range, where x86 arithmetic runs many times slower
    (a classic autoencoder lost ~20% of its speed within a few epochs without this). The flag is
    process-wide; it is switched off again afterwards."""
    on = device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if on:
            torch.set_flush_denormal(False)
