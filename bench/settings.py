"""The product's settings plus the bare view, for the web server the benchmark starts.

`DJANGO_SETTINGS_MODULE=bench.settings` is the switch that adds `/bench/ok`: it is off unless
that variable names this module, and `bench` is not part of the installed package.
"""

from __future__ import annotations

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
