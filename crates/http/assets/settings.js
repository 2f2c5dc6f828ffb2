// Your settings: password (with the policy's checklist as you type), one-time codes, devices.
import { api, start, status, confirmAction, cell, when, h } from "/assets/api.js";
import { delays } from "/assets/guard.js";

const $ = (id) => document.getElementById(id);
const fail = (e) => status(e.message, true);

// The checklist mirrors the server's rules; the server checks them all again (and strength,
// which needs its dictionaries) and names each rule that fails.
async function password(me) {
  const view = await api("GET", "/api/v1/enterprises/" + me.enterprise.id + "/password-policy");
  const policy = view.policy;
  const personal = view.personal_words.concat(policy.deny_words.map((w) => w.toLowerCase()));
  const classes = {
    lowercase: (c) => c !== c.toUpperCase(), uppercase: (c) => c !== c.toLowerCase(),
    digit: (c) => /\p{N}/u.test(c), symbol: (c) => !/[\p{L}\p{N}\s]/u.test(c),
  };
  function met(rule, pw) {
    if (rule === "min-length") return [...pw].length >= policy.min_length;
    if (rule.startsWith("class:")) return [...pw].some(classes[rule.slice(6)]);
    if (rule === "personal") {
      const lower = pw.toLowerCase();
      return !personal.some((w) => w.length >= 3 && lower.includes(w));
    }
    return null; // decided by the server
  }
  function render() {
    const pw = $("new-password").value;
    $("password-rules").replaceChildren(...view.checklist.map(([rule, text]) => {
      const ok = pw ? met(rule, pw) : null;
      return h("li", { dataset: { rule }, class: ok === null ? "pending" : ok ? "met" : "missing" },
        h("span", { "aria-hidden": "true" }, ok === null ? "○ " : ok ? "✓ " : "✗ "),
        text + (ok === null && pw ? " (checked when you save)" : ""),
        h("span", { class: "visually-hidden" }, ok === null ? "" : ok ? " (met)" : " (not met)"));
    }));
  }
  $("new-password").addEventListener("input", render);
  render();
  $("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/api/v1/me/password", { current_password: $("current-password").value, new_password: $("new-password").value });
      ev.target.reset();
      render();
      status("Password changed. Your other devices were signed out.");
    } catch (e) { fail(e); }
  });
}

async function totp() {
  const st = await api("GET", "/api/v1/me/totp");
  $("totp-state").textContent = st.enabled
    ? "On. " + st.recovery_codes_left + " recovery codes left." + (st.required ? " Your organisation requires them." : "")
    : "Off." + (st.required ? " Your organisation requires them." : "");
  $("totp-start").hidden = st.enabled;
  $("totp-disable").hidden = !st.enabled || st.required;
}

function totpForms() {
  $("totp-start").addEventListener("click", async () => {
    try {
      const e = await api("POST", "/api/v1/me/totp");
      // The SVG is drawn by our own server from the otpauth URI; it holds no script.
      $("totp-qr").replaceChildren(new DOMParser().parseFromString(e.qr_svg, "image/svg+xml").documentElement);
      $("totp-key").textContent = e.secret;
      $("totp-enrol").hidden = false;
      $("totp-code").focus();
    } catch (e) { fail(e); }
  });
  $("totp-confirm").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/api/v1/me/totp/confirm", { code: $("totp-code").value });
      $("totp-enrol").hidden = true;
      $("totp-codes").replaceChildren(...r.recovery_codes.map((c) => h("li", {}, c)));
      $("totp-recovery").hidden = false;
      await totp();
    } catch (e) { fail(e); }
  });
  $("totp-disable").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!(await confirmAction("Turn one-time codes off? Signing in will need only your password.", "Turn off"))) return;
    try {
      await api("DELETE", "/api/v1/me/totp", { password: $("totp-disable-password").value });
      ev.target.reset();
      $("totp-recovery").hidden = true;
      await totp();
    } catch (e) { fail(e); }
  });
}

