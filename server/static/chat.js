// The demo chat page: join with a name, send, see the room live, filter by
// author. It speaks NanoRPC over the WebSocket endpoint through the browser
// client the server serves as ./nanorpc.js:
//   REQUEST   /room/join      data: ChatJoin { name }
//   REQUEST   /room/send      data: ChatMessage { text } (the server fills in
//                             `from` with the joined name)
//   SUBSCRIBE /room/messages  filter: ChatFilter { from } or empty for all;
//                             updates: ChatMessage { from, text }
// Every URL is relative to the page, so the page also works when mounted
// under a prefix.

import {
  decodeChatMessage,
  encodeChatFilter,
  encodeChatJoin,
  encodeChatMessage,
} from "./chat_proto.js";

/** Messages kept on screen; older ones are dropped. */
const MAX_MESSAGES = 500;
/** Consecutive messages from one author within this many ms are grouped. */
const GROUP_WITHIN = 2 * 60 * 1000;
const PING_EVERY = 15_000;

const $ = (id) => document.getElementById(id);
const view = {
  status: $("status"),
  statusText: $("status-text"),
  joinView: $("join-view"),
  joinForm: $("join-form"),
  joinButton: $("join-button"),
  joinError: $("join-error"),
  name: $("name"),
  roomView: $("room-view"),
  me: $("me"),
  filter: $("filter"),
  clearFilter: $("clear-filter"),
  authors: $("authors"),
  messages: $("messages"),
  empty: $("empty"),
  sendForm: $("send-form"),
  sendButton: $("send-button"),
  sendError: $("send-error"),
  text: $("text"),
};

const endpoint = new URL("nanorpc", location.href);
endpoint.protocol = location.protocol === "https:" ? "wss:" : "ws:";

let client;
let name = "";
let filter = "";
let generation = 0;
let current;
/** Settles once the session knows our name again after a reconnection. */
let rejoined = Promise.resolve();
let releaseSends;
const authors = new Set();
const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
});

// ---- connection --------------------------------------------------------

const LABELS = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Disconnected",
  failed: "Client failed to load",
};

function setStatus(state, detail = "") {
  view.status.dataset.state = state;
  view.statusText.textContent = LABELS[state] ?? state;
  view.status.title = detail;
}

/** Maps the client's `state` onto the indicator's, whatever its spelling. */
function stateOf(value) {
  const state = String(value ?? "").toLowerCase();
  if (state.startsWith("open") || state === "connected") return "open";
  if (state.startsWith("reconnect") || state === "disconnected") {
    return "reconnecting";
  }
  if (state.startsWith("clos")) return "closed";
  return "connecting";
}

function isOk(response) {
  const status = response?.status;
  return status === 1 || status === "OK" || status === "STATUS_OK" ||
    status === "ok";
}

function failure(response, what) {
  const why = response?.message || `status ${response?.status}`;
  return new Error(`${what}: ${why}`);
}

async function start() {
  let connect;
  try {
    ({ connect } = await import("./nanorpc.js"));
  } catch (error) {
    setStatus("failed", String(error));
    showError(
      view.joinError,
      "The chat client could not load; reload the page.",
    );
    return;
  }
  setStatus("connecting");
  // The client reconnects by itself once connected; until then, retry here.
  for (let delay = 500;; delay = Math.min(delay * 2, 10_000)) {
    try {
      client = await connect(endpoint.href);
      break;
    } catch (error) {
      setStatus("reconnecting", String(error?.message ?? error));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  client.addEventListener("connect", () => setStatus("open"));
  client.addEventListener("disconnect", () => {
    setStatus("reconnecting");
    // A client closed for good fails every send: nothing to hold them for.
    if (client.state !== "closed") holdSends();
  });
  client.addEventListener("reconnect", () => {
    setStatus("open");
    // A new connection is a new session: it does not know our name yet, so
    // messages wait for the join (else the room would show them as
    // "anonymous").
    const release = releaseSends;
    releaseSends = undefined;
    (name ? join(name) : Promise.resolve()).catch(() => {}).finally(release);
  });
  setStatus(stateOf(client.state ?? "open"));
  follow();
  setInterval(measure, PING_EVERY);
  addEventListener("pagehide", () => {
    client.close();
    releaseSends?.();
  });
}

async function measure() {
  if (view.status.dataset.state !== "open") return;
  const started = performance.now();
  try {
    await client.ping();
    const ms = Math.round(performance.now() - started);
    view.status.title = `Round trip ${ms} ms`;
  } catch {
    // The connection events say what happened.
  }
}

// ---- joining and sending -------------------------------------------------

/** Holds messages from now until the next reconnection has rejoined. */
function holdSends() {
  if (releaseSends) return;
  rejoined = new Promise((resolve) => releaseSends = resolve);
}

async function join(who) {
  const response = await client.request(
    "/room/join",
    encodeChatJoin({ name: who }),
  );
  if (!isOk(response)) throw failure(response, "Could not join");
}

view.joinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const who = view.name.value.trim();
  if (!who) return;
  if (!client) {
    showError(view.joinError, "Still connecting; try again in a moment.");
    return;
  }
  view.joinButton.disabled = true;
  hideError(view.joinError);
  try {
    await join(who);
    name = who;
    localStorage.setItem("nanorpc-chat-name", who);
    view.me.textContent = who;
    view.joinView.hidden = true;
    view.roomView.hidden = false;
    view.text.focus();
  } catch (error) {
    showError(
      view.joinError,
      `${error.message}. Check the connection and try again.`,
    );
  } finally {
    view.joinButton.disabled = false;
  }
});

