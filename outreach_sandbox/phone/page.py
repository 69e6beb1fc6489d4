"""The fake phone system's page: paste the connection's webhook URL and secret, see every dial
request (and whether its signature held), and make things happen on the calls it placed."""

from __future__ import annotations

from html import escape

from .phone import HAPPENINGS, PhoneSystem

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #1d2433; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
td, th { border-bottom: 1px solid #d8dce4; padding: .3rem .5rem; text-align: left; }
form.inline { display: inline; } label { display: block; margin: .4rem 0; }
input[type=text], input[type=password] { width: 100%; }
.banner { background: #fff6dd; padding: .4rem .6rem; border-radius: 6px; font-size: .9rem; }
"""


def render_page(phone: PhoneSystem) -> str:
    calls = "".join(
        f"<tr><td>{escape(call.id)}</td><td>{escape(call.outreach_call_id)}</td>"
        f"<td>{escape(call.to)}</td><td>{escape(call.extension) or '-'}</td>"
        f"<td>{escape(', '.join(f'{k} {v}' for k, v in call.agent.items())) or '-'}</td>"
        f"<td>{escape(', '.join(call.reported)) or '-'}</td><td>"
        + "".join(
            f"<form class='inline' method='post' action='/calls/{escape(call.id)}/{h}'>"
            f"<button type='submit'>{h.replace('_', ' ')}</button></form> "
            for h in HAPPENINGS
            if h != "recording_ready"
        )
        + "</td></tr>"
        for call in reversed(list(phone.calls.values()))
    )
    dials = "".join(
        f"<tr><td>{dial.at:%H:%M:%S}</td><td><code>{escape(dial.message_id)}</code></td>"
        f"<td>{'valid' if dial.signature_ok else 'INVALID'}</td><td>{dial.status}"
        f"{' (repeat)' if dial.repeat else ''}</td>"
        f"<td><code>{escape(str(dial.body))}</code></td></tr>"
        for dial in reversed(phone.dials)
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Phone sandbox</title><style>{_STYLE}</style></head><body>"
        "<p class='banner'>Callbridge's phone sandbox: a fake phone system speaking the generic "
        "provider's protocol. Its dial URL is <code>/dial</code> on this address.</p>"
        "<h1>Phone sandbox</h1><h2>Set up</h2>"
        "<p>From Callbridge's Telephony page: the generic connection's webhook URL and signing "
        "secret (the phone checks dial requests with it and signs its events with it).</p>"
        "<form method='post' action='/set-up'>"
        f"<label>Webhook URL <input type='text' name='webhook_url' "
        f"value='{escape(phone.webhook_url)}'></label>"
        "<label>Signing secret <input type='password' name='secret' "
        f"placeholder='{'set' if phone.secrets else 'whsec_...'}'></label>"
        "<button type='submit'>Save</button></form>"
        "<h2>Calls placed</h2><table><thead><tr><th>Call</th><th>Outreach call</th><th>To</th>"
        "<th>Ext.</th><th>Agent</th><th>Reported</th><th>Report</th></tr></thead>"
        f"<tbody>{calls or '<tr><td colspan=7>None yet.</td></tr>'}</tbody></table>"
        "<h2>Dial requests received</h2><table><thead><tr><th>At</th><th>webhook-id</th>"
        "<th>Signature</th><th>Answer</th><th>Body</th></tr></thead>"
        f"<tbody>{dials or '<tr><td colspan=5>None yet.</td></tr>'}</tbody></table>"
        "</body></html>"
    )
