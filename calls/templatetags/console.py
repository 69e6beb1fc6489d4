"""Template helpers of the support console."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def when(moment: datetime | None, precise: bool = False) -> str:
    """A time with its date and zone: written in UTC, shown in the viewer's zone by the page's
    script (static/js/console.js), UTC on hover."""
    if moment is None:
        return "—"
    utc = moment.astimezone(UTC)
    shown = utc.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if precise else f"{utc:%Y-%m-%d %H:%M:%S}"
    return format_html(
        '<time datetime="{}"{}>{} UTC</time>',
        utc.isoformat(),
        " data-ms" if precise else "",
        shown,
    )
