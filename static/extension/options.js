// The options page: the portal address and the rep's API token (kept in chrome.storage.local,
// which only this extension reads), a test of both against the portal, and how the last dial
// went.
"use strict";

const form = document.getElementById("set-up");
const portalInput = document.getElementById("portal");
const tokenInput = document.getElementById("token");
const testLine = document.getElementById("test");
const lastDialLine = document.getElementById("last-dial");

function apiUrl(portal, path) {
  return new URL(path, portal.endsWith("/") ? portal : `${portal}/`).toString();
}

function show(element, text, ok) {
  element.textContent = text;
  element.className = ok === true ? "ok" : ok === false ? "failed" : "";
}

async function load() {
  const managed = await chrome.storage.managed.get("portal").catch(() => ({}));
  const local = await chrome.storage.local.get(["portal", "token", "lastDial"]);
  portalInput.value = managed.portal || local.portal || "";
  portalInput.readOnly = Boolean(managed.portal);
  document.getElementById("portal-managed").hidden = !managed.portal;
  tokenInput.value = local.token || "";
  showLastDial(local.lastDial);
}

function showLastDial(lastDial) {
  if (!lastDial) return show(lastDialLine, "No call yet.");
  const when = new Date(lastDial.at).toLocaleTimeString();
  const outcome = lastDial.ok === false ? "failed" : lastDial.ok ? "succeeded" : "in progress";
  show(lastDialLine, `${when}, call ${lastDial.callId}: ${outcome}. ${lastDial.detail}`, lastDial.ok);
}

async function test(portal, token) {
  show(testLine, "Testing…");
  try {
    const response = await fetch(apiUrl(portal, "api/v1/me/"), { headers: { Authorization: `Bearer ${token}` } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) return show(testLine, `Callbridge refused the token: ${body.detail || `HTTP ${response.status}`}`, false);
    const organizations = (body.organizations || []).map((o) => o.name).join(", ");
    show(testLine, `Connected as ${body.email} in ${organizations}.`, true);
  } catch (error) {
    show(testLine, `Callbridge could not be reached at ${portal} (${error.message}).`, false);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const portal = portalInput.value.trim();
  const token = tokenInput.value.trim();
  await chrome.storage.local.set({ portal, token });
  await test(portal, token);
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && changes.lastDial) showLastDial(changes.lastDial.newValue);
});

load();
