// What every signed-in page shares: API calls with the CSRF header and problem+json errors, the
// session bootstrap, the sign-out button, one status line and one confirmation dialog. A lapsed
// admin session asks for the password and repeats the request; a locked one shows the lock screen.
import { reauthenticate, lockScreen, justUnlocked } from "/assets/guard.js";

let csrf = "";
let me = null;

// When the person last used this page (a key, a click, a touch, a scroll). Sent with every
// request: under a PIN lock the server counts only the person's use as activity, not the page's
// own background requests. Loading the page counts as use.
let lastInput = Date.now();
let lastReported = 0;
for (const kind of ["keydown", "pointerdown", "wheel", "touchstart"]) {
  window.addEventListener(kind, () => { lastInput = Date.now(); }, { capture: true, passive: true });
}

/// What to stop when the page locks (the live connection registers itself here).
export const onLock = [];
let started = null;
let leaving = false;
let signingOut = false;

/// An API refusal: `detail` in our words, plus the problem's `type`, `field` and `status`.
export class Problem extends Error {
  constructor(status, doc) {
    super((doc && (doc.detail || doc.title)) || "The server could not do that (HTTP " + status + ").");
    this.status = status;
    this.type = doc && doc.type;
    this.field = doc && doc.field;
  }
}

/// Goes to the sign-in page once, whoever asks first (the sign-out button, a session-ended event,
/// a 401). `why` tells that page what to say; our own sign-out also ends the session, and its
/// live event may arrive before the answer.
export function leave(why = "ended") {
  if (leaving) return;
  leaving = true;
  location.assign("/signin?why=" + (signingOut ? "signed-out" : why));
}

let wiping = false;

/// An administrator signed this device out and asked it to erase what it holds of Conclave:
/// stored data, caches and any service worker go, without asking; the server is told it is done
/// (with this session's own credentials), then the sign-in page opens.
export async function wipeDevice() {
  if (wiping) return;
  wiping = true;
  const quietly = async (step) => { try { await step(); } catch { /* erase what can be erased */ } };
  await quietly(() => localStorage.clear());
  await quietly(() => sessionStorage.clear());
  await quietly(async () => {
    for (const db of (await indexedDB.databases?.()) || []) if (db.name) indexedDB.deleteDatabase(db.name);
  });
  await quietly(async () => { for (const k of await caches.keys()) await caches.delete(k); });
  await quietly(async () => {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
  });
  await quietly(() => fetch("/api/v1/sessions/wipe-acknowledgement", {
    method: "POST", credentials: "same-origin", headers: csrf ? { "X-CSRF-Token": csrf } : {},
  }));
  leaving = false;
  leave("wiped");
}

export async function api(method, path, body, repeated = false) {
  const headers = { "Accept": "application/json", "X-Conclave-Input-At": String(lastInput) };
  lastReported = lastInput;
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    const doc = await res.clone().json().catch(() => null);
    if (doc && doc.type === "/problems/wipe-required") {
      await wipeDevice();
      throw new Problem(401, doc);
    }
    if (doc && doc.type === "/problems/reauthentication-required") {
      // The request was refused whole, so repeating it after the password is safe.
      const elevated = !repeated && await reauthenticate((b) => api("POST", "/api/v1/sessions/current/elevation", b), me && me.user.email);
      if (elevated) return api(method, path, body, true);
      throw new Problem(401, doc);
    }
    leave(started ? "ended" : "");
    throw new Problem(401, { detail: "You are signed out." });
  }
  if (res.status === 423) {
    const doc = await res.json().catch(() => null);
    return showLock(!(doc && doc.pin_set === false));
  }
  if (res.status === 204) { announce(method, path); return null; }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Problem(res.status, data);
  announce(method, path);
  return data;
}

/// Tells the page an API call succeeded (the admin console's countdown listens).
function announce(method, path) {
  window.dispatchEvent(new CustomEvent("conclave:api", { detail: { method, path } }));
}

