// The enterprise admin console: users and teams of the admin's own enterprise.
import * as conclave from "/assets/api.js";
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
