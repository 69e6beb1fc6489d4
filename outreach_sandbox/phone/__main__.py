"""`python -m outreach_sandbox.phone --port 8766`: the fake phone system in the foreground."""

from __future__ import annotations

import argparse

from .server import serve

parser = argparse.ArgumentParser(
    prog="python -m outreach_sandbox.phone",
    description="A fake phone system speaking Callbridge's generic provider protocol.",
)
parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
arguments = parser.parse_args()
serve(host=arguments.host, port=arguments.port)
