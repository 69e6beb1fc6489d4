"""The Chrome extension a rep downloads from their settings page: `static/extension/`, zipped.

Two builds from the one source: the production build runs on Outreach only
(`https://*.outreach.io/*`, as Outreach's guide asks); the development build also runs on the
Outreach sandbox's dialer page (`http://127.0.0.1/*`, any port), so the whole click-to-dial flow
works on a laptop.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from django.contrib.staticfiles import finders

SOURCE = "extension"
FILES = (
    "manifest.json",
    "managed-schema.json",
    "content-script.js",
    "service-worker.js",
    "options.html",
    "options.js",
)
DEVELOPMENT_MATCHES = ("http://127.0.0.1/*",)
# A fixed date, so the same source always zips to the same bytes.
ZIP_DATE = (2026, 1, 1, 0, 0, 0)


def extension_files(*, development: bool) -> dict[str, bytes]:
    files = {}
    for name in FILES:
        found = finders.find(f"{SOURCE}/{name}")
        if not found:
            raise FileNotFoundError(f"static/{SOURCE}/{name} is missing")
        files[name] = Path(str(found)).read_bytes()
    if development:
        manifest = json.loads(files["manifest.json"])
        manifest["name"] += " (development)"
        for script in manifest["content_scripts"]:
            script["matches"] = [*script["matches"], *DEVELOPMENT_MATCHES]
        files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return files


def extension_zip(*, development: bool) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in extension_files(development=development).items():
            archive.writestr(zipfile.ZipInfo(f"callbridge-extension/{name}", ZIP_DATE), content)
    return buffer.getvalue()
