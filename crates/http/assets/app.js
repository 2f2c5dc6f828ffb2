// The signed-in home page: conversations (chat.js) and your devices.
"use strict";
(async () => {
  const me = await conclave.start();
  if (me.user.role === "enterprise-admin") document.getElementById("admin-link").hidden = false;
  if (me.user.role === "security") document.getElementById("desk-link").hidden = false;

  // The password form's live checklist mirrors the server's rules; the server checks them all
  // again (and strength, which needs its dictionaries) and names each rule that fails.
  async function security(me) {
    const $ = (id) => document.getElementById(id);
    const view = await conclave.api("GET", "/api/v1/enterprises/" + me.enterprise.id + "/password-policy");
    const policy = view.policy;
    const personal = [me.user.name, me.user.email, me.enterprise.name].join(" ").toLowerCase()
      .split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 3);
    const classes = {
      lowercase: (c) => c !== c.toUpperCase(), uppercase: (c) => c !== c.toLowerCase(),
      digit: (c) => /\p{N}/u.test(c), symbol: (c) => !/[\p{L}\p{N}\s]/u.test(c),
    };
    function met(rule, pw) {
      if (rule === "min-length") return [...pw].length >= policy.min_length;
      if (rule.startsWith("class:")) return [...pw].some(classes[rule.slice(6)]);
      if (rule === "personal") {
        const lower = pw.toLowerCase();
        return !personal.concat(policy.deny_words.map((w) => w.toLowerCase())).some((w) => lower.includes(w));
      }
      return null; // decided by the server
    }
    function render() {
      const pw = $("new-password").value;
      const ul = $("password-rules");
      ul.replaceChildren();
      for (const [rule, text] of view.checklist) {
        const li = document.createElement("li");
        const ok = pw ? met(rule, pw) : null;
        li.dataset.rule = rule;
        li.className = ok === null ? "pending" : ok ? "met" : "missing";
        li.textContent = (ok === null ? "○ " : ok ? "✓ " : "✗ ") + text + (ok === null && pw ? " (checked when you save)" : "");
        ul.appendChild(li);
      }
    }
    $("new-password").addEventListener("input", render);
    render();
    $("password-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await conclave.api("POST", "/api/v1/me/password", { current_password: $("current-password").value, new_password: $("new-password").value });
        ev.target.reset();
        render();
        conclave.status("Password changed.");
      } catch (e) { conclave.status(e.message, true); }
    });
    async function totp() {
      const st = await conclave.api("GET", "/api/v1/me/totp");
      $("totp-state").textContent = st.enabled
        ? "On. " + st.recovery_codes_left + " recovery codes left." + (st.required ? " Your organisation requires them." : "")
        : "Off." + (st.required ? " Your organisation requires them." : "");
      $("totp-start").hidden = st.enabled;
      $("totp-disable").hidden = !st.enabled || st.required;
    }
    $("totp-start").addEventListener("click", async () => {
      const e = await conclave.api("POST", "/api/v1/me/totp");
      // The SVG is drawn by our own server from the otpauth URI; it holds no script.
      $("totp-qr").replaceChildren(new DOMParser().parseFromString(e.qr_svg, "image/svg+xml").documentElement);
      $("totp-key").textContent = e.secret;
      $("totp-enrol").hidden = false;
    });
    $("totp-confirm").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const r = await conclave.api("POST", "/api/v1/me/totp/confirm", { code: $("totp-code").value });
        $("totp-enrol").hidden = true;
        const ol = $("totp-codes");
        ol.replaceChildren(...r.recovery_codes.map((c) => { const li = document.createElement("li"); li.textContent = c; return li; }));
        $("totp-recovery").hidden = false;
        await totp();
      } catch (e) { conclave.status(e.message, true); }
    });
    $("totp-disable").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await conclave.api("DELETE", "/api/v1/me/totp", { password: $("totp-disable-password").value });
        ev.target.reset();
        $("totp-recovery").hidden = true;
        await totp();
      } catch (e) { conclave.status(e.message, true); }
    });
    await totp();
  }

  async function loadDevices() {
    const devices = await conclave.api("GET", "/api/v1/me/devices");
    const body = document.querySelector("#devices tbody");
    body.replaceChildren();
    for (const d of devices) {
      const tr = document.createElement("tr");
      conclave.cell(tr, d.name + (d.current ? " (this device)" : ""));
      conclave.cell(tr, d.kind);
      conclave.cell(tr, d.ip);
      conclave.cell(tr, conclave.when(d.created_at));
      conclave.cell(tr, conclave.when(d.last_seen_at));
      const td = conclave.cell(tr, "");
      if (!d.current) {
        const b = document.createElement("button");
        b.className = "secondary";
        b.textContent = "Sign out device";
        b.addEventListener("click", async () => {
          await conclave.api("DELETE", "/api/v1/me/devices/" + d.session_id);
          conclave.status("That device is signed out.");
          loadDevices();
        });
        td.appendChild(b);
      }
      body.appendChild(tr);
    }
  }
  await loadDevices();
  await security(me);
  await chat.start(me);
})().catch((e) => conclave.status(e.message, true));
