// The enterprise admin console: users and teams of the admin's own enterprise.
"use strict";
(async () => {
  const me = await conclave.start();
  const base = "/api/v1/enterprises/" + me.enterprise.id;

  async function loadUsers() {
    const users = await conclave.api("GET", base + "/users");
    const body = document.querySelector("#users tbody");
    body.replaceChildren();
    for (const u of users) {
      const tr = document.createElement("tr");
      conclave.cell(tr, u.name);
      conclave.cell(tr, u.email);
      conclave.cell(tr, u.role);
      conclave.cell(tr, u.disabled ? "disabled" : "active");
      const td = conclave.cell(tr, "");
      if (u.id !== me.user.id) {
        const b = document.createElement("button");
        b.className = "secondary";
        b.textContent = u.disabled ? "Enable" : "Disable";
        b.addEventListener("click", () => act(async () => {
          await conclave.api("PATCH", base + "/users/" + u.id, { disabled: !u.disabled });
          await loadUsers();
          return (u.disabled ? "Enabled " : "Disabled ") + u.name + ".";
        }));
        td.appendChild(b);
      }
      body.appendChild(tr);
    }
  }

  async function loadTeams() {
    const teams = await conclave.api("GET", base + "/teams");
    const body = document.querySelector("#teams tbody");
    body.replaceChildren();
    for (const t of teams) {
      const tr = document.createElement("tr");
      conclave.cell(tr, t.name);
      conclave.cell(tr, t.archived ? "archived" : "active");
      conclave.cell(tr, conclave.when(t.created_at));
      const td = conclave.cell(tr, "");
      const b = document.createElement("button");
      b.className = "secondary";
      b.textContent = t.archived ? "Restore" : "Archive";
      b.addEventListener("click", () => act(async () => {
        await conclave.api("PATCH", base + "/teams/" + t.id, { archived: !t.archived });
        await loadTeams();
        return (t.archived ? "Restored " : "Archived ") + t.name + ".";
      }));
      td.appendChild(b);
      body.appendChild(tr);
    }
  }

  async function act(fn) {
    try { conclave.status(await fn()); } catch (e) { conclave.status(e.message, true); }
  }

  document.getElementById("new-user").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { email: f.get("email"), name: f.get("name"), role: f.get("role") };
    if (f.get("password")) body.password = f.get("password");
    act(async () => {
      const u = await conclave.api("POST", base + "/users", body);
      ev.target.reset();
      await loadUsers();
      return "Created " + u.name + ".";
    });
  });

  document.getElementById("new-team").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    act(async () => {
      const t = await conclave.api("POST", base + "/teams", { name: f.get("name") });
      ev.target.reset();
      await loadTeams();
      return "Created team " + t.name + ".";
    });
  });

  await Promise.all([loadUsers(), loadTeams()]);
})().catch((e) => conclave.status(e.message, true));
