// The enterprise admin console: users and teams of the admin's own enterprise.
import * as conclave from "/assets/api.js";
import { delays } from "/assets/guard.js";
(async () => {
  const me = await conclave.start();
  const base = "/api/v1/enterprises/" + me.enterprise.id;
  const { h } = conclave;
  let users = [];

  function userRow(u) {
    const actions = h("td", { class: "row-actions" });
    const tr = h("tr", {}, h("td", {}, u.name), h("td", {}, u.email), h("td", {}, u.roles.join(", ")),
      h("td", {}, u.disabled ? "disabled" : "active"), actions);
    actions.append(h("button", { type: "button", class: "secondary small", onclick: () => showDevices(u, tr) }, "Devices"));
    if (!u.disabled) {
      const purpose = u.has_password ? "password-reset" : "invitation";
      actions.append(h("button", {
        type: "button", class: "secondary small",
        onclick: () => makeLink(u, tr, purpose).catch((e) => conclave.status(e.message, true)),
      }, u.has_password ? "Reset password" : "Invite"));
    }
    if (u.id !== me.user.id) {
      actions.append(h("button", {
        type: "button", class: "secondary small" + (u.disabled ? "" : " danger-text"),
        onclick: async () => {
          if (!u.disabled && !(await conclave.confirmAction("Disable " + u.name + "? They are signed out everywhere at once and cannot sign in until enabled again.", "Disable"))) return;
          act(async () => {
            await conclave.api("PATCH", base + "/users/" + u.id, { disabled: !u.disabled });
            await loadUsers();
            return (u.disabled ? "Enabled " : "Disabled ") + u.name + ".";
          });
        },
      }, u.disabled ? "Enable" : "Disable"));
    }
    return tr;
  }

  // A single-use link for someone to set their password, shown so the admin can pass it on.
  async function makeLink(u, tr, purpose) {
    const link = await conclave.api("POST", base + "/users/" + u.id + "/credential-links", { purpose });
    tr.nextElementSibling?.classList.contains("detail") && tr.nextElementSibling.remove();
    const field = h("input", { type: "text", readonly: true, value: link.url, class: "link-field", "aria-label": "Link for " + u.name });
    const copy = h("button", {
      type: "button", class: "secondary small",
      onclick: async () => { field.select(); await navigator.clipboard?.writeText(link.url).catch(() => {}); conclave.status("Link copied."); },
    }, "Copy");
    const what = purpose === "invitation" ? "Invitation" : "Password reset";
    const sent = link.mailed ? " It was mailed to " + u.email + "." : " No mail relay is set up: pass it on yourself.";
    tr.after(h("tr", { class: "detail" }, h("td", { colspan: "5" },
      h("p", {}, h("strong", {}, what + " link for " + u.name), " — works once, until " + conclave.when(link.expires_at) + "." + sent),
      h("p", { class: "inline-search" }, field, copy))));
    conclave.status(what + " link ready.");
  }

  async function showDevices(u, tr, keepOpen = false) {
    const open = tr.nextElementSibling;
    if (open && open.classList.contains("detail")) {
      open.remove();
      if (!keepOpen) return;
    }
    try {
      const devices = await conclave.api("GET", base + "/users/" + u.id + "/devices");
      const live = devices.filter((d) => !d.ended);
      const wipe = (d) => !d.wipe_requested_at ? null
        : d.wipe_acknowledged_at ? h("span", { class: "ok" }, "erased " + conclave.when(d.wipe_acknowledged_at))
          : h("span", { class: "muted" }, "wipe requested " + conclave.when(d.wipe_requested_at) + ", waiting for the device");
      const signOut = (d) => h("button", {
        type: "button", class: "secondary small danger-text",
        onclick: async () => {
          if (!(await conclave.confirmAction("Sign " + u.name + "'s " + d.name + " out? It erases what it holds of Conclave at once, or when it next comes online.", "Sign out"))) return;
          act(async () => {
            await conclave.api("DELETE", base + "/users/" + u.id + "/devices/" + d.session_id);
            await showDevices(u, tr, true);
            return "Signed out " + d.name + "; it has been told to erase what it holds.";
          });
        },
      }, "Sign out and erase");
      const list = devices.length === 0 ? h("p", { class: "muted" }, u.name + " is not signed in anywhere.")
        : h("ul", { class: "plain devices" }, devices.map((d) => h("li", {},
          h("span", {}, d.name + " · " + d.kind + " · " + d.sign_in_method + " · " + d.ip + " · " + (d.ended ? "signed out" : "last seen " + conclave.when(d.last_seen_at))),
          " ", d.ended ? wipe(d) : signOut(d))));
      const all = live.length > 1 ? h("button", {
        type: "button", class: "secondary small danger-text",
        onclick: async () => {
          if (!(await conclave.confirmAction("Sign " + u.name + " out on all " + live.length + " devices? Each erases what it holds of Conclave.", "Sign out everywhere"))) return;
          act(async () => {
            const r = await conclave.api("DELETE", base + "/users/" + u.id + "/devices");
            await showDevices(u, tr, true);
            return "Signed out " + r.ended + " devices of " + u.name + ".";
          });
        },
      }, "Sign out everywhere") : null;
      tr.after(h("tr", { class: "detail" }, h("td", { colspan: "5" }, h("strong", {}, "Devices of " + u.name), " ", all, list)));
    } catch (e) { conclave.status(e.message, true); }
  }

  function renderUsers() {
    const q = document.getElementById("user-search").value.trim().toLowerCase();
    const shown = users.filter((u) => !q || u.name.toLowerCase().includes(q) || u.email.toLowerCase().includes(q));
    document.querySelector("#users tbody").replaceChildren(...shown.map(userRow));
    document.getElementById("user-count").textContent = shown.length === users.length
      ? users.length + " people" : shown.length + " of " + users.length + " people";
  }

  async function loadUsers() {
    users = await conclave.api("GET", base + "/users");
    users.sort((a, b) => a.name.localeCompare(b.name));
    renderUsers();
  }

  // A team's members, with add and remove, in a row under the team.
  async function showMembers(t, tr) {
    const open = tr.nextElementSibling;
    if (open && open.classList.contains("detail")) { open.remove(); return; }
    const members = await conclave.api("GET", base + "/teams/" + t.id + "/members");
    const byId = new Map(users.map((u) => [u.id, u]));
    const inTeam = new Set(members.map((m) => m.user_id));
    const list = h("ul", { class: "plain team-members" }, members.length === 0 ? h("li", { class: "muted" }, "Nobody yet.") : members.map((m) => {
      const u = byId.get(m.user_id);
      return h("li", {}, (u ? u.name + " <" + u.email + ">" : m.user_id) + (m.is_admin ? " (team admin)" : ""), " ",
        h("button", {
          type: "button", class: "link",
          onclick: async () => {
            if (!(await conclave.confirmAction("Remove " + (u ? u.name : "this person") + " from " + t.name + "? They leave its channel too.", "Remove"))) return;
            act(async () => {
              await conclave.api("DELETE", base + "/teams/" + t.id + "/members/" + m.user_id);
              tr.nextElementSibling.remove();
              await showMembers(t, tr);
              return "Removed from " + t.name + ".";
            });
          },
        }, "Remove"));
    }));
    const select = h("select", { "aria-label": "Person to add to " + t.name, required: true },
      users.filter((u) => !inTeam.has(u.id) && !u.disabled).map((u) => h("option", { value: u.id }, u.name + " <" + u.email + ">")));
    const admin = h("input", { type: "checkbox", name: "is_admin" });
    const form = h("form", { class: "inline add-team-member" }, select, h("label", { class: "inline" }, admin, " team admin"), h("button", { type: "submit" }, "Add to team"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(async () => {
        await conclave.api("PUT", base + "/teams/" + t.id + "/members/" + select.value, { is_admin: admin.checked });
        tr.nextElementSibling.remove();
        await showMembers(t, tr);
        return "Added to " + t.name + ".";
      });
    });
    tr.after(h("tr", { class: "detail" }, h("td", { colspan: "4" }, h("strong", {}, "Members of " + t.name), list, select.options.length ? form : null)));
  }

  async function loadTeams() {
    const teams = await conclave.api("GET", base + "/teams");
    document.querySelector("#teams tbody").replaceChildren(...teams.map((t) => {
      const actions = h("td", { class: "row-actions" });
      const tr = h("tr", {}, h("td", {}, t.name), h("td", {}, t.archived ? "archived" : "active"), h("td", {}, conclave.when(t.created_at)), actions);
      actions.append(
        h("button", { type: "button", class: "secondary small", onclick: () => showMembers(t, tr).catch((e) => conclave.status(e.message, true)) }, "Members"),
        h("button", {
          type: "button", class: "secondary small",
          onclick: async () => {
            if (!t.archived && !(await conclave.confirmAction("Archive " + t.name + "? Its channel stays readable but nobody new can join.", "Archive"))) return;
            act(async () => {
              await conclave.api("PATCH", base + "/teams/" + t.id, { archived: !t.archived });
              await loadTeams();
              return (t.archived ? "Restored " : "Archived ") + t.name + ".";
            });
          },
        }, t.archived ? "Restore" : "Archive"));
      return tr;
    }));
  }

  async function loadAudit() {
    // An address with a "/" is a network (/24 or /64); the server says so if it is neither.
    const where = document.querySelector("#audit-filter [name=where]").value.trim();
    const filter = where ? "&" + (where.includes("/") ? "network=" : "ip=") + encodeURIComponent(where) : "";
    const events = await conclave.api("GET", base + "/audit?limit=50" + filter);
    const names = new Map(users.map((u) => ["user:" + u.id, u.name]));
    document.querySelector("#audit tbody").replaceChildren(...events.map((ev) => h("tr", {},
      h("td", {}, conclave.when(ev.at)), h("td", {}, names.get(ev.actor) || ev.actor), h("td", {}, ev.action), h("td", {}, ev.outcome),
      h("td", { class: "mono", title: ev.user_agent || "" }, ev.ip || ""), h("td", { class: "mono" }, ev.target || ""))));
  }

  async function act(fn) {
    try { conclave.status(await fn()); } catch (e) { conclave.status(e.message, true); }
  }

  document.getElementById("user-search").addEventListener("input", renderUsers);
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
  document.getElementById("audit-refresh").addEventListener("click", () => loadAudit().catch((e) => conclave.status(e.message, true)));
  document.getElementById("audit-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadAudit().catch((e) => conclave.status(e.message, true));
  });

  await loadUsers();
  await Promise.all([loadTeams(), loadAudit()]);
})().catch((e) => conclave.status(e.message, true));

