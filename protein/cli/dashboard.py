"""``protein dashboard``: the studies of a storage, live, in the browser."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from protein.cli.common import STORAGE_HELP, existing_storage
from protein.masking import mask_url


def _dashboard(args: argparse.Namespace) -> int:
    from protein.dashboard.server import is_loopback, serve

    url = existing_storage(args.storage)
    if not is_loopback(args.host):
        print(f"protein dashboard: warning: --host {args.host} serves the studies to the "
              "network; anyone who reaches it and has the token can read them",
              file=sys.stderr)
    where = f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}/"
    print(f"protein dashboard: {mask_url(url)}"
          + (f", study {args.study}" if args.study else "")
          + f" at {where} (read-only; Ctrl-C to stop)", file=sys.stderr)
    serve(url, args.study, args.host, args.port, args.out, args.token)
    return 0


def add_dashboard(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="watch the studies of a storage live in the browser",
                       description="Serves a page that follows the studies live: progress, "
                                   "best so far, fronts, learning curves, slices, parallel "
                                   "coordinates, importance, the trial table and each trial's "
                                   "logs. Read-only. Needs pip install 'protein-hpo[dashboard]'.")
    p.add_argument("--storage", default=None, help=STORAGE_HELP)
    p.add_argument("--study", default=None, help="show only this study (default: every one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only); any other "
                        "needs --token")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--token", default=None,
                   help="a secret the page asks for before it shows anything")
    p.add_argument("--out", default="runs",
                   help="protein run's --out, where the trials' log files are (default runs/)")
    p.set_defaults(func=_dashboard)