view.sendForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = view.text.value.trim();
  if (!text) return;
  view.sendButton.disabled = true;
  hideError(view.sendError);
  try {
    await rejoined;
    const response = await client.request(
      "/room/send",
      encodeChatMessage({ text }),
    );
    if (!isOk(response)) throw failure(response, "Not sent");
    view.text.value = "";
  } catch (error) {
    showError(
      view.sendError,
      `${error.message}. Your message is still in the box; send it again once connected.`,
    );
  } finally {
    view.sendButton.disabled = false;
    view.text.focus();
  }
});

// ---- the room ------------------------------------------------------------

/** (Re)subscribes with the current filter; the previous loop stops. */
async function follow() {
  const mine = ++generation;
  // Not awaited: a generator's return() waits for its pending next().
  current?.return?.()?.catch?.(() => {});
  current = undefined;
  const data = filter ? encodeChatFilter({ from: filter }) : undefined;
  try {
    const updates = await client.subscribe("/room/messages", data);
    const iterator = updates[Symbol.asyncIterator]();
    if (mine !== generation) {
      iterator.return?.()?.catch?.(() => {});
      return;
    }
    current = iterator;
    for (;;) {
      const { done, value } = await iterator.next();
      if (done || mine !== generation) return;
      show(decodeChatMessage(value));
    }
  } catch (error) {
    if (mine === generation) {
      showError(view.sendError, `Live updates stopped: ${error.message}`);
    }
  }
}

function show(message) {
  const at = new Date();
  const list = view.messages;
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const last = list.lastElementChild;
  const grouped = last?.dataset.from === message.from &&
    at - Number(last.dataset.at) < GROUP_WITHIN;

  const item = document.createElement("li");
  item.className = "message";
  item.dataset.from = message.from;
  item.dataset.at = String(at.getTime());
  item.style.setProperty("--hue", String(hue(message.from)));
  if (message.from === name) item.classList.add("mine");
  if (grouped) item.classList.add("grouped");
  if (filter && message.from !== filter) item.hidden = true;

  const avatar = element("span", "avatar", initials(message.from));
  avatar.setAttribute("aria-hidden", "true");
  const author = element("button", "author", message.from || "anonymous");
  author.type = "button";
  author.title = `Show only messages from ${message.from}`;
  author.addEventListener("click", () => setFilter(message.from));
  const time = element("time", "time", clock.format(at));
  time.dateTime = at.toISOString();
  time.title = at.toLocaleString();
  const meta = element("div", "meta");
  meta.append(author, time);
  const body = element("div", "body");
  body.append(meta, element("p", "text", message.text));
  item.append(avatar, body);
  list.append(item);

  while (list.childElementCount > MAX_MESSAGES) list.firstElementChild.remove();
  view.empty.hidden = true;
  if (!authors.has(message.from)) {
    authors.add(message.from);
    view.authors.append(new Option(message.from));
  }
  if (stick || message.from === name) item.scrollIntoView({ block: "end" });
}

function setFilter(who) {
  who = who.trim();
  if (who === filter) return;
  filter = who;
  view.filter.value = who;
  view.clearFilter.hidden = !who;
  for (const item of view.messages.children) {
    item.hidden = Boolean(who) && item.dataset.from !== who;
  }
  follow();
}

let typing;
view.filter.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => setFilter(view.filter.value), 400);
});
view.filter.addEventListener("change", () => setFilter(view.filter.value));
view.clearFilter.addEventListener("click", () => setFilter(""));

// ---- helpers -------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function initials(who) {
  return (who || "?").trim().slice(0, 1).toUpperCase();
}

function hue(who) {
  let h = 0x811c9dc5;
  for (let i = 0; i < who.length; i++) {
    h = Math.imul(h ^ who.charCodeAt(i), 0x01000193);
  }
  return (h >>> 0) % 360;
}

function showError(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function hideError(node) {
  node.hidden = true;
}

view.name.value = localStorage.getItem("nanorpc-chat-name") ?? "";
start().catch((error) => {
  setStatus("closed", String(error));
  showError(
    view.joinError,
    `Could not connect: ${error.message}. Reload to try again.`,
  );
});
