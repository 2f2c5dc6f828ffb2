// The security team's desk: the inbox of reports, one report with its thread, state and reply,
// the organisation's OpenPGP keys, and the public pages' Markdown.
import * as conclave from "/assets/api.js";
import { connectLive } from "/assets/live.js";
(() => {
  const $ = (id) => document.getElementById(id);
  let current = null;

  function fail(e) { conclave.status(e.message, true); }

  async function loadReports() {
    const reports = await conclave.api("GET", "/api/v1/desk/reports");
    const body = $("reports").querySelector("tbody");
    body.replaceChildren();
    for (const r of reports) {
      const tr = document.createElement("tr");
      const title = conclave.cell(tr, "");
      const a = document.createElement("a");
      a.href = "#" + r.id;
      a.textContent = r.title + (r.was_encrypted ? " (arrived encrypted)" : "");
      a.addEventListener("click", (ev) => { ev.preventDefault(); openReport(r.id).catch(fail); });
      title.appendChild(a);
      conclave.cell(tr, r.state_label);
      conclave.cell(tr, conclave.when(r.submitted_at));
      conclave.cell(tr, String(r.messages));
      body.appendChild(tr);
    }
    if (reports.length === 0) {
      const tr = document.createElement("tr");
      conclave.cell(tr, "No reports yet.").colSpan = 4;
      body.appendChild(tr);
    }
  }

  function field(dl, name, value) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) return;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = Array.isArray(value) ? value.join("\n") : String(value);
    dl.append(dt, dd);
  }

  function showReport(r) {
    current = r.id;
    $("report").hidden = false;
    $("report-title").textContent = r.title;
    $("report-state").replaceChildren(...r.state_choices.map((c) => conclave.h("option", { value: c.state }, c.label)));
    $("report-state").value = r.state;
    const dl = $("report-fields");
    dl.replaceChildren();
    field(dl, "Submitted", conclave.when(r.submitted_at));
    field(dl, "Affected URLs", r.affected_urls);
    field(dl, "IP addresses", r.ip_addresses);
    field(dl, "Timestamps", r.timestamps);
    field(dl, "Encrypted", r.was_encrypted ? "yes, decrypted with the organisation's key" : "");
    field(dl, "Finder", r.finder_name);
    field(dl, "Email", r.finder_email ? r.finder_email + (r.finder_email_verified ? " (confirmed)" : " (not confirmed: no mail is sent)") : "");
    field(dl, "Finder's address", r.finder_ip);
    field(dl, "Credit", r.credit ? "wants to be named in the hall of fame" : "");
    const files = $("report-files");
    files.replaceChildren();
    for (const f of r.files) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/api/v1/desk/reports/" + r.id + "/files/" + f.id;
      a.textContent = f.name;
      li.append(a, " (" + f.size + " bytes, from " + (f.from === "finder" ? "the finder" : "the security team") + ")");
      files.appendChild(li);
    }
    if (r.files.length === 0) files.textContent = "None.";
    $("report-description").textContent = r.description;
    $("report-logs").textContent = r.logs || "—";
    const ol = $("report-thread");
    ol.replaceChildren();
    for (const t of r.thread) {
      const li = document.createElement("li");
      li.className = t.from;
      const meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = (t.from === "finder" ? "Finder" : "Security team") + " · " + conclave.when(t.at);
      const body = document.createElement("p");
      body.className = "body";
      body.textContent = t.body;
      li.append(meta, body);
      ol.appendChild(li);
    }
  }

  async function openReport(id) {
    showReport(await conclave.api("GET", "/api/v1/desk/reports/" + id));
  }

  async function loadKeys() {
    const keys = await conclave.api("GET", "/api/v1/desk/keys");
    const body = $("keys").querySelector("tbody");
    body.replaceChildren();
    let warning = keys.length === 0 ? "The organisation has no OpenPGP key yet: generate or import one so finders can encrypt and security.txt is signed." : "";
    for (const k of keys) {
      const tr = document.createElement("tr");
      conclave.cell(tr, k.fingerprint).className = "mono";
      conclave.cell(tr, k.algorithm);
      conclave.cell(tr, k.user_ids.join(", "));
      conclave.cell(tr, k.expires_at ? conclave.when(k.expires_at) : "never");
      conclave.cell(tr, k.active ? "active" : "kept to read older reports");
      body.appendChild(tr);
      if (k.active && k.expiry_warning) warning = "The active key expires within 30 days (" + conclave.when(k.expires_at) + "): generate or import a new one.";
    }
    $("key-warning").textContent = warning;
    $("key-warning").hidden = warning === "";
  }

  async function loadSettings() {
    const settings = await conclave.api("GET", "/api/v1/desk/settings");
    $("store-ip").checked = settings.store_finder_ip;
    $("retention-days").value = settings.retention_days;
  }

  async function loadPage() {
    const page = await conclave.api("GET", "/api/v1/desk/pages/" + $("page-name").value);
    $("page-markdown").value = page.markdown;
  }

  async function start() {
    await conclave.start();
    const select = $("report-state");
    await Promise.all([loadReports(), loadKeys(), loadPage(), loadSettings()]);
    // The inbox follows new reports, replies and state changes live, from any node.
    connectLive(async (event) => {
      if (event.type !== "desk-report-changed" && event.type !== "ready") return;
      await loadReports();
      if (current && (event.type === "ready" || event.report_id === current)) {
        showReport(await conclave.api("GET", "/api/v1/desk/reports/" + current));
      }
    }, (state) => { $("live").textContent = state; $("live").className = state === "live" ? "on" : "muted"; });
    $("settings-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("PUT", "/api/v1/desk/settings", { store_finder_ip: $("store-ip").checked, retention_days: Number($("retention-days").value) })
        .then(() => conclave.status("Settings saved.")).catch(fail);
    });
    $("state-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("PUT", "/api/v1/desk/reports/" + current + "/state", { state: select.value })
        .then((r) => { showReport(r); conclave.status("State changed."); return loadReports(); }).catch(fail);
    });
    $("reply-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("POST", "/api/v1/desk/reports/" + current + "/replies", { body: $("reply-body").value })
        .then((r) => { $("reply-body").value = ""; showReport(r); conclave.status("Reply sent."); return loadReports(); }).catch(fail);
    });
    $("file-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = $("team-file").files[0];
      if (!file) return;
      try {
        const res = await fetch("/api/v1/desk/reports/" + current + "/files?name=" + encodeURIComponent(file.name), {
          method: "POST", credentials: "same-origin", body: file,
          headers: { "X-CSRF-Token": conclave.csrfToken(), "Content-Type": file.type || "application/octet-stream" },
        });
        const data = await res.json();
        if (!res.ok) throw new Error(data.detail || data.title);
        $("team-file").value = "";
        showReport(data);
        conclave.status("File sent.");
      } catch (e) { fail(e); }
    });
    $("generate-key").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.status("Generating the key…");
      conclave.api("POST", "/api/v1/desk/keys", { user_id: $("key-uid").value, algorithm: $("key-algorithm").value, valid_days: Number($("key-days").value) })
        .then(() => { conclave.status("Key generated and published."); return loadKeys(); }).catch(fail);
    });
    $("import-key").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("POST", "/api/v1/desk/keys/import", { armored_key: $("key-armored").value })
        .then(() => { $("key-armored").value = ""; conclave.status("Key imported and published."); return loadKeys(); }).catch(fail);
    });
    $("page-name").addEventListener("change", () => loadPage().catch(fail));
    $("page-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("PUT", "/api/v1/desk/pages/" + $("page-name").value, { markdown: $("page-markdown").value })
        .then(() => conclave.status("Page saved.")).catch(fail);
    });
  }

  document.addEventListener("DOMContentLoaded", () => start().catch(fail));
})();
