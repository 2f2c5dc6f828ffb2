// Message policy templates in the admin console: what senders may pick in the composer. Each
// template sets when a message may be read (a window, an expiry, burn after reading), where
// (networks, kinds of device) and what may be done with it (forward, copy). The server checks
// every rule; this page only edits them.
import * as conclave from "/assets/api.js";

const { h } = conclave;
const DEVICES = [["web", "Web browser"], ["desktop", "Desktop app"], ["mobile", "Phone"], ["api", "API client"]];
const UNITS = [["60", "minutes"], ["3600", "hours"], ["86400", "days"]];

/// "3600" seconds → [1, "3600"] (one hour): the largest unit that divides it.
function split(seconds) {
  if (!seconds) return ["", "60"];
  for (const [unit] of [...UNITS].reverse()) if (seconds % Number(unit) === 0) return [String(seconds / Number(unit)), unit];
  return [String(Math.max(1, Math.round(seconds / 60))), "60"];
}

function duration(seconds) {
  if (!seconds) return null;
  const [n, unit] = split(seconds);
  const name = UNITS.find(([u]) => u === unit)[1];
  return n + " " + (n === "1" ? name.slice(0, -1) : name);
}

/// The rules in a sentence an admin can scan in a table.
export function summary(rules) {
  const parts = [];
  if (rules.readable_from) parts.push("from " + conclave.when(rules.readable_from));
  if (rules.readable_until) parts.push("until " + conclave.when(rules.readable_until));
  if (rules.expire_after_seconds) parts.push("expires after " + duration(rules.expire_after_seconds));
  if (rules.burn_after_seconds) parts.push("burns " + duration(rules.burn_after_seconds) + " after reading");
  if (rules.networks) parts.push("only on " + rules.networks.join(", "));
  if (rules.devices) parts.push("only on " + rules.devices.map((d) => DEVICES.find(([k]) => k === d)?.[1].toLowerCase() || d).join(", "));
  if (rules.no_forward) parts.push("no forwarding");
  if (rules.no_copy) parts.push("no copying or downloads");
  return parts.length ? parts.join(" · ") : "no restrictions";
}

/// A datetime-local value (the admin's own clock) from an RFC 3339 time, and back.
function toLocal(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

function fromLocal(value) {
  return value ? new Date(value).toISOString() : null;
}

(async () => {
  const me = await conclave.start();
  const base = "/api/v1/enterprises/" + me.enterprise.id + "/message-policies";
  const form = document.getElementById("template-form");
  const devices = form.querySelector("[data-devices]");
  devices.replaceChildren(...DEVICES.map(([value, label]) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: "device", value }), " " + label)));
  for (const select of form.querySelectorAll("select[data-unit]")) {
    select.replaceChildren(...UNITS.map(([value, label]) => h("option", { value }, label)));
  }
  let editing = null; // the template being edited, or null for a new one

  function fill(t) {
    editing = t;
    const r = t ? t.rules : {};
    form.name.value = t ? t.name : "";
    form.readable_from.value = toLocal(r.readable_from);
    form.readable_until.value = toLocal(r.readable_until);
    [form.expire_n.value, form.expire_unit.value] = split(r.expire_after_seconds);
    [form.burn_n.value, form.burn_unit.value] = split(r.burn_after_seconds);
    form.networks.value = (r.networks || []).join("\n");
    for (const box of form.querySelectorAll("[name=device]")) box.checked = (r.devices || []).includes(box.value);
    form.no_forward.checked = !!r.no_forward;
    form.no_copy.checked = !!r.no_copy;
    document.getElementById("template-form-heading").textContent = t ? "Edit " + t.name : "New template";
    form.querySelector("[type=submit]").textContent = t ? "Save template" : "Create template";
    document.getElementById("template-cancel").hidden = !t;
  }

  function rulesOfForm() {
    const seconds = (n, unit) => (n.value === "" ? null : Number(n.value) * Number(unit.value));
    const networks = form.networks.value.split("\n").map((l) => l.trim()).filter((l) => l);
    const picked = [...form.querySelectorAll("[name=device]:checked")].map((b) => b.value);
    return {
      readable_from: fromLocal(form.readable_from.value),
      readable_until: fromLocal(form.readable_until.value),
      expire_after_seconds: seconds(form.expire_n, form.expire_unit),
      burn_after_seconds: seconds(form.burn_n, form.burn_unit),
      networks: networks.length ? networks : null,
      devices: picked.length ? picked : null,
      no_forward: form.no_forward.checked,
      no_copy: form.no_copy.checked,
    };
  }

  async function load() {
    const list = await conclave.api("GET", base);
    const rows = list.map((t) => h("tr", { class: t.retired_at ? "retired" : "" },
      h("td", {}, h("strong", {}, t.name)),
      h("td", {}, summary(t.rules)),
      h("td", {}, t.retired_at ? "retired " + conclave.when(t.retired_at) : "in use"),
      h("td", { class: "row-actions" }, t.retired_at ? null : [
        h("button", { type: "button", class: "secondary small", onclick: () => { fill(t); form.name.focus(); } }, "Edit"),
        h("button", {
          type: "button", class: "secondary small danger-text",
          onclick: async () => {
            if (!(await conclave.confirmAction("Retire " + t.name + "? Senders can no longer pick it; messages already sent keep their rules.", "Retire"))) return;
            conclave.api("DELETE", base + "/" + t.id).then(load).then(() => conclave.status("Retired " + t.name + ".")).catch((e) => conclave.status(e.message, true));
          },
        }, "Retire"),
      ])));
    document.querySelector("#templates tbody").replaceChildren(...(rows.length ? rows
      : [h("tr", {}, h("td", { colspan: "4", class: "muted" }, "No templates yet: messages are sent without restrictions."))]));
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { name: form.name.value, rules: rulesOfForm() };
    const done = editing
      ? conclave.api("PUT", base + "/" + editing.id, { ...body, expected_version: editing.version })
      : conclave.api("POST", base, body);
    const verb = editing ? "Saved " : "Created ";
    done.then(async (t) => { fill(null); await load(); conclave.status(verb + t.name + "."); })
      .catch((e) => conclave.status(e.message, true));
  });
  document.getElementById("template-cancel").addEventListener("click", () => fill(null));
  // (The form starts empty from the page itself: resetting it here could wipe what someone
  // began typing while this module loaded.)
  await load();
})().catch((e) => conclave.status(e.message, true));
