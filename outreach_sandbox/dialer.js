// The sandbox dialer's frame (outreach_sandbox/dialer_page.py): what the Outreach client does
// when a rep clicks Call - create the call, post outreach-external-dial-init, show the ack - and
// the call's state as the sandbox's control API reports it.
"use strict";
const ACK_WAIT_MS = 3000;
const FOLLOW_MS = 30000;
const acks = new Map();  // callId -> ms from the message to its ack
const userSelect = document.getElementById("user");
const prospectsBody = document.getElementById("prospects");
const callsList = document.getElementById("calls");

async function control(method, path, body) {
  const response = await fetch("/_control" + path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(JSON.stringify(answer));
  return answer;
}

function element(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
  return node;
}

function telUri(number, ext, callId) {
  const digits = number.replace(/[^0-9+*#().-]/g, "");
  return `tel:${digits}${ext ? `;ext=${ext}` : ""};source=outreach;call-id=${callId}`;
}

// Outreach's message, exactly as its guide describes it.
function dialMessage(call, phone) {
  const message = { type: "outreach-external-dial-init", source: "outreach", callId: call.id, phoneNumber: phone.number };
  if (phone.extension) message.ext = phone.extension;
  return message;
}

window.addEventListener("message", (event) => {
  if (event.origin !== window.location.origin) return;
  const data = event.data;
  if (!data || data.type !== "outreach-external-dial-ack" || acks.has(data.callId)) return;
  const sent = Number(document.querySelector(`[data-call="${CSS.escape(String(data.callId))}"]`)?.dataset.sentAt);
  acks.set(data.callId, Math.round(performance.now() - sent));
});

async function loadUsers() {
  const { users } = await control("GET", "/users");
  const wanted = new URLSearchParams(window.location.search).get("user") || localStorage.getItem("dialer-user");
  userSelect.replaceChildren(...users.map((u) => element("option", `${u.email} (${u.firstName} ${u.lastName})`.trim(), { value: u.id })));
  if (wanted && users.some((u) => String(u.id) === wanted)) userSelect.value = wanted;
  await loadProspects();
}

async function loadProspects() {
  localStorage.setItem("dialer-user", userSelect.value);
  const { users } = await control("GET", "/users");
  const user = users.find((u) => String(u.id) === userSelect.value);
  prospectsBody.replaceChildren();
  if (!user) return;
  const { prospects } = await control("GET", `/prospects?orgGuid=${encodeURIComponent(user.orgGuid)}`);
  for (const prospect of prospects) {
    for (const phone of prospect.phoneNumbers) {
      const row = element("tr");
      row.append(
        element("td", `${prospect.firstName} ${prospect.lastName}`.trim()),
        element("td", phone.number + (phone.extension ? ` ext. ${phone.extension}` : "")),
      );
      const button = element("button", "Call", { type: "button" });
      button.addEventListener("click", () => call(user, prospect, phone));
      const cell = element("td");
      cell.append(button);
      row.append(cell);
      prospectsBody.append(row);
    }
  }
  if (!prospects.length) prospectsBody.append(element("tr", "No prospects in this user's org yet: add one below."));
}

async function call(user, prospect, phone) {
  const view = await control("POST", "/calls", { userId: user.id, to: phone.number, prospectId: prospect.id });
  const message = dialMessage(view, phone);
  const item = element("li", "", { "data-call": view.id });
  const ack = element("span", "waiting for the extension's ack…", { class: "ack" });
  const state = element("span", "", { class: "state" });
  const again = element("button", "Send the message again", { type: "button" });
  const send = () => {
    item.dataset.sentAt = String(performance.now());
    acks.delete(view.id);
    window.postMessage(message, "*");
  };
  again.addEventListener("click", send);
  item.append(
    element("strong", `Call ${view.id}`), ` to ${phone.number} launched ${view.launch.launchedAt}. Ack: `, ack,
    ". Outreach has: ", state, ". ", element("a", "tel: link", { href: telUri(phone.number, phone.extension, view.id), class: "tel" }), " ", again,
  );
  callsList.prepend(item);
  send();
  follow(view.id, ack, state, Number(item.dataset.sentAt));
}

async function follow(callId, ack, state, sentAt) {
  const started = performance.now();
  while (performance.now() - started < FOLLOW_MS) {
    if (acks.has(callId)) {
      ack.textContent = `received after ${acks.get(callId)} ms`;
      ack.className = "ack ok";
    } else if (performance.now() - sentAt > ACK_WAIT_MS) {
      ack.textContent = "none: is the Callbridge extension installed and allowed on this page?";
      ack.className = "ack late";
    }
    const view = await control("GET", `/calls/${encodeURIComponent(callId)}`);
    const launch = view.launch || {};
    const within = launch.initiatedWithin5s;
    state.textContent = (view.call.attributes.state || "nothing yet") +
      (launch.initiatedDelaySeconds != null ? ` (initiated ${launch.initiatedDelaySeconds.toFixed(2)} s after the launch)` : "") +
      (within === false ? ", initiated NOT within 5 s" : within ? ", initiated within 5 s" : "");
    state.className = within === false ? "state late" : within ? "state ok" : "state";
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

document.getElementById("add-prospect").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const { users } = await control("GET", "/users");
  const user = users.find((u) => String(u.id) === userSelect.value);
  if (!user) return;
  await control("POST", "/prospects", {
    orgGuid: user.orgGuid,
    firstName: form.get("firstName"),
    lastName: form.get("lastName"),
    phoneNumbers: [{ number: form.get("number"), phoneType: "work", extension: form.get("extension") || null }],
  });
  event.target.reset();
  await loadProspects();
});

userSelect.addEventListener("change", loadProspects);
loadUsers();
