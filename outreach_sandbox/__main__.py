"""`python -m outreach_sandbox`: the sandbox without Django (the launcher uses it)."""

from __future__ import annotations

import argparse

from .options import add_arguments, options_from_arguments
from .server import serve

parser = argparse.ArgumentParser(
    prog="python -m outreach_sandbox", description="Callbridge's Outreach sandbox."
)
add_arguments(parser)
serve(options_from_arguments(vars(parser.parse_args())))
