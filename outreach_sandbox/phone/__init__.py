"""A fake phone system that speaks the generic provider's protocol, for demos and tests: it takes
Callbridge's signed dial requests, checks their Standard Webhooks signature with its own code (not
the library the product signs with, so the two readings check each other), "places" the call and
reports it back with signed generic webhooks. Standard library only, data in memory; not part of
the installed package. README.md says how to use it."""

from __future__ import annotations

from .phone import DialReceived, PhoneCall, PhoneSystem
from .server import running_phone, serve

__all__ = ["DialReceived", "PhoneCall", "PhoneSystem", "running_phone", "serve"]
