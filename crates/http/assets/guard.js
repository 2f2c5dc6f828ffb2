// The two guards the server puts on a session, as the person meets them: authenticating again
// when an admin session lapsed (the request is then repeated, so a form keeps what was typed),
// and the lock screen when the session is locked behind a PIN (or one must be set first).
import { h } from "/assets/api.js";

let asking = null;

/// Asks for the password (and a one-time code when the account has them) and elevates the
/// session. Resolves true once elevated, false if the person cancels.
export function reauthenticate(post, email) {
  asking ??= new Promise((resolve) => {
    const password = h("input", { id: "reauth-password", type: "password", autocomplete: "current-password", required: true, maxlength: "1024" });
    const code = h("input", { id: "reauth-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "32" });
    const codeField = h("div", { class: "field", hidden: true }, h("label", { for: "reauth-code" }, "One-time code"), code);
    const error = h("p", { class: "error", role: "alert" });
    // An account that signs in only through the organisation's provider confirms there: the
    // provider is asked to authenticate again, and the browser comes back to the console.
    const sso = h("form", { method: "post", action: "/sso/start", hidden: true },
      h("input", { type: "hidden", name: "email", value: email || "" }),
      h("input", { type: "hidden", name: "fresh", value: "1" }),
      h("button", { type: "submit", class: "secondary" }, "Confirm with your organisation's sign-in"));
    const form = h("form", { class: "form" },
      h("h2", { id: "reauth-heading" }, "Confirm it is you"),
      h("p", {}, "Admin work pauses after a while without it. Enter your password to carry on; what you were doing is kept."),
      h("div", { class: "field" }, h("label", { for: "reauth-password" }, "Password"), password),
      codeField, error,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", value: "cancel", onclick: () => dialog.close("cancel") }, "Cancel"),
        h("button", { type: "submit" }, "Continue")));
    const dialog = h("dialog", { class: "confirm", id: "reauth", "aria-labelledby": "reauth-heading" }, form, sso);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        await post({ password: password.value, code: codeField.hidden ? undefined : code.value });
        dialog.close("done");
      } catch (e) {
        if (e.field === "code") { codeField.hidden = false; code.focus(); }
        else if (/single sign-on/.test(e.message)) sso.hidden = false;
        else password.select();
        error.textContent = e.message;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      asking = null;
      resolve(dialog.returnValue === "done");
    }, { once: true });
    document.body.append(dialog);
    dialog.showModal();
    password.focus();
  });
  return asking;
}

let locked = null;

/// Covers the page with the lock screen and removes what it showed; after the PIN (or a first
/// PIN, when `pinSet` is false) the page loads again. Never resolves: the page is replaced.
export function lockScreen({ pinSet, me, post, signOut }) {
  locked ??= new Promise(() => {
    // What the page showed leaves the document, not only the screen.
    for (const el of [...document.body.children]) el.remove();
    const error = h("p", { class: "error", role: "alert" });
    const who = me ? h("p", { class: "muted" }, me.user.name + " · " + me.enterprise.name) : null;
    let form;
    if (pinSet) {
      const pin = h("input", { id: "unlock-pin", type: "password", inputmode: "numeric", autocomplete: "off", required: true, minlength: "4", maxlength: "12", pattern: "[0-9]{4,12}" });
      form = h("form", { class: "form" },
        h("div", { class: "field" }, h("label", { for: "unlock-pin" }, "PIN"), pin), error,
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Unlock")));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        try {
          await post("/api/v1/sessions/current/unlock", "POST", { pin: pin.value });
          reload();
        } catch (e) { error.textContent = e.message; pin.value = ""; pin.focus(); }
      });
      setTimeout(() => pin.focus());
    } else {
      const max = me ? me.pin.max_lock_after_minutes : 60;
      const pin = h("input", { id: "new-pin", type: "password", inputmode: "numeric", autocomplete: "off", required: true, minlength: "4", maxlength: "12", pattern: "[0-9]{4,12}" });
      const again = h("input", { id: "new-pin-again", type: "password", inputmode: "numeric", autocomplete: "off", required: true, minlength: "4", maxlength: "12" });
      const delay = h("select", { id: "new-pin-delay" }, ...delays(max).map(([v, text]) => h("option", { value: v }, text)));
      delay.value = String(Math.min(5, max));
      form = h("form", { class: "form" },
        h("p", {}, "Your organisation asks everyone to protect Conclave with a PIN of 4 to 12 digits."),
        h("div", { class: "field" }, h("label", { for: "new-pin" }, "New PIN"), pin),
        h("div", { class: "field" }, h("label", { for: "new-pin-again" }, "The same PIN again"), again),
        h("div", { class: "field" }, h("label", { for: "new-pin-delay" }, "Lock after"), delay), error,
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Set PIN")));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        if (pin.value !== again.value) { error.textContent = "The two PINs differ."; return; }
        try {
          await post("/api/v1/me/pin", "PUT", { pin: pin.value, lock_after_minutes: Number(delay.value) });
          reload();
        } catch (e) { error.textContent = e.message; }
      });
      setTimeout(() => pin.focus());
    }
    document.body.append(h("main", { class: "lockscreen" },
      h("div", { class: "card" },
        h("h1", {}, pinSet ? "Conclave is locked" : "Set a PIN to go on"), who, form,
        h("p", {}, h("button", { type: "button", class: "link", onclick: signOut }, "Sign out")))));
    document.title = "Locked · Conclave";
  });
  return locked;
}

/// The lock delays a person may pick, up to what their organisation allows.
export function delays(max) {
  return [[0, "Every time the page is left"], [1, "1 minute"], [5, "5 minutes"], [15, "15 minutes"], [30, "30 minutes"], [60, "1 hour"]]
    .filter(([v]) => v <= max);
}

const UNLOCKED = "conclave-unlocked-at";

function reload() {
  // A page that locks "every time" must not lock again on the load that follows an unlock.
  try { sessionStorage.setItem(UNLOCKED, String(Date.now())); } catch { /* private mode */ }
  location.reload();
}

/// Whether this load follows an unlock by a few seconds.
export function justUnlocked() {
  try {
    const at = Number(sessionStorage.getItem(UNLOCKED));
    sessionStorage.removeItem(UNLOCKED);
    return at > 0 && Date.now() - at < 10000;
  } catch { return false; }
}
