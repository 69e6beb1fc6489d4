"""The Chrome extension a rep downloads next to their API token: a Manifest V3 extension whose
production build runs on Outreach only and whose development build also on the sandbox."""

from __future__ import annotations

import io
import json
import zipfile

from django.test import Client, override_settings
from django.urls import reverse

from portal.accounts.extension import FILES
from tests.conftest import Cast


def download(cast: Cast, query: str = "") -> dict[str, bytes]:
    client = Client()
    client.force_login(cast.bob)
    response = client.get(reverse("extension_download") + query)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def test_it_offers_the_extension_next_to_the_api_tokens(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.bob)
    page = client.get(reverse("user_settings")).content.decode()
    assert page.index("API tokens") < page.index('href="/settings/extension.zip"')
    assert "build=development" not in page  # offered only with DEBUG on
    with override_settings(DEBUG=True):
        assert "build=development" in client.get(reverse("user_settings")).content.decode()


def test_it_zips_a_manifest_v3_extension_that_runs_on_outreach_in_every_frame(cast: Cast) -> None:
    files = download(cast)
    assert sorted(files) == sorted(FILES)
    manifest = json.loads(files["manifest.json"])
    assert manifest["manifest_version"] == 3
    assert manifest["background"] == {"service_worker": "service-worker.js"}
    assert manifest["options_ui"]["page"] == "options.html"
    assert manifest["content_scripts"] == [
        {
            "matches": ["https://*.outreach.io/*"],
            "js": ["content-script.js"],
            "all_frames": True,
            "run_at": "document_start",
        }
    ]
    # No host permissions: the portal answers CORS to the extension instead (portal/api_cors.py).
    assert "host_permissions" not in manifest and manifest["permissions"] == ["storage"]
    referenced = {manifest["storage"]["managed_schema"], "options.html", "service-worker.js"}
    assert referenced <= set(files)
    assert b'src="options.js"' in files["options.html"]


def test_its_development_build_also_runs_on_the_sandboxs_origin(cast: Cast) -> None:
    manifest = json.loads(download(cast, "?build=development")["manifest.json"])
    assert manifest["name"].endswith("(development)")
    assert manifest["content_scripts"][0]["matches"] == [
        "https://*.outreach.io/*",
        "http://127.0.0.1/*",
    ]


def test_it_is_for_signed_in_people(db: None) -> None:
    response = Client().get(reverse("extension_download"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
