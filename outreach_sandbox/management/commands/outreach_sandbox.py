"""`python manage.py outreach_sandbox --port 8765`: runs the Outreach sandbox in the foreground."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from outreach_sandbox import serve
from outreach_sandbox.options import add_arguments, options_from_arguments


class Command(BaseCommand):
    help = "Runs Callbridge's Outreach sandbox (in memory) on 127.0.0.1."
    # It shares nothing with the project but this command: its checks need not pass first.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        serve(options_from_arguments(options))
