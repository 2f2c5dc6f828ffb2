// The signed-in home page: conversations (chat.js) and your devices.
"use strict";
(async () => {
  const me = await conclave.start();
  if (me.user.role === "enterprise-admin") document.getElementById("admin-link").hidden = false;

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
  await chat.start(me);
})().catch((e) => conclave.status(e.message, true));
