"""``python -m flask_stackone.sandbox``: serve the StackOne sandbox for any stack.

Point a StackOne client (the official SDKs, ``curl``, a Django or Node app) at the printed
base URL with the printed API key; webhooks go to ``--webhook-url``, signed with the printed
secret exactly as StackOne signs them. For development and tests only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from werkzeug.serving import make_server

from ..core.client import is_loopback
from ..core.errors import ConfigurationError
from .app import create_app
from .config import SandboxConfig
from .state import get_sandbox

DEFAULT_PORT = 4010
DEFAULT_DB = SandboxConfig.db
BANNER = "STACKONE SANDBOX IS ON: a local emulator of StackOne for development and tests only."
EXPOSED = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: the sandbox listens on {host}, not only on this machine's loopback address.
!! Anyone who can reach it can read every owner's accounts on its dashboard, wipe its data
!! with /reset, and link accounts with its API key. Use --host 127.0.0.1 unless you must.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flask_stackone.sandbox",
        description="Serve the StackOne sandbox: sessions, accounts, connectors meta, the "
        "Hub's calls and signed webhooks, offline. For development and tests only.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument(
        "--api-key", help="the API key clients must send (default: generated once, kept in --data)"
    )
    parser.add_argument("--webhook-url", help="where to POST signed webhooks (default: nowhere)")
    parser.add_argument(
        "--webhook-secret",
        help="the webhook signing secret (default: generated once, kept in --data)",
    )
    parser.add_argument(
        "--data",
        default=DEFAULT_DB,
        help=f"the SQLite file of sessions, accounts and deliveries ({DEFAULT_DB})",
    )
    parser.add_argument(
        "--delivery-attempts",
        type=int,
        default=0,
        help="tries per webhook delivery before it is marked failed (0: until a 2xx answer)",
    )
    parser.add_argument(
        "--delivery-backoff",
        type=float,
        default=1.0,
        help="seconds before the first webhook retry, doubled for each next one (1.0)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        app = create_app(
            {
                "SANDBOX_API_KEY": args.api_key,
                "SANDBOX_WEBHOOK_URL": args.webhook_url,
                "SANDBOX_WEBHOOK_SECRET": args.webhook_secret,
                "SANDBOX_DB": os.path.abspath(args.data),
                "SANDBOX_DELIVERY_ATTEMPTS": args.delivery_attempts,
                "SANDBOX_DELIVERY_BACKOFF": args.delivery_backoff,
            }
        )
        server = make_server(args.host, args.port, app, threaded=True)
    except (ConfigurationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sandbox = get_sandbox(app)
    assert sandbox is not None
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{server.server_port}"
    print(BANNER)
    if not is_loopback(args.host):
        print(EXPOSED.format(host=args.host), file=sys.stderr)
    print(f"base URL:       {base}")
    # Generated values are printed; values passed on the command line are the caller's own.
    print(f"API key:        {'(as passed with --api-key)' if args.api_key else sandbox.api_key}")
    print(
        "webhook secret: "
        + ("(as passed with --webhook-secret)" if args.webhook_secret else sandbox.webhook_secret)
    )
    print(f"webhooks go to: {sandbox.webhook_url() or '(nowhere: pass --webhook-url)'}")
    print(f"dashboard:      {base}/")
    print(f"data:           {sandbox.store.path}", flush=True)
    sandbox.resume()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.deliverer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
