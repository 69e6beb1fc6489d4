// Callbridge click-to-dial: listens for Outreach's dial message in every Outreach frame (its
// dialer lives in an iframe), acknowledges it at once as Outreach's Voice Extensibility guide
// asks ("Using Custom Events in Chrome"), and hands the dial to the service worker, which posts
// it to the Callbridge portal. Acknowledging first keeps Outreach's wait short whatever the
// portal does; the portal, not this script, makes sure one call id is dialled once.
"use strict";

window.addEventListener("message", (event) => {
  // Only Outreach's own page posting to itself: not another frame, window or origin.
  if (event.source !== window || event.origin !== window.location.origin) return;
  const data = event.data;
  if (!data || typeof data !== "object" || data.type !== "outreach-external-dial-init") return;
  if (data.source !== "outreach") return;
  const callId = typeof data.callId === "number" ? String(data.callId) : data.callId;
  const phoneNumber = typeof data.phoneNumber === "string" ? data.phoneNumber.trim() : "";
  if (typeof callId !== "string" || !callId.trim() || !phoneNumber) return;

  // The same callId as received, so Outreach can match the ack to its dial.
  window.postMessage({ type: "outreach-external-dial-ack", callId: data.callId }, window.location.origin);
  chrome.runtime.sendMessage({
    kind: "dial",
    callId: callId.trim(),
    phoneNumber,
    ext: typeof data.ext === "string" || typeof data.ext === "number" ? String(data.ext) : "",
  });
});
