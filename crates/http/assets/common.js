// Shared helpers for the signed-in pages: API calls with the CSRF header, session bootstrap.
"use strict";
const conclave = (() => {
  let csrf = "";
  let me = null;
  let leaving = false;

  // Goes to the sign-in page once, whoever asks first (the sign-out button, a session-ended
  // event, a 401): a second navigation would abort the first.
  let signingOut = false;

  // `why` tells the sign-in page what to say: "ended" when the server ended the session. Our
  // own sign-out also ends the session, and its live event may arrive before the answer.
  function leave(why = "ended") {
    if (leaving) return;
    leaving = true;
    location.assign("/signin?why=" + (signingOut ? "signed-out" : why));
  }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) { leave(); throw new Error("signed out"); }
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error((data && (data.detail || data.title)) || ("HTTP " + res.status));
    return data;
  }

  // Once per page, whoever asks first; later callers share the same answer.
  let started = null;
  function start() {
    started ??= begin();
    return started;
  }

  async function begin() {
    me = await api("GET", "/api/v1/me");
    csrf = me.csrf_token;
    document.getElementById("whoami").textContent = me.user.name + " · " + me.enterprise.name;
    document.getElementById("signout").addEventListener("click", async () => {
      signingOut = true;
      await api("DELETE", "/api/v1/sessions/current");
      leave("signed-out");
    });
    return me;
  }

  function status(text, bad) {
    const el = document.getElementById("status");
    el.textContent = text;
    el.className = bad ? "error" : "muted";
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function when(iso) { return new Date(iso).toLocaleString(); }

  return { api, start, status, cell, when, leave, csrf: () => csrf };
})();