function signOut() {
  signingOut = true;
  fetch("/api/v1/sessions/current", { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
    .catch(() => {}).finally(() => leave("signed-out"));
}

/// The lock screen (a first PIN to set when `pinSet` is false). Never resolves.
export function showLock(pinSet) {
  for (const stop of onLock.splice(0)) stop();
  return lockScreen({ pinSet, me, post: (path, method, b) => api(method, path, b), signOut });
}

/// Asks the server whether this session is locked and shows the lock screen if it is (a live
/// connection closed because the session locked).
export async function checkLock() {
  const now = await api("GET", "/api/v1/me");
  if (now.pin.locked) await showLock(now.pin.set);
}

/// Once per page, whoever asks first; later callers share the same answer.
export function start() {
  started ??= (async () => {
    me = await api("GET", "/api/v1/me");
    csrf = me.csrf_token;
    if (me.pin.locked) await showLock(me.pin.set);
    if (me.pin.set) {
      // Reading and scrolling make no request: say so now and then, so the lock keeps away
      // while the person is here.
      setInterval(() => {
        if (lastInput > lastReported) api("GET", "/api/v1/me/pin").catch(() => {});
      }, 20000);
    }
    if (me.pin.set && me.pin.lock_after_minutes === 0) {
      // "Every time": locked at each start (not the load right after an unlock) and whenever the
      // page is hidden; the server also locks it after half a minute without a request.
      if (!justUnlocked()) {
        await api("POST", "/api/v1/sessions/current/lock").catch(() => {});
        await showLock(true);
      }
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState !== "hidden") return;
        fetch("/api/v1/sessions/current/lock", { method: "POST", keepalive: true, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } }).catch(() => {});
        showLock(true);
      });
    }
    const who = document.getElementById("whoami");
    if (who) who.textContent = me.user.name + " · " + me.enterprise.name;
    for (const link of document.querySelectorAll("[data-needs-role]")) {
      link.hidden = !me.user.roles.includes(link.dataset.needsRole);
    }
    document.getElementById("signout")?.addEventListener("click", signOut);
    return me;
  })();
  return started;
}

export function csrfToken() {
  return csrf;
}

/// The page's status line: a polite announcement, or an alert for something that failed.
export function status(text, bad) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = text;
  el.className = text ? (bad ? "toast error" : "toast") : "";
  el.setAttribute("role", bad ? "alert" : "status");
  clearTimeout(status.timer);
  if (text && !bad) status.timer = setTimeout(() => { el.textContent = ""; el.className = ""; }, 5000);
}

/// Asks before something that cannot be undone. Resolves true when the person confirms.
export function confirmAction(question, action) {
  const dialog = document.getElementById("confirm");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(question));
  dialog.querySelector("[data-question]").textContent = question;
  const yes = dialog.querySelector("[data-yes]");
  yes.textContent = action;
  dialog.showModal();
  yes.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

export function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

/// A moment as people read it: "just now", "5 min ago", "14:02", "Yesterday 14:02", "3 Dec".
export function relative(iso, now = new Date()) {
  const t = new Date(iso);
  const seconds = (now - t) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
  const clock = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(t)) / 86400000);
  if (days === 0) return clock;
  if (days === 1) return "Yesterday " + clock;
  if (days < 7) return t.toLocaleDateString([], { weekday: "short" }) + " " + clock;
  return t.toLocaleDateString([], { day: "numeric", month: "short", year: t.getFullYear() === now.getFullYear() ? undefined : "numeric" });
}

/// The full moment, for a tooltip or a table.
export function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/// A <time> element: relative text, the full moment on hover and for assistive technology.
export function timeElement(iso) {
  const el = document.createElement("time");
  el.dateTime = iso;
  el.textContent = relative(iso);
  el.title = when(iso);
  return el;
}

/// Builds an element: h("button", { type: "button", class: "x", onclick: f }, "text", child).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/// Initials on a colour picked from the person's id: the same person always looks the same.
export function avatar(name, id) {
  const words = (name || "?").trim().split(/\s+/);
  const letters = (words[0][0] || "?") + (words.length > 1 ? words[words.length - 1][0] : "");
  let hash = 0;
  for (const c of id || name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return h("span", { class: "avatar hue-" + (hash % 8), "aria-hidden": "true" }, letters.toUpperCase());
}
