import sys

from .cli import main

code = main()
_dist = sys.modules.get("aegan.distributed")  # loaded only by commands that got that far
if _dist is not None and _dist.joined():
    _dist.leave(code)  # a torchrun worker: end without the C++ exit-time teardown (distributed.leave)
raise SystemExit(code)