// The PIN lock: the server locks this person's sessions after the chosen time without use.
async function pin() {
  const view = await api("GET", "/api/v1/me/pin");
  const choices = delays(view.max_lock_after_minutes);
  const label = (m) => (choices.find(([v]) => v === m) || [m, m + " minutes"])[1].toLowerCase();
  $("pin-state").textContent = view.set
    ? "On: Conclave locks " + (view.lock_after_minutes === 0 ? "every time the page is left" : "after " + label(view.lock_after_minutes) + " without use") + "."
      + (view.required ? " Your organisation requires a PIN." : "")
    : "Off. With a PIN, Conclave locks after a time you choose and asks for it before showing anything."
      + (view.required ? " Your organisation requires one." : "");
  $("pin-delay").replaceChildren(...choices.map(([v, text]) => h("option", { value: v }, text)));
  $("pin-delay").value = String(view.set ? view.lock_after_minutes : Math.min(5, view.max_lock_after_minutes));
  $("current-pin-field").hidden = !view.set;
  $("current-pin").required = view.set;
  $("pin-save").textContent = view.set ? "Change PIN" : "Set PIN";
  $("pin-remove").hidden = !view.set || view.required;
}

function pinForms() {
  $("pin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { pin: $("new-pin").value, lock_after_minutes: Number($("pin-delay").value) };
    if (!$("current-pin-field").hidden) body.current_pin = $("current-pin").value;
    try {
      await api("PUT", "/api/v1/me/pin", body);
      ev.target.reset();
      status("PIN saved.");
      await pin();
    } catch (e) { fail(e); }
  });
  $("pin-remove").addEventListener("click", async () => {
    if (!$("current-pin").value) { status("Enter your current PIN to remove it.", true); $("current-pin").focus(); return; }
    if (!(await confirmAction("Remove your PIN? Conclave will no longer lock by itself.", "Remove PIN"))) return;
    try {
      await api("DELETE", "/api/v1/me/pin", { current_pin: $("current-pin").value });
      $("pin-form").reset();
      status("PIN removed.");
      await pin();
    } catch (e) { fail(e); }
  });
}

/// How a device's session was opened, as people say it.
function signedInWith(method) {
  return { "password": "Password", "password+code": "Password and code", "oidc": "Single sign-on", "saml": "Single sign-on" }[method] || method;
}

async function devices() {
  const list = await api("GET", "/api/v1/me/devices");
  $("devices").querySelector("tbody").replaceChildren(...list.map((d) => {
    const tr = h("tr");
    cell(tr, d.name + (d.current ? " (this device)" : ""));
    cell(tr, d.kind);
    cell(tr, signedInWith(d.sign_in_method));
    cell(tr, d.ip);
    cell(tr, when(d.created_at));
    cell(tr, when(d.last_seen_at));
    const td = cell(tr, "");
    if (!d.current) {
      td.append(h("button", {
        type: "button", class: "secondary small",
        onclick: async () => {
          if (!(await confirmAction("Sign out " + d.name + "? Its session ends at once.", "Sign out device"))) return;
          try {
            await api("DELETE", "/api/v1/me/devices/" + d.session_id);
            status("That device is signed out.");
            await devices();
          } catch (e) { fail(e); }
        },
      }, "Sign out device"));
    }
    return tr;
  }));
}

/// The local time as a datetime-local input wants it: "2026-12-04T09:30".
function localNow() {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

function incidentForm() {
  $("incident-reported").value = localNow();
  $("incident-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/api/v1/incidents", {
        details: $("incident-details").value,
        category: $("incident-category").value,
        occurred_at: $("incident-occurred").value,
        ended_at: $("incident-ended").value || null,
        reported_at: $("incident-reported").value,
        location: $("incident-location").value,
      });
      ev.target.reset();
      $("incident-reported").value = localNow();
      status("Sent. The security team has your report.");
    } catch (e) { fail(e); }
  });
}

(async () => {
  const me = await start();
  incidentForm();
  totpForms();
  pinForms();
  await devices();
  await pin();
  await password(me);
  await totp();
})().catch(fail);
