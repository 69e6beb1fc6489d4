// Callbridge click-to-dial: posts each dial the content script hands over to the portal
// (POST /api/v1/dial with the rep's API token), follows it for a few seconds (so the rep learns
// when Outreach has "initiated", or why it refused the call), keeps how the last dial went for
// the options page, and marks a failure on the toolbar icon.
//
// The portal answers CORS to extension origins, so no host permission is asked for: an
// extension force-installed for every rep works with any portal address, without a prompt.
"use strict";

const FOLLOW_TIMES = 6;
const FOLLOW_EVERY_MS = 1500;

chrome.runtime.onMessage.addListener((message) => {
  if (message && message.kind === "dial") dial(message);
});

chrome.action.onClicked.addListener(() => chrome.runtime.openOptionsPage());

async function setUp() {
  // An admin may set the portal for everyone through Chrome's policy (managed storage).
  const managed = await chrome.storage.managed.get("portal").catch(() => ({}));
  const local = await chrome.storage.local.get(["portal", "token"]);
  return { portal: managed.portal || local.portal || "", token: local.token || "" };
}

function apiUrl(portal, path) {
  return new URL(path, portal.endsWith("/") ? portal : `${portal}/`).toString();
}

async function dial({ callId, phoneNumber, ext }) {
  const { portal, token } = await setUp();
  if (!portal || !token) {
    await remember({
      callId,
      ok: false,
      status: "not set up",
      detail: "Callbridge is not set up: open the extension's options and enter the portal address and your API token.",
    });
    return;
  }
  await remember({ callId, ok: null, status: "sending", detail: `Sending the call to ${phoneNumber} to Callbridge.` });
  let answer;
  try {
    const response = await fetch(apiUrl(portal, "api/v1/dial"), {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ source: "outreach", callId, phoneNumber, ext }),
    });
    const body = await response.json().catch(() => ({}));
    answer = {
      callId,
      ok: response.ok,
      status: body.status || `HTTP ${response.status}`,
      detail: body.detail || body.error || `Callbridge answered HTTP ${response.status}.`,
    };
  } catch (error) {
    answer = { callId, ok: false, status: "unreachable", detail: `Callbridge could not be reached at ${portal} (${error.message}).` };
  }
  await remember(answer);
  if (answer.ok) await follow(callId, portal, token);
}

async function follow(callId, portal, token) {
  for (let time = 0; time < FOLLOW_TIMES; time += 1) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
    const response = await fetch(apiUrl(portal, `api/v1/dial/${encodeURIComponent(callId)}`), {
      headers: { Authorization: `Bearer ${token}` },
    }).catch(() => null);
    if (!response || !response.ok) continue;
    const body = await response.json().catch(() => ({}));
    const outreach = body.outreach || {};
    const refused = outreach.problem ? `Outreach refused the call: ${outreach.problem}` : "";
    const ok = body.status !== "failed" && !refused;
    const detail = refused || (outreach.state ? `${body.detail} Outreach has "${outreach.state}".` : body.detail);
    if (!(await remember({ callId, ok, status: body.status, detail, outreachState: outreach.state || null }, { onlyIf: callId }))) return;
    if (!ok || outreach.state) return;
  }
}

// Keeps the last dial for the options page; a follow-up of an older dial does not overwrite a
// newer one (`onlyIf`). Answers whether it wrote.
async function remember(lastDial, { onlyIf } = {}) {
  if (onlyIf) {
    const { lastDial: current } = await chrome.storage.local.get("lastDial");
    if (current && current.callId !== onlyIf) return false;
  }
  await chrome.storage.local.set({ lastDial: { ...lastDial, at: new Date().toISOString() } });
  await chrome.action.setBadgeBackgroundColor({ color: "#c62828" });
  await chrome.action.setBadgeText({ text: lastDial.ok === false ? "!" : "" });
  await chrome.action.setTitle({
    title: lastDial.ok === false ? `Callbridge: the last call failed. ${lastDial.detail}` : "Callbridge click-to-dial",
  });
  return true;
}
