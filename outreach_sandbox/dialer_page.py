"""The sandbox's Outreach-like dialer (`GET /dialer`): a sandbox user's prospects, each number with
a Call button that does what the Outreach client does (000 "Initiating New Calls"):

1. creates the outbound call through the control API (`POST /_control/calls`), which records the
   launch the 5-second `initiated` deadline counts from;
2. posts `outreach-external-dial-init` (`type`, `source: "outreach"`, `callId`, `phoneNumber`,
   `ext` when the number has one) with `window.postMessage`, and shows whether a Chrome extension
   answered `outreach-external-dial-ack` with the same callId;
3. offers the equivalent `tel:` link, for a `tel:` handler instead of an extension.

It then follows the call as the control API reports it: the state Outreach has, and whether
`initiated` came within 5 s of the launch. Like Outreach, the dialer lives in an iframe
(`/dialer/frame`), which is where the message is posted. The page talks only to the control API,
so it works against the sandbox's own state and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from .messages import Context, Request, Response, Route, html_response, route

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1d2433; }
header { background: #5951ff; color: white; padding: .6rem 1rem; }
iframe { border: 0; width: 100%; height: calc(100vh - 3rem); }
main { padding: 1rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; }
td, th { border-bottom: 1px solid #d8dce4; padding: .3rem .5rem; text-align: left; }
.calls li { margin: .4rem 0; } .ok { color: #1b5e20; } .late { color: #b71c1c; }
.banner { background: #fff6dd; padding: .4rem .6rem; border-radius: 6px; font-size: .9rem; }
form.row { display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; }
"""

_SHELL = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Outreach sandbox - dialer</title><style>{_STYLE}</style></head><body>
<header>Outreach sandbox · dialer <small>(not the real Outreach)</small></header>
<iframe id="dialer" title="Dialer" src="/dialer/frame"></iframe>
<script>
  // The frame gets the same query (?user=<id>), like Outreach's embedded dialer gets its state.
  document.getElementById("dialer").src = "/dialer/frame" + window.location.search;
</script>
</body></html>"""

_FRAME = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Dialer</title><style>{_STYLE}</style></head><body><main>
<p class="banner">Calls start here as they do in Outreach: the call is created first, then handed to
the Voice Extension App by a Chrome message (and a tel: link).</p>
<label>Signed in as <select id="user"></select></label>
<h2>Prospects</h2>
<table><thead><tr><th>Prospect</th><th>Number</th><th></th></tr></thead>
<tbody id="prospects"></tbody></table>
<form id="add-prospect" class="row">
  <label>First name <input name="firstName" required></label>
  <label>Last name <input name="lastName"></label>
  <label>Number <input name="number" required placeholder="+12065550100"></label>
  <label>Ext. <input name="extension" size="6"></label>
  <button type="submit">Add prospect</button>
</form>
<h2>Calls</h2>
<ol id="calls" class="calls"></ol>
</main><script src="/dialer/dialer.js"></script></body></html>"""
_SCRIPT = Path(__file__).with_name("dialer.js").read_bytes()


def dialer(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return html_response(200, _SHELL)


def dialer_frame(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return html_response(200, _FRAME)


def dialer_script(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return Response(200, _SCRIPT, "text/javascript; charset=utf-8")


PREFIX = "/dialer"
ROUTES: list[Route] = [
    route("GET", "/dialer", dialer),
    route("GET", "/dialer/frame", dialer_frame),
    route("GET", "/dialer/dialer.js", dialer_script),
]
