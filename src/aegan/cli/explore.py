"""`aegan explore RUN`: a Gradio app on localhost to walk a run's code space or its samples."""

from __future__ import annotations

from ..errors import UsageError
from .flags import command

DEFAULT_PORT = 7860


def add_parsers(sub) -> None:
    p = command(sub, "explore", "a web page to play with a run: code sliders, uploads, samples (Gradio)",
                cmd_explore, "run folder: an autoencoder, a GAN or an anomaly detector",
                examples=("aegan explore runs/ae                  # then open http://127.0.0.1:7860",
                          "aegan explore runs/detector --port 8000",
                          "aegan explore runs/gan --host 0.0.0.0  # reachable from other machines: on purpose only"))
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine "
                                                       "only; 0.0.0.0 opens it to the network)")
    p.add_argument("--data", help="where the run's training data is now, if it was moved (for the code space)")


def cmd_explore(args) -> int:
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} must be between 1 and 65535")
    import importlib.util
    if importlib.util.find_spec("gradio") is None:
        raise UsageError("aegan explore needs Gradio: pip install 'aegan[explore]'")
    from ..explore import Explorer, build_app, port_free
    if not port_free(args.host, args.port):
        raise UsageError(f"--port {args.port} on {args.host} is in use; give another with --port")
    ex = Explorer(args.run, data=args.data)
    app = build_app(ex, args.run)
    where = "this machine only" if args.host in ("127.0.0.1", "localhost") else "the network: anyone who can reach " \
        "this machine can use the page"
    print(f"aegan explore {args.run}: http://{args.host}:{args.port} (listening on {args.host}: {where}); "
          "Ctrl-C stops it", flush=True)
    app.launch(server_name=args.host, server_port=args.port, quiet=True, show_error=False)
    return 0
