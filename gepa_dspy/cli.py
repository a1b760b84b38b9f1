"""The ``gepa-dspy`` command: ``serve`` the embedded local LM, run the GEPA ``demo`` on it, or ``report`` a run."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from typing import Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DEFAULT_SERVE_PORT = 8089


#: The ``start_server`` settings the ``serve`` and ``demo`` commands take; each option's ``dest`` is the parameter's name.
_SERVER_SETTINGS = ("model", "host", "threads", "ctx_size", "parallel", "cache_ram_mib", "extra_server_args",
                    "startup_timeout")


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="default",
        help="'default' (Qwen2.5-Coder-1.5B-Instruct), 'fast' (the 0.5B) or a path to a GGUF file",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all usable CPUs)")
    parser.add_argument("--ctx-size", type=int, default=32768, help="total context, shared by the parallel slots (default 32768: 8192 per slot)")
    parser.add_argument("--parallel", type=int, default=4, help="parallel request slots (-np)")
    parser.add_argument("--cache-ram", dest="cache_ram_mib", type=int, default=512, help="prompt-cache RAM limit in MiB")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument(
        "--server-arg", dest="extra_server_args", action="append", default=[], metavar="ARG",
        help="extra llama-server argument, repeatable (e.g. --server-arg=--temp --server-arg=0)",
    )


def _start(args: argparse.Namespace, port: int | None):
    from gepa_dspy.local_lm import start_server

    return start_server(port=port, **{name: getattr(args, name) for name in _SERVER_SETTINGS})


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace) -> int:
    """Start a server and keep it running until Ctrl-C / SIGTERM, or until it dies."""
    started = time.perf_counter()
    server = _start(args, args.port)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    print(f"llama-server ({server.model_path.name}) ready at {server.url} in {time.perf_counter() - started:.1f} s")
    print(f"  pid {server.pid}, log {server.log_path}")
    print(f'  dspy.LM("openai/local", api_base="{server.api_base}", api_key="local")')
    print(f'  or: gepa_dspy.local_lm.local_lm(url="{server.url}")')
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(1.0)
            died = server.dead_log_tail()
            if died:
                print(died, file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print("Stopping llama-server.", flush=True)
    finally:
        server.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Optimize the demo program with GEPA on the local LM and print before/after."""
    from gepa_dspy.demo import run_demo
    from gepa_dspy.local_lm import connect

    started = time.perf_counter()
    server = connect(args.url) if args.url else _start(args, None)
    print(f"LM server: {server.url} (ready after {time.perf_counter() - started:.1f} s)", flush=True)
    try:
        task_lm = server.lm(temperature=0.0, cache=False)
        reflection_lm = server.lm(temperature=0.7, cache=False, max_tokens=2048)
        run_demo(
            task_lm,
            reflection_lm,
            max_metric_calls=args.budget,
            num_threads=args.num_threads,
            seed=args.seed,
            log_dir=args.log_dir,
        )
    finally:
        server.stop()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from gepa_dspy.report import NotARunDirectory, write_html_report, write_pngs

    try:
        path = write_html_report(args.log_dir, args.output)
    except NotARunDirectory as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    if args.png_dir:
        for png in write_pngs(args.log_dir, args.png_dir):
            print(f"chart: {png}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gepa-dspy", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the embedded llama.cpp server and keep it running")
    _add_server_arguments(serve)
    serve.add_argument("--port", type=int, default=DEFAULT_SERVE_PORT, help=f"default {DEFAULT_SERVE_PORT}")
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser("demo", help="optimize a small receipt-total extractor with GEPA on the local LM")
    _add_server_arguments(demo)
    demo.add_argument("--url", default=None, help="reuse a running server (e.g. http://127.0.0.1:8089)")
    demo.add_argument("--budget", type=int, default=60, help="GEPA max_metric_calls (default 60)")
    demo.add_argument("--num-threads", type=int, default=4, help="parallel LM calls (default 4)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--log-dir", default=None, help="GEPA checkpoint folder (a rerun resumes; results.json)")
    demo.set_defaults(handler=cmd_demo)

    report = commands.add_parser("report", help="write a self-contained HTML report (and PNGs) of a GEPA log_dir")
    report.add_argument("log_dir", help="the log_dir of a running or finished compile")
    report.add_argument("-o", "--output", default=None, help="HTML file to write (default: LOG_DIR/report.html)")
    report.add_argument("--png-dir", default=None, help="also write the charts as PNGs into this folder (needs matplotlib)")
    report.set_defaults(handler=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gepa-dspy`` console script."""
    from gepa_dspy.local_lm import LocalLMError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("gepa_dspy.local_lm").setLevel(logging.INFO)
    if args.verbose:
        logging.getLogger("gepa_dspy").setLevel(logging.INFO)
    try:
        return int(args.handler(args))
    except LocalLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
