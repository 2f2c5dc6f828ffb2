// The security team's desk: the dashboard, the inbox of reports by what is due next, one report
// with its clocks, triage, thread and internal notes, the response clocks' calendar, the
// organisation's OpenPGP keys, and the public pages' Markdown.
import * as conclave from "/assets/api.js";
import { connectLive } from "/assets/live.js";
(() => {
  const $ = (id) => document.getElementById(id);
  let current = null;
  let reportList = [];
  const WEEK = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
  const SEVERITY = { critical: "Critical", high: "High", medium: "Medium", low: "Low", none: "None" };
  const CLOCK_STATUS = {
    "not-started": "Not started", running: "Running", paused: "Paused: waiting on the finder",
    overdue: "Overdue", met: "Met", missed: "Missed", stopped: "Stopped (withdrawn)",
  };

  function fail(e) { conclave.status(e.message, true); }

  // A live update redraws the open report; what someone is typing or choosing must survive it.
  // A field takes the server's value when the person has not changed it since the last one
  // shown (or when another report or incident opens: `fresh`).
  function sync(el, value, fresh) {
    const server = value === null || value === undefined ? "" : String(value);
    if (fresh || el.dataset.server === undefined || el.value === el.dataset.server) el.value = server;
    el.dataset.server = server;
  }

  function severityBadge(severity, score) {
    if (!severity) return conclave.h("span", { class: "muted" }, "Not scored");
    return conclave.h("span", { class: "severity " + severity }, SEVERITY[severity] + (score !== null && score !== undefined ? " " + score.toFixed(1) : ""));
  }

  function hoursText(h) {
    const abs = Math.abs(h);
    const text = abs >= 24 ? (abs / 24).toFixed(1).replace(/\.0$/, "") + " working days" : abs.toFixed(1).replace(/\.0$/, "") + " working hours";
    return h < 0 ? text + " over" : text;
  }

  async function loadDashboard() {
    const d = await conclave.api("GET", "/api/v1/desk/dashboard");
    const stat = (label, value, note) => conclave.h("div", { class: "stat" },
      conclave.h("span", { class: "stat-value" }, value), conclave.h("span", { class: "stat-label" }, label), note ? conclave.h("span", { class: "muted" }, note) : null);
    const share = (c) => c.share_met === null ? "—" : Math.round(c.share_met * 100) + "%";
    $("dashboard").replaceChildren(
      stat("open reports", String(d.open_reports), d.open_by_state.map((s) => s.label + " " + s.count).join(" · ")),
      stat("by severity", d.open_by_severity.map((s) => s.label + " " + s.count).join(" · ") || "—"),
      ...d.clocks_last_90_days.map((c) => stat(c.label.toLowerCase() + " met, 90 days", share(c), c.met + " met, " + c.missed + " missed")),
      stat("median first response", d.median_first_response_hours === null ? "—" : d.median_first_response_hours + " h", "over 90 days"),
      stat("open incidents", String(d.open_incidents_by_state.reduce((n, s) => n + s.count, 0)), d.open_incidents_by_state.map((s) => s.label + " " + s.count).join(" · ")),
    );
    const risk = $("at-risk");
    risk.replaceChildren(...d.at_risk.map((r) => conclave.h("li", {},
      conclave.h("a", { href: "#report/" + r.id, onclick: (ev) => { ev.preventDefault(); openReport(r.id).catch(fail); } }, r.title),
      " · " + r.state_label + (r.next_due_at ? " · due " + conclave.when(r.next_due_at) : ""))));
    risk.append(...d.incidents_at_risk.map((i) => conclave.h("li", {},
      conclave.h("a", { href: "#incident/" + i.id, onclick: (ev) => { ev.preventDefault(); openIncident(i.id).catch(fail); } }, i.headline),
      " · incident · authorities to be told by " + conclave.when(i.notification.due_at))));
    if (d.at_risk.length === 0 && d.incidents_at_risk.length === 0) risk.replaceChildren(conclave.h("li", { class: "muted" }, "No clock is close to running out."));
    const rem = $("reminders");
    rem.replaceChildren(...d.reminders.slice(0, 10).map((r) => conclave.h("li", {},
      (r.kind === "missed" ? "Missed: " : "Due soon: ") + r.clock.toLowerCase() + " of “" + r.title + "” · ", conclave.timeElement(r.sent_at))));
    if (d.reminders.length === 0) rem.replaceChildren(conclave.h("li", { class: "muted" }, "None sent yet."));
  }

  async function loadReports() {
    const reports = await conclave.api("GET", "/api/v1/desk/reports");
    reportList = reports;
    const body = $("reports").querySelector("tbody");
    body.replaceChildren();
    for (const r of reports) {
      const tr = document.createElement("tr");
      if (r.at_risk) tr.className = "at-risk";
      const title = conclave.cell(tr, "");
      const a = document.createElement("a");
      a.href = "#report/" + r.id;
      a.textContent = r.title + (r.was_encrypted ? " (arrived encrypted)" : "");
      a.addEventListener("click", (ev) => { ev.preventDefault(); openReport(r.id).catch(fail); });
      title.appendChild(a);
      conclave.cell(tr, "").appendChild(severityBadge(r.severity, r.score));
      conclave.cell(tr, r.state_label);
      conclave.cell(tr, r.assignee || "—");
      conclave.cell(tr, r.next_due_at ? conclave.when(r.next_due_at) + (r.at_risk ? " (at risk)" : "") : "—");
      conclave.cell(tr, conclave.when(r.submitted_at));
      body.appendChild(tr);
    }
    if (reports.length === 0) {
      const tr = document.createElement("tr");
      conclave.cell(tr, "No reports yet.").colSpan = 6;
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
    const fresh = current !== r.id;
    current = r.id;
    $("report").hidden = false;
    $("report-title").textContent = r.title;
    $("report-now").textContent = "Now: " + r.state_label + (r.assignee ? " · assigned to " + r.assignee.name : " · not assigned") +
      (r.severity ? " · severity " + SEVERITY[r.severity] : "");
    const chosen = $("report-state").value;
    const choices = r.state_choices.map((c) => conclave.h("option", { value: c.state }, c.label));
    $("report-state").replaceChildren(conclave.h("option", { value: "", disabled: true }, "Choose a state…"), ...choices);
    $("report-state").value = !fresh && r.state_choices.some((c) => c.state === chosen) ? chosen : "";
    $("state-form").querySelector("button").disabled = choices.length === 0;
    if (choices.length === 0) $("report-state").replaceChildren(conclave.h("option", { value: "" }, "No further state: the finder withdrew it"));
    $("duplicate-field").hidden = true;
    $("duplicate-of").replaceChildren(...reportList.filter((o) => o.id !== r.id).map((o) => conclave.h("option", { value: o.id }, o.title)));
    const clocks = $("report-clocks").querySelector("tbody");
    clocks.replaceChildren(...r.clocks.map((c) => {
      const tr = conclave.h("tr", { class: c.at_risk ? "at-risk" : null });
      conclave.cell(tr, c.label + " (" + c.budget_days + " working days)");
      conclave.cell(tr, CLOCK_STATUS[c.status] || c.status).className = "clock " + c.status;
      conclave.cell(tr, c.due_at ? conclave.when(c.due_at) : "—");
      conclave.cell(tr, c.status === "not-started" ? "—" : hoursText(c.remaining_hours));
      conclave.cell(tr, c.paused_hours > 0 ? c.paused_hours + " h" : "—");
      return tr;
    }));
    const assignee = $("assignee");
    assignee.replaceChildren(conclave.h("option", { value: "" }, "Nobody"), ...team.map((m) => conclave.h("option", { value: m.id }, m.name)));
    sync(assignee, r.assignee ? r.assignee.id : "", fresh);
    sync($("cvss-v3"), r.cvss_v3 ? r.cvss_v3.vector : "", fresh);
    sync($("cvss-v4"), r.cvss_v4 ? r.cvss_v4.vector : "", fresh);
    const scoreLine = (c) => c ? "Score " + c.score.toFixed(1) + " · " + SEVERITY[c.severity] : "";
    $("cvss-v3-score").textContent = scoreLine(r.cvss_v3);
    $("cvss-v4-score").textContent = scoreLine(r.cvss_v4);
    const notes = $("report-notes");
    notes.replaceChildren(...r.notes.map((n) => conclave.h("li", { class: "note" },
      conclave.h("p", { class: "meta" }, n.author + " · ", conclave.timeElement(n.at)), conclave.h("p", { class: "body" }, n.body))));
    if (r.notes.length === 0) notes.replaceChildren(conclave.h("li", { class: "muted" }, "No notes yet."));
    $("report-history").replaceChildren(...r.history.map((t) => conclave.h("li", {},
      conclave.timeElement(t.at), " · " + t.to_label + " · by " + (t.by === "finder" ? "the finder" : t.by))));
    if (r.history.length === 0) $("report-history").replaceChildren(conclave.h("li", { class: "muted" }, "Still new."));
    const dl = $("report-fields");
    dl.replaceChildren();
    if (r.duplicate_of) {
      const original = reportList.find((o) => o.id === r.duplicate_of);
      field(dl, "Duplicate of", original ? original.title : r.duplicate_of);
    }
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

  let otherProducts = [];
  let advisoryFor = null;

  async function loadAdvisory(r) {
    const section = $("advisory");
    const drafting = ["accepted", "fixing", "resolved", "disclosed"].includes(r.state);
    section.hidden = !drafting;
    if (!drafting) return;
    const a = await conclave.api("GET", "/api/v1/desk/reports/" + r.id + "/advisory");
    const d = a ? a.draft : null;
    const first = d && d.affected[0] ? d.affected[0] : {};
    // The form edits the first product; any others (set through the API) are kept as they are.
    otherProducts = d ? d.affected.slice(1) : [];
    const fresh = advisoryFor !== r.id;
    advisoryFor = r.id;
    sync($("adv-title"), d ? d.title : r.title, fresh);
    sync($("adv-summary"), d ? d.summary : "", fresh);
    sync($("adv-product"), first.product, fresh);
    sync($("adv-introduced"), first.introduced, fresh);
    sync($("adv-fixed"), first.fixed, fresh);
    sync($("adv-fix"), d ? d.fix : "", fresh);
    sync($("adv-cwe"), d ? d.cwe_id : "", fresh);
    sync($("adv-cwe-name"), d ? d.cwe_name : "", fresh);
    sync($("adv-refs"), d ? d.references.join("\n") : "", fresh);
    sync($("adv-date"), d ? d.publish_on : "", fresh);
    let state = "No draft yet.";
    if (a) {
      state = a.public_id + ", version " + a.version + ". ";
      if (a.published_at) state += "Published " + conclave.when(a.published_at) + (a.override_reason ? " without the finder's agreement: " + a.override_reason : " with the finder's agreement.");
      else if (a.consent_current) state += "The finder agreed to this version " + conclave.when(a.consent_at) + ".";
      else if (a.consent_version) state += "The finder agreed to version " + a.consent_version + ", not to this one yet.";
      else state += "The finder has not agreed yet.";
      state += a.credit ? " Credit: " + a.credit + "." : " The finder did not ask for credit.";
    }
    $("advisory-state").textContent = state;
    const published = Boolean(a && a.published_at);
    $("advisory-form").hidden = published;
    $("publish-form").hidden = published || !a || r.state !== "resolved";
  }

  async function openReport(id) {
    const r = await conclave.api("GET", "/api/v1/desk/reports/" + id);
    showReport(r);
    await loadAdvisory(r);
    history.replaceState(null, "", "#report/" + id);
    $("report").scrollIntoView({ block: "start" });
  }

  let team = [];
  let currentIncident = null;
  let incidentView = null;
  const ENTRY = { note: "Note", state: "State", "notice-affected": "Notice to affected people", "notice-authority": "Notice to an authority", evidence: "Evidence" };
  const CLOCK_WORD = { due: "due", overdue: "overdue", met: "met", missed: "missed" };

  async function loadIncidents() {
    const list = await conclave.api("GET", "/api/v1/desk/incidents");
    const body = $("incidents").querySelector("tbody");
    body.replaceChildren(...list.map((i) => {
      const tr = conclave.h("tr", { class: i.notification && i.notification.status === "overdue" ? "at-risk" : null });
      conclave.cell(tr, "").appendChild(conclave.h("a", { href: "#incident/" + i.id, onclick: (ev) => { ev.preventDefault(); openIncident(i.id).catch(fail); } }, i.headline || "(no details)"));
      conclave.cell(tr, i.category_label);
      conclave.cell(tr, i.state_label);
      conclave.cell(tr, i.occurred_at.replace("T", " "));
      conclave.cell(tr, i.reported_by === "member" ? "a member" : "an outsider");
      conclave.cell(tr, i.notification ? CLOCK_WORD[i.notification.status] + ", by " + conclave.when(i.notification.due_at) : "—");
      return tr;
    }));
    if (list.length === 0) body.replaceChildren(conclave.h("tr", {}, conclave.h("td", { colspan: "6" }, "No incidents reported.")));
  }

  function entryText(e) {
    const b = e.body;
    if (e.kind === "state") return "Moved to " + b.to;
    if (e.kind === "notice-affected") return "Told " + b.who + (b.how ? " by " + b.how : "") + (b.mailed ? " (mailed from the desk)" : "") + ": " + (b.what || "");
    if (e.kind === "notice-authority") return "Told " + b.agency + (b.reference ? " (reference " + b.reference + ")" : "") + (b.contact ? ", contact " + b.contact : "") + (b.text ? ": " + b.text : "");
    return b.text || "";
  }

  function showIncident(v) {
    const freshIncident = currentIncident !== v.id;
    currentIncident = v.id;
    incidentView = v;
    $("incident").hidden = false;
    $("incident-title").textContent = v.category_label + " · " + v.occurred_at.replace("T", " ");
    $("incident-now").textContent = "Now: " + v.state_label + " · reported by " + v.reported_by + " · the team learned of it " + conclave.when(v.aware_at);
    const dl = $("incident-fields");
    dl.replaceChildren();
    field(dl, "Began", v.occurred_at.replace("T", " "));
    field(dl, "Ended", v.ended_at ? v.ended_at.replace("T", " ") : "not yet, or not known");
    field(dl, "Duration", v.duration_minutes === null ? "" : v.duration_minutes + " minutes");
    field(dl, "Reported", v.reported_at.replace("T", " "));
    field(dl, "Where", v.location);
    if (v.notification) field(dl, "Notification clock", v.notification.hours + " hours: " + CLOCK_WORD[v.notification.status] + " (due " + conclave.when(v.notification.due_at) + ")");
    $("incident-details-text").textContent = v.details;
    const chosen = $("incident-state").value;
    $("incident-state").replaceChildren(conclave.h("option", { value: "", disabled: true }, "Choose a state…"),
      ...v.state_choices.map((c) => conclave.h("option", { value: c.state }, c.label)));
    $("incident-state").value = !freshIncident && v.state_choices.some((c) => c.state === chosen) ? chosen : "";
    sync($("incident-hours"), v.notification ? v.notification.hours : "", freshIncident);
    $("incident-timeline").querySelector("tbody").replaceChildren(...v.timeline.map((e) => {
      const tr = conclave.h("tr", {});
      conclave.cell(tr, e.happened_at ? e.happened_at.replace("T", " ") : "—");
      conclave.cell(tr, conclave.when(e.learned_at));
      const what = conclave.cell(tr, ENTRY[e.kind] + ": ");
      if (e.kind === "evidence") {
        what.append(conclave.h("a", { href: "/api/v1/desk/incidents/" + v.id + "/evidence/" + e.body.file_id, download: e.body.name }, e.body.name),
          " (" + e.body.size + " bytes, SHA-256 ", conclave.h("code", { class: "mono" }, e.body.sha256), ")");
      } else {
        what.append(entryText(e));
      }
      conclave.cell(tr, e.by);
      return tr;
    }));
  }

  async function openIncident(id) {
    showIncident(await conclave.api("GET", "/api/v1/desk/incidents/" + id));
    history.replaceState(null, "", "#incident/" + id);
    $("incident").scrollIntoView({ block: "start" });
  }

  function entryKindChanged() {
    const kind = $("entry-kind").value;
    for (const el of $("incident-entry-form").querySelectorAll("[data-kinds]")) el.hidden = !el.dataset.kinds.split(" ").includes(kind);
  }

  async function loadClocks() {
    const c = await conclave.api("GET", "/api/v1/desk/clocks");
    $("clock-tz").value = c.time_zone;
    $("clock-days").replaceChildren(conclave.h("legend", {}, "Working days"), ...WEEK.map((d) => conclave.h("label", { class: "inline" },
      conclave.h("input", { type: "checkbox", value: d, checked: c.working_days.includes(d) }), " " + d[0].toUpperCase() + d.slice(1))));
    $("clock-first").value = c.first_response_days;
    $("clock-triage").value = c.triage_days;
    for (const k of ["critical", "high", "medium", "low", "unscored"]) $("clock-" + k).value = c.resolution_days[k];
    $("clock-remind").value = c.remind_before_hours;
    $("clock-holidays").value = c.holidays.map((h) => (h.date + " " + h.name).trim()).join("\n");
  }

  function clocksFromForm() {
    const holidays = $("clock-holidays").value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
      const [date, ...name] = l.split(/\s+/);
      return { date, name: name.join(" ") };
    });
    const resolution = {};
    for (const k of ["critical", "high", "medium", "low", "unscored"]) resolution[k] = Number($("clock-" + k).value);
    return {
      time_zone: $("clock-tz").value.trim(),
      working_days: [...$("clock-days").querySelectorAll("input:checked")].map((i) => i.value),
      holidays,
      first_response_days: Number($("clock-first").value),
      triage_days: Number($("clock-triage").value),
      resolution_days: resolution,
      remind_before_hours: Number($("clock-remind").value),
    };
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
    team = await conclave.api("GET", "/api/v1/desk/team");
    await Promise.all([loadReports(), loadDashboard(), loadIncidents(), loadKeys(), loadPage(), loadSettings(), loadClocks()]);
    const linkedIncident = location.hash.match(/^#incident\/([0-9a-f-]{36})$/);
    if (linkedIncident) await openIncident(linkedIncident[1]).catch(fail);
    const linked = location.hash.match(/^#report\/([0-9a-f-]{36})$/);
    if (linked) await openReport(linked[1]).catch(fail);
    // The inbox follows new reports, replies and state changes live, from any node.
    connectLive(async (event) => {
      if (event.type !== "desk-report-changed" && event.type !== "ready") return;
      await Promise.all([loadReports(), loadDashboard(), loadIncidents()]);
      if (currentIncident && (event.type === "ready" || event.report_id === currentIncident)) {
        showIncident(await conclave.api("GET", "/api/v1/desk/incidents/" + currentIncident));
      }
      if (current && (event.type === "ready" || event.report_id === current)) {
        const r = await conclave.api("GET", "/api/v1/desk/reports/" + current);
        showReport(r);
        await loadAdvisory(r);
      }
    }, (state) => { $("live").textContent = state; $("live").className = state === "live" ? "on" : "muted"; });
    $("settings-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("PUT", "/api/v1/desk/settings", { store_finder_ip: $("store-ip").checked, retention_days: Number($("retention-days").value) })
        .then(() => conclave.status("Settings saved.")).catch(fail);
    });
    select.addEventListener("change", () => { $("duplicate-field").hidden = select.value !== "duplicate"; });
    $("state-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!select.value) { conclave.status("Choose the state to move the report to.", true); select.focus(); return; }
      const body = { state: select.value };
      if (select.value === "duplicate") body.duplicate_of = $("duplicate-of").value;
      conclave.api("PUT", "/api/v1/desk/reports/" + current + "/state", body)
        .then((r) => { select.value = ""; showReport(r); conclave.status("State changed to " + r.state_label + "."); return Promise.all([loadAdvisory(r), loadReports(), loadDashboard()]); }).catch(fail);
    });
    $("triage-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = { assignee: $("assignee").value || null, cvss_v3: $("cvss-v3").value.trim() || null, cvss_v4: $("cvss-v4").value.trim() || null };
      conclave.api("PUT", "/api/v1/desk/reports/" + current + "/triage", body)
        .then((r) => { showReport(r); conclave.status("Triage saved."); return Promise.all([loadReports(), loadDashboard()]); }).catch(fail);
    });
    $("advisory-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const optional = (id) => $(id).value.trim() || null;
      const body = {
        title: $("adv-title").value, summary: $("adv-summary").value,
        affected: [{ product: $("adv-product").value, introduced: optional("adv-introduced"), fixed: optional("adv-fixed") }, ...otherProducts],
        fix: $("adv-fix").value, cvss_v3: optional("cvss-v3"), cvss_v4: optional("cvss-v4"),
        cwe_id: optional("adv-cwe"), cwe_name: optional("adv-cwe-name"),
        references: $("adv-refs").value.split("\n").map((l) => l.trim()).filter(Boolean),
        publish_on: $("adv-date").value,
      };
      conclave.api("PUT", "/api/v1/desk/reports/" + current + "/advisory", body)
        .then(async (a) => { const r = await conclave.api("GET", "/api/v1/desk/reports/" + current); showReport(r); await loadAdvisory(r); conclave.status("Draft saved as version " + a.version + "; the finder can read it now."); }).catch(fail);
    });
    $("publish-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!(await conclave.confirmAction("Publish this advisory for everyone? It cannot be changed afterwards.", "Publish"))) return;
      const reason = $("adv-override").value.trim();
      conclave.api("POST", "/api/v1/desk/reports/" + current + "/advisory/publish", reason ? { override_reason: reason } : {})
        .then((a) => { conclave.status("Published as " + a.public_id + "."); return Promise.all([openReport(current), loadReports(), loadDashboard()]); }).catch(fail);
    });
    $("entry-kind").addEventListener("change", entryKindChanged);
    $("incident-state-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!$("incident-state").value) { conclave.status("Choose the state to move the incident to.", true); return; }
      conclave.api("PUT", "/api/v1/desk/incidents/" + currentIncident + "/state", { state: $("incident-state").value })
        .then((v) => { $("incident-state").value = ""; showIncident(v); conclave.status("State changed to " + v.state_label + "."); return loadIncidents(); }).catch(fail);
    });
    $("incident-clock-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const hours = $("incident-hours").value ? Number($("incident-hours").value) : null;
      conclave.api("PUT", "/api/v1/desk/incidents/" + currentIncident + "/clock", { hours })
        .then((v) => { showIncident(v); conclave.status(hours ? "Notification clock set." : "Notification clock cleared."); return loadIncidents(); }).catch(fail);
    });
    $("incident-entry-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = (id) => $(id).value.trim() || null;
      const body = { kind: $("entry-kind").value, happened_at: value("entry-happened"), text: value("entry-text"),
        who: value("entry-who"), how: value("entry-how"), what: value("entry-what"), agency: value("entry-agency"),
        reference: value("entry-reference"), contact: value("entry-contact"), send_mail: $("entry-send").checked };
      conclave.api("POST", "/api/v1/desk/incidents/" + currentIncident + "/entries", body)
        .then((v) => { ev.target.reset(); entryKindChanged(); showIncident(v); conclave.status("Added to the timeline."); return loadIncidents(); }).catch(fail);
    });
    $("evidence-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = $("evidence-file").files[0];
      if (!file) { conclave.status("Choose a file first.", true); return; }
      try {
        const res = await fetch("/api/v1/desk/incidents/" + currentIncident + "/evidence?name=" + encodeURIComponent(file.name), {
          method: "POST", credentials: "same-origin", body: file,
          headers: { "X-CSRF-Token": conclave.csrfToken(), "Content-Type": "application/octet-stream" },
        });
        const data = await res.json();
        if (!res.ok) throw new Error(data.detail || data.title);
        $("evidence-file").value = "";
        showIncident(data);
        conclave.status("Evidence attached.");
      } catch (e) { fail(e); }
    });
    $("incident-print").addEventListener("click", () => {
      document.body.classList.add("print-incident");
      window.print();
      document.body.classList.remove("print-incident");
    });
    $("incident-export").addEventListener("click", () => {
      const blob = new Blob([JSON.stringify(incidentView, null, 2)], { type: "application/json" });
      const a = conclave.h("a", { href: URL.createObjectURL(blob), download: "incident-" + currentIncident + ".json" });
      document.body.appendChild(a);
      a.click();
      a.remove();
      URL.revokeObjectURL(a.href);
    });
    $("note-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("POST", "/api/v1/desk/reports/" + current + "/notes", { body: $("note-body").value })
        .then((r) => { $("note-body").value = ""; showReport(r); conclave.status("Note added."); }).catch(fail);
    });
    $("clocks-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("PUT", "/api/v1/desk/clocks", clocksFromForm())
        .then(() => { conclave.status("Clocks saved; every due time follows the new calendar."); return Promise.all([loadClocks(), loadReports(), loadDashboard()]); }).catch(fail);
    });
    $("holiday-import").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = $("holiday-file").files[0];
      if (!file) { conclave.status("Choose an .ics file first.", true); return; }
      try {
        const settings = await conclave.api("POST", "/api/v1/desk/clocks/holidays", { calendar: await file.text() });
        $("holiday-file").value = "";
        await Promise.all([loadClocks(), loadReports(), loadDashboard()]);
        conclave.status("Imported; the calendar now has " + settings.holidays.length + " holidays.");
      } catch (e) { fail(e); }
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