// The enterprise's password and sign-in policy.
(async () => {
  const me = await conclave.start();
  const form = document.getElementById("policy");
  const path = "/api/v1/enterprises/" + me.enterprise.id + "/password-policy";
  const { policy } = await conclave.api("GET", path);
  form.min_length.value = policy.min_length;
  for (const box of form.querySelectorAll("[name=class]")) box.checked = policy.required_classes.includes(box.value);
  form.min_strength.value = policy.min_strength;
  form.deny_words.value = policy.deny_words.join("\n");
  form.history.value = policy.history;
  form.max_age_days.value = policy.max_age_days ?? "";
  form.lockout_threshold.value = policy.lockout_threshold;
  form.lockout_minutes.value = policy.lockout_minutes;
  form.require_second_factor.checked = policy.require_second_factor;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      min_length: Number(form.min_length.value),
      required_classes: [...form.querySelectorAll("[name=class]:checked")].map((b) => b.value),
      min_strength: Number(form.min_strength.value),
      deny_words: form.deny_words.value.split("\n").map((w) => w.trim()).filter((w) => w),
      history: Number(form.history.value),
      max_age_days: form.max_age_days.value === "" ? null : Number(form.max_age_days.value),
      lockout_threshold: Number(form.lockout_threshold.value),
      lockout_minutes: Number(form.lockout_minutes.value),
      require_second_factor: form.require_second_factor.checked,
    };
    conclave.api("PUT", path, body).then(() => conclave.status("Policy saved.")).catch((e) => conclave.status(e.message, true));
  });
})().catch((e) => conclave.status(e.message, true));

