"""The HTML of the sandbox's consent page: pick a sandbox user (or create one, in an existing org
or a new one), then Approve or Deny. Everything shown is escaped."""

from __future__ import annotations

from html import escape

from .store import Store

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; color: #1d2433; }
fieldset { border: 1px solid #c8ccd6; border-radius: 6px; margin: 1rem 0; padding: 1rem; }
label { display: block; margin: .4rem 0; }
.error { background: #fde8e8; border: 1px solid #e0a3a3; padding: .6rem; border-radius: 6px; }
.banner { background: #fff6dd; padding: .4rem .6rem; border-radius: 6px; font-size: .9rem; }
button { padding: .5rem 1.2rem; margin-right: .6rem; }
"""

_CARRIED = ("client_id", "redirect_uri", "response_type", "scope", "state")


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>"
        f"<p class='banner'>Callbridge's Outreach sandbox - not the real Outreach.</p>{body}"
        "</body></html>"
    )


def render_error_page(message: str) -> str:
    return _page(
        "Authorization error",
        f"<h1>Authorization error</h1><p class='error'>{escape(message)}</p>"
        "<p>The application sent an authorization request this sandbox cannot accept, so it "
        "will not send you back to it.</p>",
    )


def render_authorize_page(store: Store, params: dict[str, str], error: str = "") -> str:
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{escape(params.get(name, ''))}'>"
        for name in _CARRIED
    )
    users = (
        "".join(
            f"<label><input type='radio' name='user_id' value='{user.id}'> {escape(user.email)} "
            f"({escape(user.name)}) - {escape(store.orgs[user.org_guid].name)}</label>"
            for user in store.users.values()
        )
        or "<p>No sandbox users yet: create one below.</p>"
    )
    orgs = "".join(
        f"<option value='{escape(org.guid)}'>{escape(org.name)} ({escape(org.guid)})</option>"
        for org in store.orgs.values()
    )
    scopes = "".join(f"<li><code>{escape(s)}</code></li>" for s in params["scope"].split())
    notice = f"<p class='error'>{escape(error)}</p>" if error else ""
    return _page(
        "Authorize application",
        f"<h1>Authorize {escape(params['client_id'])}</h1>{notice}"
        f"<p>The application asks to act for an Outreach user with these scopes:</p>"
        f"<ul>{scopes}</ul>"
        f"<form method='post' action='/oauth/authorize'>{hidden}"
        f"<fieldset><legend>Sign in as an existing sandbox user</legend>{users}</fieldset>"
        "<fieldset><legend>... or create a sandbox user</legend>"
        "<label>Email <input type='email' name='email'></label>"
        "<label>First name <input name='first_name'></label>"
        "<label>Last name <input name='last_name'></label>"
        f"<label>Org <select name='org_guid'>{orgs}</select></label>"
        "<label>... or a new org named <input name='new_org_name'></label></fieldset>"
        "<button type='submit' name='decision' value='approve'>Approve</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button>"
        "</form>",
    )
