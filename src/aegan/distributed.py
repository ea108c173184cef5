"""Data-parallel training over torch.distributed, for runs started by torchrun.

`torchrun --nproc_per_node N -m aegan train ...` starts N copies of the same command; each
reads the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, ...), joins one process
group (gloo on CPU, NCCL on CUDA) and trains on its share of every batch: the batch size on the
command line stays the global one. After each backward pass the gradients are averaged over
all processes before the optimiser step (what DistributedDataParallel does, in one flat
all-reduce per step), so every process holds the same weights; batch-norm statistics are
averaged at the end of each epoch. Only rank 0 writes the run folder, prints and checkpoints.
Where CUDA is available the group routes CUDA tensors through NCCL and CPU tensors (stop
flags, epoch sums) through gloo; each process trains on the GPU of its LOCAL_RANK (accel.py).
Without torchrun (WORLD_SIZE unset or 1) every function here is a no-op."""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist


def setup() -> bool:
    """Join the process group torchrun describes; True when training is distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend())
    return True


def backend() -> str:
    """gloo on CPUs; with CUDA, NCCL for CUDA tensors and gloo for the CPU ones."""
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def finish() -> None:
    """Wait until every process has finished its command (a CPU all-reduce through gloo, whatever the
    device), so that none leaves the process group while another still writes or talks in it."""
    any_flag(False)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def joined() -> bool:
    """Whether this process took part in a process group (setup() joined one)."""
    return dist.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1


def leave(code: int) -> None:
    """End a torchrun worker now, with `code`, once its command is done and the group destroyed:
    output flushed, then os._exit, which skips the C++ static destructors. At interpreter exit
    a communication thread the group leaves behind (gloo's) can still be joinable when its
    owner is destroyed, and C++ then aborts the process ('terminate called without an active
    exception', SIGABRT) after the command succeeded; CI saw it in about one run in forty.
    Every file the command wrote is closed by then; nothing is lost by skipping the destructors."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def shard(idx: torch.Tensor) -> torch.Tensor:
    """This process's part of a global batch of indices (contiguous, sizes differ by at most 1)."""
    return idx.tensor_split(size())[rank()] if active() else idx


def average_gradients(params: list[torch.nn.Parameter], loss: torch.Tensor) -> bool:
    """Replace each gradient by its mean over all processes (one flat all-reduce) and return
    whether the loss and the gradients were finite on every process: a NaN anywhere reaches
    every process, so all of them refuse the step together."""
    grads = [p.grad for p in params if p.grad is not None]
    # the loss rides along as one more element (times 0: only its NaN/inf matters)
    flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).float() * 0])
    dist.all_reduce(flat)
    finite = bool(torch.isfinite(flat).all())
    flat /= size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()
    return finite


def broadcast_state(module: torch.nn.Module) -> None:
    """Every process starts from rank 0's parameters and buffers."""
    if active():
        for t in module.state_dict().values():
            dist.broadcast(t, 0)


def average_buffers(module: torch.nn.Module) -> None:
    """Floating-point buffers (batch-norm running statistics) averaged over all processes; the
    others (counters) taken from rank 0."""
    if not active():
        return
    for t in module.buffers():
        if t.is_floating_point():
            dist.all_reduce(t)
            t /= size()
        else:
            dist.broadcast(t, 0)


def sum_scalars(sums: dict, counts: dict) -> tuple[dict, dict]:
    """The epoch's running sums and counts added up over all processes."""
    if not active() or not sums:
        return sums, counts
    keys = sorted(sums)
    t = torch.tensor([float(sums[k]) for k in keys] + [float(counts[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    n = len(keys)
    return dict(zip(keys, t[:n].tolist())), dict(zip(keys, t[n:].tolist()))


def all_sum(t: torch.Tensor) -> None:
    """t replaced, in place, by its sum over all processes."""
    if active():
        dist.all_reduce(t)


def broadcast_from_main(t: torch.Tensor) -> None:
    """t replaced, in place, by rank 0's t."""
    if active():
        dist.broadcast(t, 0)


def any_flag(flag: bool) -> bool:
    """True on every process when it is true on at least one (a stop request, say)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t)
    return bool(t.item() > 0)


def weights_agree(module: torch.nn.Module) -> bool:
    """Whether every process holds bit-identical weights (compares fingerprints of the state)."""
    if not active():
        return True
    flat = torch.cat([t.detach().double().reshape(-1) for t in module.state_dict().values()])
    pos = torch.arange(1, len(flat) + 1, dtype=torch.float64)
    fp = torch.stack([flat.sum(), (flat * flat).sum(), (flat * pos).sum()])
    seen = [torch.zeros_like(fp) for _ in range(size())]
    dist.all_gather(seen, fp)
    return all(torch.equal(seen[0], s) for s in seen[1:])
