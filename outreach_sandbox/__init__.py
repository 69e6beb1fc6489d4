"""A strict, in-memory stand-in for Outreach (OAuth, the /api/v2 resources the product uses and
the Voice Extensibility call rules), for demos and tests. No Django here: the management command
`outreach_sandbox` only parses options and calls serve(). README.md ("The Outreach sandbox")
lists every rule it enforces."""

from __future__ import annotations

from .control import SandboxControl
from .launcher import sandbox_process
from .options import SandboxOptions
from .server import running_sandbox, serve

__all__ = ["SandboxControl", "SandboxOptions", "running_sandbox", "sandbox_process", "serve"]
