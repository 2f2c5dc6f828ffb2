// Sign-in without losing what was typed. The form still works without script; with it, the form
// posts in the background, and when the server asks for more (a one-time code, a new password,
// an authenticator enrolment) its answer replaces the page's content while every field keeps
// what the person already entered.
"use strict";
document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement) || form.id !== "signin") return;
  ev.preventDefault();
  const typed = new Map([...form.elements].filter((el) => el.name).map((el) => [el.name, el.value]));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  let res;
  try {
    res = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    });
  } catch {
    button.disabled = false;
    form.submit();
    return;
  }
  if (res.redirected) {
    // The person just proved who they are: a PIN set to lock "every time" does not ask again on
    // the page this opens.
    try { sessionStorage.setItem("conclave-unlocked-at", String(Date.now())); } catch { /* private mode */ }
    location.assign(res.url);
    return;
  }
  const next = new DOMParser().parseFromString(await res.text(), "text/html");
  const main = next.querySelector("main");
  if (!main) {
    location.reload();
    return;
  }
  document.title = next.title;
  document.querySelector("main").replaceChildren(...[...main.childNodes].map((n) => document.importNode(n, true)));
  const again = document.getElementById("signin");
  if (!again) return; // a page of its own, such as the recovery codes
  for (const el of again.elements) {
    if (el.name && !el.value && typed.has(el.name)) el.value = typed.get(el.name);
  }
  const empty = [...again.elements].find((el) => el.tagName === "INPUT" && !el.value && el.id !== "otp" || (el.id === "otp" && !el.value && /code/i.test(document.querySelector("[role=alert]")?.textContent || "")));
  (empty || again.querySelector("#otp") || again.querySelector("button")).focus();
});