// Admin sessions and the PIN lock: the rules, and how long this admin session has left.
(async () => {
  const me = await conclave.start();
  const form = document.getElementById("session-rules");
  const path = "/api/v1/enterprises/" + me.enterprise.id + "/session-policy";
  const rules = await conclave.api("GET", path);
  form.pin_max_lock_minutes.replaceChildren(...delays(60).map(([v, text]) => conclave.h("option", { value: v }, text)));
  const show = (r) => {
    form.elevation_minutes.value = r.elevation_minutes;
    form.pin_required.checked = r.pin_required;
    form.pin_max_lock_minutes.value = String(r.pin_max_lock_minutes);
    form.pin_attempts.value = r.pin_attempts;
  };
  show(rules);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      elevation_minutes: Number(form.elevation_minutes.value),
      pin_required: form.pin_required.checked,
      pin_max_lock_minutes: Number(form.pin_max_lock_minutes.value),
      pin_attempts: Number(form.pin_attempts.value),
    };
    conclave.api("PUT", path, body).then((saved) => {
      show(saved);
      conclave.status("Rules saved.");
    }).catch((e) => conclave.status(e.message, true));
  });
  // The server decides; this only shows the time left, moved on by each admin request.
  let until = me.elevated_until ? new Date(me.elevated_until).getTime() : 0;
  const timer = document.getElementById("elevation");
  const draw = () => {
    const left = Math.ceil((until - Date.now()) / 60000);
    timer.textContent = left > 0 ? "Admin session: " + left + " min left" : "Admin session paused: the next change asks for your password";
  };
  // After admin requests, read the bound the server now holds (member-level reads move nothing).
  let pending = null;
  window.addEventListener("conclave:api", (ev) => {
    const { path: p } = ev.detail;
    if (!p.startsWith("/api/v1/enterprises/") && !p.startsWith("/api/v1/teams/") && !p.startsWith("/api/v1/sessions/current/elevation")) return;
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const now = await conclave.api("GET", "/api/v1/me").catch(() => null);
      if (now) { until = now.elevated_until ? new Date(now.elevated_until).getTime() : 0; draw(); }
    }, 400);
  });
  draw();
  setInterval(draw, 15000);
})().catch((e) => conclave.status(e.message, true));

// Single sign-on settings.
(async () => {
  const me = await conclave.start();
  const form = document.getElementById("oidc");
  const path = "/api/v1/enterprises/" + me.enterprise.id + "/sso/oidc";
  document.getElementById("redirect-uri").textContent = location.origin + "/sso/oidc/callback";
  const lines = (text) => text.split("\n").map((w) => w.trim()).filter((w) => w);
  const current = await conclave.api("GET", path);
  let teamGroups = {};
  if (current) {
    form.issuer.value = current.issuer;
    form.client_id.value = current.client_id;
    form.allowed_domains.value = current.allowed_domains.join("\n");
    form.groups_claim.value = current.groups_claim || "";
    form.admin_groups.value = current.admin_groups.join("\n");
    form.sso_only.checked = current.sso_only;
    form.trust_emails_without_verified_claim.checked = current.trust_emails_without_verified_claim;
    teamGroups = current.team_groups;
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      settings: {
        issuer: form.issuer.value.trim(), client_id: form.client_id.value.trim(),
        allowed_domains: lines(form.allowed_domains.value), groups_claim: form.groups_claim.value.trim() || null,
        admin_groups: lines(form.admin_groups.value), team_groups: teamGroups, sso_only: form.sso_only.checked,
        trust_emails_without_verified_claim: form.trust_emails_without_verified_claim.checked,
      },
      client_secret: form.client_secret.value || null,
    };
    conclave.api("PUT", path, body).then(() => { form.client_secret.value = ""; conclave.status("Single sign-on saved."); })
      .catch((e) => conclave.status(e.message, true));
  });
})().catch((e) => conclave.status(e.message, true));

// SAML identity provider.
(async () => {
  const me = await conclave.start();
  const form = document.getElementById("saml");
  const path = "/api/v1/enterprises/" + me.enterprise.id + "/sso/saml";
  const lines = (text) => text.split("\n").map((w) => w.trim()).filter((w) => w);
  const show = (s) => {
    if (!s) return;
    form.allowed_domains.value = s.allowed_domains.join("\n");
    form.admin_groups.value = s.admin_groups.join("\n");
    form.allow_idp_initiated.checked = s.allow_idp_initiated;
    form.sso_only.checked = s.sso_only;
    document.getElementById("saml-current").textContent = "Connected to " + s.idp_entity_id + " (" + s.idp_sso_url + ").";
  };
  show(await conclave.api("GET", path));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      idp_metadata_url: form.idp_metadata_url.value.trim() || null,
      idp_metadata: form.idp_metadata.value.trim() || null,
      allowed_domains: lines(form.allowed_domains.value),
      admin_groups: lines(form.admin_groups.value),
      allow_idp_initiated: form.allow_idp_initiated.checked,
      sso_only: form.sso_only.checked,
    };
    conclave.api("PUT", path, body).then((s) => { show(s); conclave.status("SAML saved."); })
      .catch((e) => conclave.status(e.message, true));
  });
})().catch((e) => conclave.status(e.message, true));
