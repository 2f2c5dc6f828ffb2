// The chat page: a sidebar of channels, direct messages and groups with unread and mention
// counts; the open conversation with grouped messages, formatting, files, edits and receipts;
// live updates over one WebSocket. Resume protocol: on every (re)connect the server says
// {"type":"ready"}; we then fetch what we missed with ?after=<last seq we hold>, so a dropped or
// cut connection loses nothing.
import { api, start, status, confirmAction, csrfToken, h, avatar, timeElement, when, relative } from "/assets/api.js";
import { render, mentions, EMOJI_NAMES, emoji } from "/assets/markdown.js";
import { connectLive } from "/assets/live.js";

const $ = (id) => document.getElementById(id);
let me = null;
let current = null;
let editing = null;                // { id, draft } while a message is being edited
const people = new Map();          // user id -> {id, name, email}
const conversations = new Map();   // conversation id -> ConversationView (+ last_activity, mentions)
const messages = new Map();        // conversation id -> Map(seq -> MessageView)
const receipts = new Map();        // conversation id -> Map(user id -> seq)
let teams = [];                    // your teams: their channels are yours to join
const GROUP_GAP_MS = 5 * 60 * 1000;
const QUICK_REACTIONS = ["👍", "❤️", "😄", "🎉", "👀", "🙏", "✅", "🚀"];
let picking = null;               // the message id whose reaction picker is open
const typing = new Map();          // conversation id -> Map(user id -> until when, ms)
let typingSentAt = 0;
let threadOpen = null;              // the root message id of the open thread
const threads = new Map();          // root message id -> { count, last } (replies and the newest's time)
let templates = [];                 // message policy templates the enterprise offers
let scheduledIds = new Set();       // your scheduled messages in the open conversation

function fail(e) {
  status(e.message, true);
}

function nameOf(id) {
  const p = people.get(id);
  return p ? p.name : "someone";
}

/// How people mention someone: the part of their email before the @.
function handleOf(p) {
  return p.email.split("@")[0].toLowerCase();
}

function titleOf(c) {
  if (c.title) return c.title;
  const other = c.member_ids.find((id) => id !== me.user.id);
  return other ? nameOf(other) : "Just you";
}

function mentionKind(handle) {
  const lower = handle.toLowerCase();
  if (lower === "channel" || lower === "here" || lower === "all") return "all";
  if (lower === handleOf(me.user)) return "me";
  for (const p of people.values()) if (handleOf(p) === lower) return "person";
  return null;
}

/// How a message names the reader: "me" by handle, "all" through @channel, @all or @here, or null.
function mentionOfMe(m) {
  if (!m.body || m.sender_id === me.user.id) return null;
  const kinds = mentions(m.body).map(mentionKind);
  return kinds.includes("me") ? "me" : kinds.includes("all") ? "all" : null;
}

function mentionsMe(m) {
  return mentionOfMe(m) !== null;
}

function isAdmin() {
  return me.user.roles.includes("enterprise-admin");
}

/// Muting is kept by the server for each member, so every device of yours honours it.
function isMuted(id) {
  return conversations.get(id)?.muted === true;
}

function seqs(id) {
  return [...(messages.get(id) || new Map()).keys()];
}

// ---- the sidebar ----

async function loadPeople() {
  const list = await api("GET", "/api/v1/directory");
  people.clear();
  for (const p of list) people.set(p.id, p);
  const options = () => [...people.values()].filter((p) => p.id !== me.user.id)
    .map((p) => h("option", { value: p.id }, p.name + " <" + p.email + ">"));
  $("direct-with").replaceChildren(...options());
  $("group-members").replaceChildren(...options());
}

async function loadConversations() {
  const list = await api("GET", "/api/v1/conversations");
  const before = new Map(conversations);
  conversations.clear();
  list.forEach((c, i) => {
    const old = before.get(c.id);
    // The server lists the most recent first; keep that order until something new arrives.
    c.last_activity = old?.last_activity ?? -i;
    conversations.set(c.id, c);
    receipts.set(c.id, new Map((c.read_up_to || []).map((r) => [r.user_id, r.seq])));
  });
  teams = await api("GET", "/api/v1/me/teams");
  renderList();
}

function badge(c) {
  if (c.id === current) return null;
  if (c.mentions > 0) return h("span", { class: "badge mention-badge", title: c.mentions + (c.mentions === 1 ? " mention" : " mentions") + " of you" }, "@" + c.mentions);
  if (c.everyone_mentions > 0) {
    return h("span", { class: "badge everyone-badge", title: c.everyone_mentions + (c.everyone_mentions === 1 ? " message" : " messages") + " for everyone here" }, "@" + c.everyone_mentions);
  }
  if (c.unread > 0) return h("span", { class: "badge" + (isMuted(c.id) ? " quiet" : ""), title: c.unread + " unread" }, String(c.unread));
  return null;
}

function renderList() {
  const sorted = [...conversations.values()].sort((a, b) => b.last_activity - a.last_activity);
  const lists = { team: $("list-team"), direct: $("list-direct"), group: $("list-group") };
  for (const ul of Object.values(lists)) ul.replaceChildren();
  for (const c of sorted) {
    const b = h("button", {
      type: "button", class: "conversation" + (c.id === current ? " current" : "") + (c.unread > 0 && c.id !== current ? " unread" : ""),
      "aria-current": c.id === current ? "page" : null, dataset: { id: c.id },
      onclick: () => open(c.id).catch(fail),
    },
    c.kind === "team" ? h("span", { class: "hash", "aria-hidden": "true" }, "#") : withPresence(avatar(titleOf(c), c.kind === "direct" ? c.member_ids.find((id) => id !== me.user.id) : c.id), c.kind === "direct" ? c.member_ids.find((id) => id !== me.user.id) : null),
    h("span", { class: "name" }, titleOf(c)), isMuted(c.id) ? h("span", { class: "muted small", title: "Muted" }, "🔕") : null, badge(c));
    lists[c.kind]?.append(h("li", {}, b));
  }
  // Channels of your teams that you have not opened yet: one click joins.
  const joined = new Set([...conversations.values()].filter((c) => c.kind === "team").map((c) => c.title));
  for (const t of teams.filter((t) => !t.archived && !joined.has(t.name))) {
    lists.team.append(h("li", {}, h("button", {
      type: "button", class: "conversation not-joined", title: "Join the channel of your team " + t.name,
      onclick: () => joinTeam(t.id).catch(fail),
    }, h("span", { class: "hash", "aria-hidden": "true" }, "#"), h("span", { class: "name" }, t.name), h("span", { class: "muted small" }, "join"))));
  }
  for (const [kind, ul] of Object.entries(lists)) {
    if (ul.children.length === 0) {
      const empty = { team: "No team channels yet.", direct: "No direct messages yet.", group: "No groups yet." }[kind];
      ul.append(h("li", { class: "muted small none" }, empty));
    }
  }
  const total = sorted.filter((c) => !isMuted(c.id)).reduce((n, c) => n + (c.id === current && !document.hidden ? 0 : c.unread), 0);
  document.title = (total > 0 ? "(" + total + ") " : "") + (current ? titleOf(conversations.get(current)) + " · " : "") + "Conclave";
}

async function joinTeam(teamId) {
  const c = await api("POST", "/api/v1/conversations/team", { team_id: teamId });
  c.last_activity = Date.now();
  conversations.set(c.id, c);
  await open(c.id);
}

/// An avatar with a presence dot for a person (online, away or offline, from the server).
function withPresence(el, userId) {
  const p = userId && people.get(userId);
  if (!p) return el;
  const wrap = h("span", { class: "with-presence" }, el, h("span", { class: "presence " + p.presence, title: p.presence }));
  return wrap;
}

/// Someone who just wrote or typed is evidently online, whatever the last minute's poll said.
function seenActive(userId) {
  const p = people.get(userId);
  if (p && p.presence !== "online") {
    p.presence = "online";
    renderList();
  }
}

function renderTyping() {
  const now = Date.now();
  const here = typing.get(current) || new Map();
  for (const [u, until] of here) if (until < now) here.delete(u);
  const names = [...here.keys()].map(nameOf);
  $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? names[0] + " is typing…"
    : names.length === 2 ? names[0] + " and " + names[1] + " are typing…" : "Several people are typing…";
}

// ---- the open conversation ----

function add(m) {
  if (!messages.has(m.conversation_id)) messages.set(m.conversation_id, new Map());
  messages.get(m.conversation_id).set(m.seq, m);
  // History pages say how many replies a root has; live replies are counted as they come.
  if (!m.thread_root_id && m.reply_count > 0) threads.set(m.id, { count: m.reply_count, last: m.last_reply_at });
  const c = conversations.get(m.conversation_id);
  if (c && m.seq > c.last_seq) c.last_seq = m.seq;
}

/// What you were writing, per conversation: a half-written message stays where it was begun and
/// is never carried into another conversation (a note to one person must not reach a channel).
const drafts = new Map();

function keepDraft() {
  if (current) drafts.set(current, $("body").value);
}

async function open(id) {
  if (editing && current !== id) editing = null;
  if (current !== id) {
    closeThreadPanel();
    keepDraft();
    $("body").value = drafts.get(id) || "";
    toggleLater(false);
  }
  current = id;
  const c = conversations.get(id);
  if (!c) return;
  c.mentions = 0;
  c.everyone_mentions = 0;
  history.replaceState(null, "", "#c=" + id);
  $("thread-title").textContent = (c.kind === "team" ? "# " : "") + titleOf(c);
  $("thread-title").className = "";
  const kind = { direct: "Direct message", group: "Group", team: "Team channel" }[c.kind];
  $("thread-sub").textContent = kind + " · " + c.member_ids.length + (c.member_ids.length === 1 ? " member" : " members");
  $("composer").hidden = false;
  // Sized once it is shown: a hidden box measures nothing.
  growComposer();
  $("policy").value = c.default_policy_id && templates.some((t) => t.id === c.default_policy_id) ? c.default_policy_id : "";
  $("empty").hidden = true;
  $("mute").hidden = false;
  renderMute();
  closeDrawer();
  renderMembers();
  renderTyping();
  if (!messages.has(id)) {
    const page = await api("GET", "/api/v1/conversations/" + id + "/messages?limit=50");
    for (const m of page) add(m);
    if (!messages.has(id)) messages.set(id, new Map());
  }
  renderList();
  renderMessages(true);
  $("scheduled-panel").hidden = true;
  loadScheduled().catch(fail);
  await markRead();
  $("body").focus();
}

/// Your messages waiting in the open conversation, with a way to cancel each.
async function loadScheduled() {
  if (!current) return;
  const id = current;
  const list = await api("GET", "/api/v1/conversations/" + id + "/scheduled");
  if (id !== current) return;
  scheduledIds = new Set(list.map((s) => s.id));
  $("scheduled-panel").hidden = list.length === 0;
  $("scheduled").replaceChildren(...list.map((s) => h("li", {},
    h("span", {}, "Scheduled for " + when(s.deliver_at)),
    h("span", { class: "snippet" }, plainText(s.body)),
    h("button", {
      type: "button", class: "link small",
      onclick: () => api("DELETE", "/api/v1/conversations/" + id + "/scheduled/" + s.id)
        .then(() => { status("Cancelled the scheduled message."); return loadScheduled(); }).catch(fail),
    }, "Cancel"))));
}

function toggleLater(open) {
  $("schedule-row").hidden = !open;
  $("later").setAttribute("aria-expanded", String(open));
  if (open) {
    // A sensible default: the next full hour.
    const next = new Date(Date.now() + 3600 * 1000);
    next.setMinutes(0, 0, 0);
    const pad = (n) => String(n).padStart(2, "0");
    if (!$("send-at").value) {
      $("send-at").value = next.getFullYear() + "-" + pad(next.getMonth() + 1) + "-" + pad(next.getDate()) + "T" + pad(next.getHours()) + ":00";
    }
    $("send-at").focus();
  }
}

async function scheduleSend() {
  const body = $("body").value;
  if (!body.trim() || !current) { status("Write the message first.", true); return; }
  if (!$("send-at").value) { status("Pick when to send it.", true); return; }
  const policy = $("policy").value;
  const request = { body, deliver_at: new Date($("send-at").value).toISOString() };
  if (policy) request.policy_id = policy;
  const s = await api("POST", "/api/v1/conversations/" + current + "/scheduled", request);
  $("body").value = "";
  growComposer();
  toggleLater(false);
  status("Scheduled for " + when(s.deliver_at) + ".");
  await loadScheduled();
}

function renderMute() {
  const on = isMuted(current);
  $("mute").textContent = on ? "Unmute" : "Mute";
  $("mute").setAttribute("aria-pressed", String(on));
}

// Groups show their members; the owner adds and removes, anyone else may leave.
function renderMembers() {
  const c = conversations.get(current);
  const panel = $("members-panel");
  panel.hidden = !c;
  if (!c) return;
  panel.querySelector("summary").textContent = "Members (" + c.member_ids.length + ")";
  const owner = c.kind === "group" && c.owner_ids.includes(me.user.id);
  $("member-list").replaceChildren(...c.member_ids.map((id) => h("li", {},
    withPresence(avatar(nameOf(id), id), id), h("span", {}, nameOf(id) + (c.owner_ids.includes(id) && c.kind === "group" ? " (owner)" : "") + (id === me.user.id ? " (you)" : "")),
    owner && id !== me.user.id ? h("button", {
      type: "button", class: "link",
      onclick: async () => {
        if (!(await confirmAction("Remove " + nameOf(id) + " from " + titleOf(c) + "? They will no longer see this group.", "Remove"))) return;
        api("DELETE", "/api/v1/conversations/" + c.id + "/members/" + id).then(loadConversations).then(renderMembers).catch(fail);
      },
    }, "Remove") : null)));
  const candidates = [...people.values()].filter((p) => !c.member_ids.includes(p.id));
  $("add-member-user").replaceChildren(...candidates.map((p) => h("option", { value: p.id }, p.name + " <" + p.email + ">")));
  $("add-member").hidden = !owner || candidates.length === 0;
  $("leave-group").hidden = c.kind !== "group" || owner;
  // A group's owner and enterprise admins pick the template messages here get by default.
  const row = $("default-policy-row");
  row.hidden = templates.length === 0 || !(owner || isAdmin());
  if (!row.hidden) {
    $("default-policy").replaceChildren(h("option", { value: "" }, "no policy, unless the sender picks one"),
      ...templates.map((t) => h("option", { value: t.id }, t.name + " by default")));
    $("default-policy").value = c.default_policy_id || "";
  }
}

function closeThread() {
  closeThreadPanel();
  keepDraft();
  $("body").value = "";
  toggleLater(false);
  current = null;
  editing = null;
  history.replaceState(null, "", "/app");
  $("thread-title").textContent = "Pick a conversation";
  $("thread-title").className = "muted";
  $("thread-sub").textContent = "";
  $("composer").hidden = true;
  $("members-panel").hidden = true;
  $("scheduled-panel").hidden = true;
  $("schedule-row").hidden = true;
  $("mute").hidden = true;
  $("empty").hidden = false;
  $("older").hidden = true;
  $("messages").replaceChildren();
  renderList();
}

async function loadOlder() {
  const have = seqs(current);
  if (have.length === 0) return;
  const oldest = Math.min(...have);
  const page = await api("GET", "/api/v1/conversations/" + current + "/messages?limit=50&before=" + oldest);
  for (const m of page) add(m);
  renderMessages(false);
}

function size(n) {
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1024 / 1024).toFixed(1) + " MiB";
}

/// "4:05" left of a countdown.
function countdown(until) {
  const left = Math.max(0, Math.ceil((new Date(until) - Date.now()) / 1000));
  return Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
}

/// Who wrote a message's words: its sender, or for a forwarded copy the original's author.
function authorOf(m) {
  return m.forwarded ? m.forwarded.original_sender_id : m.sender_id;
}

function messageBody(m, editable = true) {
  if (m.deleted) return h("div", { class: "text deleted" }, "This message was deleted.");
  const control = m.control;
  if (control && control.state === "restricted") {
    return h("div", { class: "text restricted" }, "Hidden here: " + control.reason + ".");
  }
  if (control && control.state === "pending") return h("div", { class: "text restricted" }, "…");
  if (control && control.state === "concealed") {
    const seconds = control.burn_after_seconds;
    return h("div", { class: "text concealed" },
      "Burn after reading: once you reveal it, it disappears for you after " + (seconds < 120 ? seconds + " seconds. " : Math.round(seconds / 60) + " minutes. "),
      h("button", { type: "button", class: "small", onclick: () => reveal(m).catch(fail) }, "Reveal"));
  }
  if (editable && editing && editing.id === m.id) return editor(m);
  const text = h("div", { class: "text" });
  if (m.body) text.append(render(m.body, { mention: mentionKind }));
  if (control && control.burns_at) {
    text.append(h("span", { class: "burn", role: "timer", "aria-label": "Disappears in " + countdown(control.burns_at) }, "burns in " + countdown(control.burns_at)));
  }
  return text;
}

/// A line under the sender's name: forwarded from whom, and the policy it travels under.
function provenance(m) {
  const bits = [];
  if (m.forwarded) {
    bits.push(h("span", { class: "forwarded" }, "↪ Forwarded" + (m.forwarded.hops > 1 ? " (" + m.forwarded.hops + " hops)" : "") + " from " + nameOf(m.forwarded.original_sender_id)));
  }
  const c = m.control;
  if (c && !m.deleted) {
    const name = templates.find((t) => t.id === c.policy_id)?.name;
    const notes = [];
    if (c.expires_at) notes.push("expires " + when(c.expires_at));
    if (c.no_forward) notes.push("no forwarding");
    if (c.no_copy) notes.push("no copying");
    if (c.revealed_by !== null && c.revealed_by !== undefined) notes.push("revealed by " + c.revealed_by);
    bits.push(h("span", { class: "policy-chip", title: notes.join(" · ") || "Sent under a message policy" }, (name || "Policy") + (notes.length ? " · " + notes.join(" · ") : "")));
  }
  return bits.length ? h("div", { class: "provenance small" }, ...bits) : null;
}

/// Under a message its author (or an admin) may trace: how many copies were forwarded from it.
function forwardsLink(m) {
  if (!(m.forward_count > 0) || m.deleted) return null;
  return h("button", { type: "button", class: "thread-link", onclick: () => showForwards(m).catch(fail) },
    "Forwarded " + m.forward_count + (m.forward_count === 1 ? " time" : " times"), h("span", {}, "· see where"));
}

/// "Cy Clerk", "Cy Clerk and Dan Dee", "Cy Clerk, Dan Dee and 3 others".
function names(ids) {
  const shown = ids.slice(0, 2).map(nameOf);
  if (ids.length > 2) return shown.join(", ") + " and " + (ids.length - 2) + " others";
  return shown.join(" and ");
}

function readable(m) {
  return !m.deleted && (!m.control || m.control.state === "readable");
}

async function reveal(m) {
  add(await api("POST", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id + "/reveal"));
  renderMessages(false);
}

/// Who forwarded it where, at every depth, and who read each copy.
async function showForwards(m) {
  const tree = await api("GET", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id + "/forwards");
  // A conversation you are in by its title; any other by the people it went to.
  const where = (copy) => {
    const c = conversations.get(copy.conversation_id);
    if (c && c.kind !== "direct") return (c.kind === "team" ? "# " : "") + titleOf(c);
    return copy.recipients.length ? names(copy.recipients) : "nobody else";
  };
  const read = (copy) => {
    if (copy.removed) return copy.removed === "recalled" ? "Recalled" : "Expired";
    if (copy.recipients.length === 0) return "No one else is there.";
    if (copy.read_by.length === 0) return "Not read yet";
    if (copy.read_by.length === copy.recipients.length) return copy.recipients.length === 1 ? "Read by " + nameOf(copy.read_by[0]) : "Read by everyone";
    return "Read by " + names(copy.read_by) + " (" + copy.read_by.length + " of " + copy.recipients.length + ")";
  };
  $("forward-tree").replaceChildren(...(tree.copies.length === 0 ? [h("li", { class: "muted" }, "Not forwarded.")] : tree.copies.map((c) => h("li", {
    class: "depth-" + Math.min(c.hops, 6) + (c.removed ? " removed" : ""),
  }, h("strong", {}, nameOf(c.forwarded_by)), " forwarded it to " + where(c) + " · ", timeElement(c.forwarded_at),
  h("div", { class: "muted small" }, read(c))))));
  $("forwards-dialog").showModal();
}

/// Forwards a message into another of your conversations, picked in a dialog.
async function forwardMessage(m) {
  const targets = [...conversations.values()].filter((c) => c.id !== m.conversation_id).sort((a, b) => b.last_activity - a.last_activity);
  if (targets.length === 0) { status("You have no other conversation to forward into.", true); return; }
  $("forward-to").replaceChildren(...targets.map((c) => h("option", { value: c.id }, (c.kind === "team" ? "# " : "") + titleOf(c))));
  const preview = (m.body || m.attachment?.name || "").slice(0, 120);
  $("forward-dialog").querySelector("[data-preview]").textContent = "“" + preview + (preview.length === 120 ? "…" : "") + "”";
  const dialog = $("forward-dialog");
  dialog.returnValue = "";
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  if (dialog.returnValue !== "yes") return;
  const to = $("forward-to").value;
  const copy = await api("POST", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id + "/forward", { conversation_id: to });
  if (messages.has(to)) add(copy);
  bump(conversations.get(to));
  const held = findMessage(m.conversation_id, m.id);
  if (held && held.sender_id === me.user.id) held.forward_count = (held.forward_count || 0) + 1;
  renderList();
  renderMessages(false);
  status("Forwarded to " + titleOf(conversations.get(to)) + ".");
}

/// Recalls a message and every copy forwarded from it, everywhere.
async function recall(m) {
  const copies = m.forward_count > 0 ? " and the " + m.forward_count + (m.forward_count === 1 ? " copy" : " copies") + " forwarded from it" : "";
  if (!(await confirmAction("Recall this message" + copies + "? It disappears for everyone at once and its content is destroyed. This cannot be undone.", "Recall"))) return;
  const receipt = await api("POST", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id + "/recall");
  drop(m.conversation_id, [m.id]);
  renderMessages(false);
  const where = receipt.conversations.length;
  status("Recalled: " + receipt.removed + (receipt.removed === 1 ? " message" : " messages") + " removed in " + where + (where === 1 ? " conversation." : " conversations."));
}

// The editor keeps its draft across redraws (a message or a receipt arriving redraws the list);
// Escape or Cancel leaves it, Enter or Save saves.
function editor(m) {
  const area = h("textarea", { rows: "2", "aria-label": "Edit message", class: "edit-box" });
  area.value = editing.draft;
  area.addEventListener("input", () => { editing.draft = area.value; });
  const save = () => act(async () => {
    const body = editing.draft;
    const saved = await api("PATCH", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id, { body });
    editing = null;
    add(saved);
  });
  const cancel = () => { editing = null; renderMessages(false); $("body").focus(); };
  area.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); cancel(); }
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); save(); }
  });
  queueMicrotask(() => { if (document.activeElement !== area) { area.focus(); area.setSelectionRange(area.value.length, area.value.length); } });
  return h("div", { class: "editing" }, area, h("div", { class: "edit-actions" },
    h("button", { type: "button", onclick: save }, "Save"),
    h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"),
    h("span", { class: "muted small" }, "Enter saves · Escape cancels")));
}

// Each message's row is kept and put back while nothing it shows has changed, so a redraw (a new
// message, a receipt, the clock) leaves the other rows alone: a text selection, a focused button
// or an edit in progress stays as it was, and a long history is not rebuilt for one line.
const rows = new Map();             // message id -> { key, li }

/// Everything a message's row is drawn from besides the message itself.
function rowKey(m, grouped, seen) {
  return JSON.stringify([m, grouped, seen, editing && editing.id === m.id, picking === m.id,
    threads.get(m.id) || null, nameOf(m.sender_id), m.forwarded ? nameOf(m.forwarded.original_sender_id) : null,
    (m.reactions || []).map((r) => r.user_ids.map(nameOf)), people.size, relative(m.created_at),
    m.control && m.control.burns_at ? countdown(m.control.burns_at) : null,
    m.control ? templates.find((t) => t.id === m.control.policy_id)?.name || null : null]);
}

function renderMessages(scrollToEnd) {
  const ol = $("messages");
  const atEnd = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60;
  const hadFocus = ol.contains(document.activeElement) ? document.activeElement : null;
  // Replies live in their thread's panel; the conversation shows top-level messages.
  const list = [...(messages.get(current) || new Map()).values()].filter((m) => !m.thread_root_id).sort((a, b) => a.seq - b.seq);
  $("older").hidden = list.length === 0 || list[0].seq <= 1;
  const others = receipts.get(current) || new Map();
  const seenUpTo = Math.max(0, ...[...others.entries()].filter(([u]) => u !== me.user.id).map(([, s]) => s));
  const lastSeenMine = list.filter((m) => m.sender_id === me.user.id && m.seq <= seenUpTo).map((m) => m.seq).pop();
  const items = [];
  let previous = null;
  for (const m of list) {
    const mine = m.sender_id === me.user.id;
    const grouped = Boolean(previous && previous.sender_id === m.sender_id && !previous.deleted &&
      new Date(m.created_at) - new Date(previous.created_at) < GROUP_GAP_MS);
    const key = rowKey(m, grouped, m.seq === lastSeenMine);
    const kept = rows.get(m.id);
    previous = m;
    if (kept && kept.key === key) {
      items.push(kept.li);
      continue;
    }
    const meta = h("div", { class: "meta" },
      grouped ? null : h("strong", { class: "sender" }, nameOf(m.sender_id)),
      timeElement(m.created_at),
      m.edited_at && !m.deleted ? h("span", { class: "edited", title: "Edited " + when(m.edited_at) }, "edited") : null,
      m.seq === lastSeenMine ? h("span", { class: "seen" }, "seen") : null);
    const actions = !m.deleted && !(editing && editing.id === m.id) ? h("div", { class: "actions", role: "group", "aria-label": "Message actions" },
      h("button", { type: "button", class: "secondary small", "aria-expanded": String(picking === m.id), onclick: () => { picking = picking === m.id ? null : m.id; renderMessages(false); } }, "React"),
      h("button", { type: "button", class: "secondary small", onclick: () => openThread(m.id).catch(fail) }, "Reply in thread"),
      readable(m) && !m.control?.no_forward ? h("button", { type: "button", class: "secondary small", onclick: () => forwardMessage(m).catch(fail) }, "Forward") : null,
      mine || m.forwarded?.original_sender_id === me.user.id || isAdmin() ? h("button", { type: "button", class: "secondary small danger-text", onclick: () => recall(m).catch(fail) }, "Recall") : null,
      !mine || m.forwarded ? null : m.body !== null ? h("button", { type: "button", class: "secondary small", onclick: () => { editing = { id: m.id, draft: m.body }; renderMessages(false); } }, "Edit") : null,
      !mine ? null : h("button", {
        type: "button", class: "secondary small danger-text",
        onclick: async () => {
          if (!(await confirmAction("Delete this message for everyone? This cannot be undone.", "Delete"))) return;
          act(async () => add(await api("DELETE", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id)));
        },
      }, "Delete")) : null;
    const reactions = !m.deleted && (m.reactions || []).length > 0 ? h("div", { class: "reactions", role: "group", "aria-label": "Reactions" },
      m.reactions.map((r) => {
        const mineToo = r.user_ids.includes(me.user.id);
        const who = r.user_ids.map((id) => id === me.user.id ? "you" : nameOf(id)).join(", ");
        return h("button", {
          type: "button", class: "reaction" + (mineToo ? " mine" : ""), "aria-pressed": String(mineToo),
          title: who + " reacted with " + r.emoji, "aria-label": r.emoji + " " + r.count + ", " + who,
          onclick: () => react(m, r.emoji, !mineToo),
        }, h("span", { class: "emoji" }, r.emoji), " " + r.count);
      })) : null;
    const picker = picking === m.id ? h("div", { class: "picker", role: "group", "aria-label": "Pick a reaction" },
      QUICK_REACTIONS.map((e) => h("button", { type: "button", class: "icon", "aria-label": "React with " + e, onclick: () => { picking = null; react(m, e, true); } }, e))) : null;
    const file = fileOf(m, true);
    const li = h("li", {
      class: "message" + (mine ? " mine" : "") + (grouped ? " grouped" : "") + (mentionsMe(m) ? " mentions-me" : "") + (m.control?.no_copy && authorOf(m) !== me.user.id ? " no-copy" : ""),
      dataset: { seq: String(m.seq), id: m.id },
      // Focusable by a tap (not by Tab): on a touch screen, which has no hover, the tapped
      // message is the one whose actions show.
      tabindex: "-1",
    }, grouped ? h("span", { class: "avatar-space" }) : avatar(nameOf(m.sender_id), m.sender_id),
    h("div", { class: "content" }, meta, provenance(m), messageBody(m), file, reactions, picker, threadLink(m), forwardsLink(m)), actions);
    rows.set(m.id, { key, li });
    items.push(li);
  }
  // Rows move only where they must: those already in place are not touched.
  let cursor = ol.firstChild;
  for (const li of items) {
    if (li === cursor) cursor = cursor.nextSibling;
    else ol.insertBefore(li, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
  const shown = new Set(list.map((m) => m.id));
  for (const id of rows.keys()) if (!shown.has(id)) rows.delete(id);
  if (hadFocus && hadFocus.classList.contains("edit-box")) ol.querySelector(".edit-box")?.focus();
  if (scrollToEnd || atEnd) ol.scrollTop = ol.scrollHeight;
}

// ---- search ----

/// Splits `text` into plain strings and <mark>s around the words that were searched for.
function highlighted(text, words) {
  if (words.length === 0) return [text];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  // Whole words only, as the server matches them.
  const parts = text.split(new RegExp("(?<![\\p{L}\\p{N}])(" + escaped.join("|") + ")(?![\\p{L}\\p{N}])", "giu"));
  return parts.map((part, i) => (i % 2 === 1 ? h("mark", {}, part) : part));
}

/// A message as one line of plain text for a result: Markdown's marks and quote signs dropped.
function plainText(body) {
  return body
    .replace(/```[a-z]*\n?/g, "")
    .replace(/^\s{0,3}(?:>|[-*+]|\d+[.)])\s+/gm, "")
    .replace(/(\*\*|__|\*|_|~~|`)(\S(?:.*?\S)?)\1/g, "$2")
    .replace(/\s+/g, " ")
    .trim();
}

function searchWords(q) {
  return q.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 2);
}

async function runSearch() {
  const q = $("search-q").value.trim();
  if (!q) return;
  const params = new URLSearchParams({ q });
  const here = $("search-here").checked && current;
  if (here) params.set("conversation_id", current);
  const hits = await api("GET", "/api/v1/search?" + params);
  const words = searchWords(q);
  $("search-here-label").hidden = !current;
  $("results-heading").textContent = (hits.length === 0 ? "No messages match " : hits.length === 1 ? "1 message matches " : hits.length + " messages match ")
    + "“" + q + "”" + (here ? " in " + titleOf(conversations.get(current)) : "");
  $("result-list").replaceChildren(...hits.map((hit) => {
    const m = hit.message;
    const c = conversations.get(m.conversation_id);
    const where = !c ? hit.conversation_title || "A conversation"
      : c.kind === "team" ? "# " + titleOf(c) : c.kind === "direct" ? "Direct message with " + titleOf(c) : "Group " + titleOf(c);
    const plain = plainText(m.body || "");
    const text = plain.length > 280 ? plain.slice(0, 280) + "…" : plain;
    return h("li", {}, h("button", { type: "button", class: "result", onclick: () => jumpTo(m).catch(fail) },
      h("span", { class: "where" }, where),
      h("span", {}, h("strong", {}, nameOf(m.sender_id)), " ", timeElement(m.created_at)),
      h("span", { class: "snippet" }, ...highlighted(text, words)),
      m.attachment ? h("span", { class: "muted small" }, "📄 ", ...highlighted(m.attachment.name, words)) : null));
  }));
  $("results").hidden = false;
  closeDrawer();
  $("results-heading").focus();
}

function closeResults() {
  $("results").hidden = true;
}

/// Opens the message's conversation with history loaded back to it, and shows it in place.
async function jumpTo(m) {
  closeResults();
  await open(m.conversation_id);
  if (m.thread_root_id) {
    // A reply is shown in its thread.
    await openThread(m.thread_root_id);
    const item = $("thread-messages").querySelector('[data-id="' + m.id + '"]');
    item?.classList.add("found");
    item?.scrollIntoView({ block: "center" });
    return;
  }
  // Page back to the message (at most 20 pages), so the history around it has no gap.
  for (let i = 0; i < 20 && !(messages.get(m.conversation_id) || new Map()).has(m.seq); i++) {
    const have = seqs(m.conversation_id);
    if (have.length === 0 || Math.min(...have) <= 1) break;
    await loadOlder();
  }
  renderMessages(false);
  const li = $("messages").querySelector('[data-seq="' + m.seq + '"]');
  if (!li) { status("That message is no longer there."); return; }
  for (const old of $("messages").querySelectorAll(".found")) old.classList.remove("found");
  li.classList.add("found");
  li.tabIndex = -1;
  li.scrollIntoView({ block: "center" });
  li.focus({ preventScroll: true });
}

// ---- threads ----

/// "3 replies · last reply 5 min ago" under a message that has a thread.
function threadLink(m) {
  const t = threads.get(m.id);
  if (m.deleted || !t || t.count === 0) return null;
  return h("button", { type: "button", class: "thread-link", "aria-label": "Open the thread, " + t.count + (t.count === 1 ? " reply" : " replies"), onclick: () => openThread(m.id).catch(fail) },
    t.count + (t.count === 1 ? " reply" : " replies"), t.last ? h("span", {}, "· last ", timeElement(t.last)) : null);
}

/// Forgets messages that were recalled or expired (by id), wherever they are held.
function drop(conversation, ids) {
  const held = messages.get(conversation);
  if (!held) return;
  const gone = new Set(ids);
  for (const [seq, m] of held) {
    if (gone.has(m.id)) {
      held.delete(seq);
      if (m.thread_root_id) countReply(m, -1);
      if (threadOpen === m.id) closeThreadPanel();
    }
  }
}

/// Fetches one message as this device may see it now (after a pending event, a window opening
/// or a reveal); a recalled, expired or burned one is forgotten.
async function refetch(conversation, id) {
  try {
    add(await api("GET", "/api/v1/conversations/" + conversation + "/messages/" + id));
  } catch (e) {
    if (e.status === 404 || e.status === 410) drop(conversation, [id]);
    else throw e;
  }
}

function findMessage(conversation, id) {
  for (const m of (messages.get(conversation) || new Map()).values()) if (m.id === id) return m;
  return null;
}

/// Counts a reply that just arrived (or just went) on its root.
function countReply(m, delta) {
  const t = threads.get(m.thread_root_id) || { count: 0, last: null };
  t.count = Math.max(0, t.count + delta);
  if (delta > 0) t.last = m.created_at;
  threads.set(m.thread_root_id, t);
}

async function openThread(rootId) {
  const view = await api("GET", "/api/v1/conversations/" + current + "/messages/" + rootId + "/thread");
  add(view.root);
  for (const r of view.replies) add(r);
  threads.set(rootId, { count: view.replies.filter((r) => !r.deleted).length, last: view.replies.length ? view.replies[view.replies.length - 1].created_at : null });
  threadOpen = rootId;
  document.body.classList.add("thread-open");
  $("thread-panel").hidden = false;
  renderThread();
  renderMessages(false);
  $("thread-body").focus();
}

function closeThreadPanel() {
  threadOpen = null;
  document.body.classList.remove("thread-open");
  $("thread-panel").hidden = true;
}

/// A message's file: its preview when the server drew one (an image), then its name as a
/// download link.
function fileOf(m, withSize) {
  if (!m.attachment || m.deleted) return null;
  const a = m.attachment;
  const href = "/api/v1/conversations/" + m.conversation_id + "/attachments/" + a.id;
  // Under no-copy the server refuses the download to everyone but its sender: show the name only.
  const locked = m.control?.no_copy && authorOf(m) !== me.user.id;
  const link = locked ? h("span", { title: "This file may be viewed here but not downloaded" }, a.name) : h("a", { href, download: a.name }, a.name);
  const details = withSize ? h("span", { class: "muted small" }, " " + size(a.size)) : null;
  if (!a.thumbnail) return h("div", { class: "file" }, h("span", { "aria-hidden": "true" }, "📄 "), link, details);
  // Drawn at half its pixels (previews are made for sharp screens); width and height keep the
  // space while it loads, so the list does not jump.
  const picture = h("img", { src: href + "/thumbnail", alt: a.name, loading: "lazy", width: String(Math.ceil(a.thumbnail.width / 2)), height: String(Math.ceil(a.thumbnail.height / 2)) });
  if (locked) return h("div", { class: "file image" }, h("span", { class: "preview" }, picture), h("div", { class: "small" }, link, details));
  return h("div", { class: "file image" }, h("a", { href, download: a.name, class: "preview", "aria-label": "Download " + a.name }, picture),
    h("div", { class: "small" }, link, details));
}

function threadItem(m, extra) {
  const file = fileOf(m, false);
  const locked = m.control?.no_copy && authorOf(m) !== me.user.id;
  return h("li", { class: "message" + (extra ? " " + extra : "") + (locked ? " no-copy" : ""), dataset: { seq: String(m.seq), id: m.id } },
    avatar(nameOf(m.sender_id), m.sender_id),
    h("div", { class: "content" }, h("div", { class: "meta" }, h("strong", { class: "sender" }, nameOf(m.sender_id)), timeElement(m.created_at)),
      provenance(m), messageBody(m, false), file));
}

function renderThread() {
  if (!threadOpen) return;
  const root = findMessage(current, threadOpen);
  if (!root) { closeThreadPanel(); return; }
  const replies = [...(messages.get(current) || new Map()).values()].filter((m) => m.thread_root_id === threadOpen).sort((a, b) => a.seq - b.seq);
  const n = replies.filter((r) => !r.deleted).length;
  $("thread-panel-sub").textContent = titleOf(conversations.get(current)) + " · " + (n === 1 ? "1 reply" : n + " replies");
  const ol = $("thread-messages");
  const atEnd = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60;
  ol.replaceChildren(threadItem(root, "root"), ...replies.map((r) => threadItem(r)));
  if (atEnd) ol.scrollTop = ol.scrollHeight;
  $("thread-composer").hidden = root.deleted;
}

function sendReply() {
  const area = $("thread-body");
  const body = area.value;
  if (!body.trim() || !threadOpen) return;
  api("POST", "/api/v1/conversations/" + current + "/messages", { body, thread_root_id: threadOpen })
    .then((m) => {
      area.value = "";
      if (!findMessage(m.conversation_id, m.id)) countReply(m, 1);
      add(m);
      const c = conversations.get(m.conversation_id);
      if (c) { c.last_read_seq = Math.max(c.last_read_seq, m.seq); bump(c, m); }
      renderThread();
      renderMessages(false);
      renderList();
      $("thread-messages").scrollTop = $("thread-messages").scrollHeight;
    })
    .catch(fail);
}

async function react(m, emoji, add) {
  try {
    const reactions = await api(add ? "PUT" : "DELETE", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id + "/reactions/" + encodeURIComponent(emoji));
    const held = messages.get(m.conversation_id)?.get(m.seq);
    if (held) held.reactions = reactions;
    renderMessages(false);
  } catch (e) { fail(e); }
}

// Uploads with XMLHttpRequest: fetch cannot report upload progress.
function upload(file) {
  if (!current) return;
  const bar = $("upload-progress");
  bar.hidden = false;
  bar.value = 0;
  const xhr = new XMLHttpRequest();
  const policy = $("policy").value;
  xhr.open("POST", "/api/v1/conversations/" + current + "/attachments?name=" + encodeURIComponent(file.name || "pasted file")
    + (policy ? "&policy_id=" + encodeURIComponent(policy) : ""));
  xhr.setRequestHeader("X-CSRF-Token", csrfToken());
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.upload.addEventListener("progress", (ev) => {
    if (ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
  });
  xhr.addEventListener("load", () => {
    bar.hidden = true;
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch { data = null; }
    if (xhr.status === 201 && data) {
      add(data);
      bump(conversations.get(data.conversation_id), data);
      renderMessages(true);
      renderList();
      status("Sent " + (file.name || "the file") + ".");
    } else {
      status((data && data.detail) || ("The upload failed (HTTP " + xhr.status + ")."), true);
    }
  });
  xhr.addEventListener("error", () => {
    bar.hidden = true;
    status("The upload was interrupted.", true);
  });
  xhr.send(file);
}

async function act(fn) {
  try {
    await fn();
    renderMessages(false);
  } catch (e) {
    fail(e);
  }
}

let readInFlight = false;
let readAgain = false;

/// Moves your read receipt to the newest message held. While one move is on its way, the next
/// waits for it and goes once, however many messages arrived meanwhile.
async function markRead() {
  if (!current || document.hidden) return;
  if (readInFlight) { readAgain = true; return; }
  readInFlight = true;
  try {
    const c = conversations.get(current);
    const have = seqs(current);
    const last = have.length ? Math.max(...have) : 0;
    if (c && last > c.last_read_seq) {
      const r = await api("POST", "/api/v1/conversations/" + current + "/read", { seq: last });
      c.last_read_seq = r.last_read_seq;
      c.unread = 0;
      c.mentions = 0;
      c.everyone_mentions = 0;
    }
  } finally {
    readInFlight = false;
  }
  renderList();
  if (readAgain) { readAgain = false; await markRead(); }
}

let renderQueued = false;

/// Live events can come faster than the list can be drawn: they are drawn once per frame.
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderMessages(false); });
}

/// Moves a conversation up by its newest activity: a message's own time where there is one, so a
/// late live echo of an earlier message cannot lift its conversation above a later one.
function bump(c, m) {
  if (!c) return;
  const at = m ? Date.parse(m.created_at) : NaN;
  c.last_activity = Math.max(c.last_activity, Number.isNaN(at) ? Date.now() : at);
}

async function catchUp() {
  await loadConversations();
  const base = (id) => "/api/v1/conversations/" + id + "/messages?limit=200";
  for (const id of [...messages.keys()]) {
    if (!conversations.has(id)) { messages.delete(id); continue; }
    // Every new message, page by page, however many were missed.
    const have = seqs(id);
    const held = have.length ? Math.max(...have) : 0;
    let after = held;
    for (;;) {
      const page = await api("GET", base(id) + "&after=" + after);
      for (const m of page) add(m);
      if (page.length < 200) break;
      after = Math.max(...page.map((m) => m.seq));
    }
    // Edits and deletions made while away keep their seq: the latest page before what was new
    // brings the recent ones again (a message is replaced by its seq).
    if (held > 0) {
      const recent = await api("GET", base(id) + "&before=" + (held + 1));
      for (const m of recent) add(m);
      // What that page no longer holds was recalled or expired while we were away.
      const from = recent.length < 200 ? 0 : Math.min(...recent.map((m) => m.seq));
      const present = new Set(recent.map((m) => m.id));
      // (Only what was held before: what just arrived is newer than that page.)
      drop(id, [...messages.get(id).values()].filter((m) => m.seq >= from && m.seq <= held && !present.has(m.id)).map((m) => m.id));
    }
  }
  if (current && !conversations.has(current)) closeThread();
  if (current) {
    renderMessages(false);
    await markRead();
  }
}

function notify(c, m) {
  if (c.muted || !("Notification" in window) || Notification.permission !== "granted") return;
  if (!document.hidden && c.id === current) return;
  const n = new Notification(nameOf(m.sender_id) + (c.kind === "direct" ? "" : " in " + titleOf(c)), {
    body: m.body ? m.body.slice(0, 140) : (m.attachment ? "sent " + m.attachment.name : ""),
    tag: c.id,
  });
  n.addEventListener("click", () => { window.focus(); open(c.id).catch(fail); });
}

async function handle(event) {
  switch (event.type) {
    case "ready":
      await catchUp();
      break;
    case "message-created":
    case "message-edited":
    case "message-deleted": {
      const m = event.message;
      if (!conversations.has(m.conversation_id)) await loadConversations();
      const c = conversations.get(m.conversation_id);
      const known = messages.has(m.conversation_id);
      if (known && m.thread_root_id) {
        const before = findMessage(m.conversation_id, m.id);
        if (event.type === "message-created" && !before) countReply(m, 1);
        if (event.type === "message-deleted" && before && !before.deleted) countReply(m, -1);
      }
      if (known) add(m);
      // One of your scheduled messages was just delivered.
      if (scheduledIds.has(m.id)) loadScheduled().catch(fail);
      // Under a reading policy the event says only that there is something: ask what we may see.
      if (known && m.control?.state === "pending") await refetch(m.conversation_id, m.id);
      typing.get(m.conversation_id)?.delete(m.sender_id);
      if (event.type === "message-created") seenActive(m.sender_id);
      if (m.conversation_id === current) renderTyping();
      if (c && event.type === "message-created") {
        bump(c, m);
        if (m.sender_id === me.user.id) {
          // Sent from another of your devices: you have read it.
          c.last_read_seq = Math.max(c.last_read_seq, m.seq);
        } else {
          c.last_seq = Math.max(c.last_seq, m.seq);
          if (m.conversation_id !== current || document.hidden) {
            c.unread += 1;
            const named = mentionOfMe(m);
            if (named === "me") c.mentions += 1;
            if (named === "all") c.everyone_mentions += 1;
          }
          $("announcer").textContent = "New message from " + nameOf(m.sender_id) + (c.kind === "direct" ? "" : " in " + titleOf(c));
          notify(c, m);
        }
      } else if (c && event.type === "message-deleted" && m.sender_id !== me.user.id && m.seq > c.last_read_seq && c.unread > 0) {
        c.unread -= 1;
      }
      if (m.conversation_id === current) {
        renderSoon();
        renderThread();
        await markRead();
      } else {
        renderList();
      }
      break;
    }
    case "messages-removed":
      // Recalled or expired: gone at once, here and in its thread.
      drop(event.conversation_id, event.message_ids);
      if (event.conversation_id === current) { renderSoon(); renderThread(); }
      await loadConversations();
      break;
    case "message-changed":
      if (findMessage(event.conversation_id, event.message_id)) {
        await refetch(event.conversation_id, event.message_id);
        if (event.conversation_id === current) { renderSoon(); renderThread(); }
      }
      break;
    case "typing": {
      seenActive(event.user_id);
      if (!typing.has(event.conversation_id)) typing.set(event.conversation_id, new Map());
      typing.get(event.conversation_id).set(event.user_id, Date.now() + 6000);
      if (event.conversation_id === current) renderTyping();
      break;
    }
    case "reactions-changed": {
      const held = [...(messages.get(event.conversation_id) || new Map()).values()].find((m) => m.id === event.message_id);
      if (held) {
        held.reactions = event.reactions;
        if (event.conversation_id === current) renderSoon();
      }
      break;
    }
    case "receipt":
      if (!receipts.has(event.conversation_id)) receipts.set(event.conversation_id, new Map());
      receipts.get(event.conversation_id).set(event.user_id, event.seq);
      if (event.user_id === me.user.id && conversations.has(event.conversation_id)) {
        // Read on another of your devices.
        const c = conversations.get(event.conversation_id);
        c.last_read_seq = Math.max(c.last_read_seq, event.seq);
        if (c.last_read_seq >= c.last_seq) { c.unread = 0; c.mentions = 0; c.everyone_mentions = 0; }
        renderList();
      }
      if (event.conversation_id === current) renderSoon();
      break;
    case "conversation-created":
    case "member-joined":
      await loadConversations();
      if (event.conversation_id === current) renderMembers();
      break;
    case "member-left":
      if (event.user_id === me.user.id) {
        // Removed from the group (or left it elsewhere): forget what we held of it.
        messages.delete(event.conversation_id);
        if (event.conversation_id === current) closeThread();
      }
      await loadConversations();
      if (event.conversation_id === current) renderMembers();
      break;
    case "session-ended":
      // Signed out elsewhere (or disabled): drop what this page holds; the live module then
      // sends the page to sign in.
      messages.clear();
      conversations.clear();
      $("messages").replaceChildren();
      break;
    default:
      break;
  }
}

// ---- the composer: sending, @mentions, emoji and files ----

let completion = null; // { start, items, index }

function completions(text, caret) {
  const before = text.slice(0, caret);
  const at = /(^|\s)@([\p{L}\p{N}._-]*)$/u.exec(before);
  if (at) {
    const prefix = at[2].toLowerCase();
    const c = conversations.get(current);
    const members = c ? c.member_ids.filter((id) => id !== me.user.id).map((id) => people.get(id)).filter(Boolean) : [];
    const items = members.filter((p) => handleOf(p).startsWith(prefix) || p.name.toLowerCase().startsWith(prefix))
      .map((p) => ({ label: p.name + " @" + handleOf(p), insert: "@" + handleOf(p) + " " }));
    if (c && c.kind !== "direct" && "channel".startsWith(prefix)) items.push({ label: "@channel: everyone here", insert: "@channel " });
    return { start: caret - at[2].length - 1, items: items.slice(0, 8) };
  }
  const colon = /(^|\s):([a-z0-9_+-]{2,})$/.exec(before);
  if (colon) {
    const items = EMOJI_NAMES.filter((n) => n.startsWith(colon[2])).slice(0, 8).map((n) => ({ label: emoji(n) + " :" + n + ":", insert: emoji(n) + " " }));
    return { start: caret - colon[2].length - 1, items };
  }
  return null;
}

function renderCompletion() {
  const list = $("mention-list");
  if (!completion || completion.items.length === 0) {
    list.hidden = true;
    $("body").removeAttribute("aria-activedescendant");
    return;
  }
  list.hidden = false;
  list.replaceChildren(...completion.items.map((item, i) => h("li", {
    id: "completion-" + i, role: "option", "aria-selected": String(i === completion.index), class: i === completion.index ? "active" : "",
    onmousedown: (ev) => { ev.preventDefault(); choose(i); },
  }, item.label)));
  $("body").setAttribute("aria-activedescendant", "completion-" + completion.index);
}

function choose(i) {
  const area = $("body");
  const item = completion.items[i];
  const caret = area.selectionStart;
  area.value = area.value.slice(0, completion.start) + item.insert + area.value.slice(caret);
  const at = completion.start + item.insert.length;
  area.setSelectionRange(at, at);
  completion = null;
  renderCompletion();
  area.focus();
}

function growComposer() {
  const area = $("body");
  area.style.height = "auto";
  area.style.height = Math.min(area.scrollHeight, 240) + "px";
}

// A send keeps its id until it succeeds, so pressing Send again after a lost answer (a dropped
// connection, a server restart) cannot post the message twice: the server answers the repeat
// with the message it already stored.
let pendingSend = null;

function send() {
  const area = $("body");
  const body = area.value;
  if (!body.trim() || !current) return;
  const policy = $("policy").value;
  if (!pendingSend || pendingSend.conversation !== current || pendingSend.body !== body || pendingSend.policy !== policy) {
    pendingSend = { conversation: current, body, policy, id: globalThis.crypto?.randomUUID?.() };
  }
  const request = { body, id: pendingSend.id };
  if (policy) request.policy_id = policy;
  api("POST", "/api/v1/conversations/" + current + "/messages", request)
    .then((m) => {
      pendingSend = null;
      area.value = "";
      growComposer();
      add(m);
      const c = conversations.get(m.conversation_id);
      if (c) { c.last_read_seq = Math.max(c.last_read_seq, m.seq); bump(c, m); }
      renderMessages(true);
      renderList();
      status("");
    })
    .catch(fail);
}

// ---- the phone drawer ----

function openDrawer() {
  document.body.classList.add("drawer-open");
  $("scrim").hidden = false;
  $("sidebar").querySelector("button.conversation, summary")?.focus();
}

function closeDrawer() {
  document.body.classList.remove("drawer-open");
  $("scrim").hidden = true;
}

async function main() {
  me = await start();
  $("enterprise-name").textContent = me.enterprise.name;
  await loadPeople();
  await loadConversations();
  templates = await api("GET", "/api/v1/enterprises/" + me.enterprise.id + "/message-policies").catch(() => []);
  $("policy").replaceChildren(h("option", { value: "" }, "No policy"), ...templates.map((t) => h("option", { value: t.id }, t.name)));
  $("policy-label").hidden = templates.length === 0;
  // No-copy messages: the page refuses to copy them (the server refuses their files).
  document.addEventListener("copy", (ev) => {
    const sel = document.getSelection();
    const inside = (node) => (node?.nodeType === 1 ? node : node?.parentElement)?.closest(".no-copy");
    if (sel && (inside(sel.anchorNode) || inside(sel.focusNode))) {
      ev.preventDefault();
      status("This message may not be copied.", true);
    }
  });
  // Burn-after-reading countdowns tick each second; at zero the message is gone for you.
  setInterval(() => {
    if (!current) return;
    const burning = [...(messages.get(current) || new Map()).values()].filter((m) => m.control?.burns_at);
    if (burning.length === 0) return;
    const burnt = burning.filter((m) => new Date(m.control.burns_at) <= Date.now()).map((m) => m.id);
    if (burnt.length) drop(current, burnt);
    // An open editor keeps its draft through a redraw; the thread panel counts down too.
    renderMessages(false);
    renderThread();
  }, 1000);
  $("older").addEventListener("click", () => loadOlder().catch(fail));
  $("close-thread").addEventListener("click", () => { closeThreadPanel(); $("body").focus(); });
  $("thread-panel").addEventListener("keydown", (ev) => { if (ev.key === "Escape") { closeThreadPanel(); $("body").focus(); } });
  $("thread-composer").addEventListener("submit", (ev) => { ev.preventDefault(); sendReply(); });
  $("thread-body").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendReply(); }
  });
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch().catch(fail); });
  $("search-here").addEventListener("change", () => runSearch().catch(fail));
  $("close-results").addEventListener("click", () => { closeResults(); $("search-q").focus(); });
  $("results").addEventListener("keydown", (ev) => { if (ev.key === "Escape") { closeResults(); $("search-q").focus(); } });
  $("new-direct").addEventListener("submit", (ev) => {
    ev.preventDefault();
    api("POST", "/api/v1/conversations/direct", { user_id: $("direct-with").value })
      .then(async (c) => { c.last_activity = Date.now(); conversations.set(c.id, c); $("start").open = false; await open(c.id); })
      .catch(fail);
  });
  $("new-group").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const members = [...$("group-members").selectedOptions].map((o) => o.value);
    api("POST", "/api/v1/conversations/group", { title: $("group-title").value, member_ids: members })
      .then(async (c) => { ev.target.reset(); c.last_activity = Date.now(); conversations.set(c.id, c); $("start").open = false; await open(c.id); })
      .catch(fail);
  });
  $("add-member").addEventListener("submit", (ev) => {
    ev.preventDefault();
    api("POST", "/api/v1/conversations/" + current + "/members", { user_id: $("add-member-user").value })
      .then((c) => { Object.assign(conversations.get(c.id), c); renderMembers(); })
      .catch(fail);
  });
  $("leave-group").addEventListener("click", async () => {
    const id = current;
    if (!(await confirmAction("Leave " + titleOf(conversations.get(id)) + "? You will no longer see its messages.", "Leave"))) return;
    api("DELETE", "/api/v1/conversations/" + id + "/members/" + me.user.id)
      .then(async () => { messages.delete(id); closeThread(); await loadConversations(); })
      .catch(fail);
  });
  $("mute").addEventListener("click", () => {
    const id = current;
    api("PUT", "/api/v1/conversations/" + id + "/preferences", { muted: !isMuted(id) })
      .then((c) => { conversations.get(id).muted = c.muted; renderMute(); renderList(); })
      .catch(fail);
  });
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  $("later").addEventListener("click", () => toggleLater($("schedule-row").hidden));
  $("default-policy").addEventListener("change", () => {
    const id = current;
    const policy = $("default-policy").value || null;
    api("PUT", "/api/v1/conversations/" + id + "/default-policy", { policy_id: policy })
      .then((c) => {
        conversations.get(id).default_policy_id = c.default_policy_id;
        if (id === current) $("policy").value = c.default_policy_id || "";
        status(policy ? "New messages here are sent under " + templates.find((t) => t.id === policy).name + " unless the sender picks another." : "No default policy here.");
      })
      .catch(fail);
  });
  $("schedule-close").addEventListener("click", () => { toggleLater(false); $("body").focus(); });
  $("schedule-send").addEventListener("click", () => scheduleSend().catch(fail));
  const area = $("body");
  area.addEventListener("input", () => {
    growComposer();
    // Tell the others at most every three seconds while writing.
    if (current && area.value.trim() && Date.now() - typingSentAt > 3000) {
      typingSentAt = Date.now();
      api("POST", "/api/v1/conversations/" + current + "/typing").catch(() => {});
    }
    completion = completions(area.value, area.selectionStart);
    if (completion) completion.index = 0;
    renderCompletion();
  });
  area.addEventListener("keydown", (ev) => {
    if (completion && completion.items.length > 0) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const n = completion.items.length;
        completion.index = (completion.index + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
        renderCompletion();
        return;
      }
      if (ev.key === "Enter" || ev.key === "Tab") { ev.preventDefault(); choose(completion.index); return; }
      if (ev.key === "Escape") { ev.preventDefault(); completion = null; renderCompletion(); return; }
    }
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
    if (ev.key === "ArrowUp" && area.value === "") {
      // Edit your last message, as in most chat apps.
      const mine = [...(messages.get(current) || new Map()).values()].filter((m) => m.sender_id === me.user.id && !m.deleted && m.body !== null).sort((a, b) => b.seq - a.seq)[0];
      if (mine) { ev.preventDefault(); editing = { id: mine.id, draft: mine.body }; renderMessages(false); }
    }
  });
  area.addEventListener("blur", () => { completion = null; renderCompletion(); });
  area.addEventListener("paste", (ev) => {
    const files = [...(ev.clipboardData?.files || [])];
    if (files.length > 0) {
      ev.preventDefault();
      for (const f of files) upload(f);
    }
  });
  document.addEventListener("visibilitychange", () => markRead().catch(fail));
  $("file").addEventListener("change", (ev) => {
    for (const f of ev.target.files) upload(f);
    ev.target.value = "";
  });
  const thread = $("thread");
  thread.addEventListener("dragover", (ev) => {
    if (!current) return;
    ev.preventDefault();
    thread.classList.add("dragging");
  });
  thread.addEventListener("dragleave", () => thread.classList.remove("dragging"));
  thread.addEventListener("drop", (ev) => {
    ev.preventDefault();
    thread.classList.remove("dragging");
    for (const f of ev.dataTransfer.files) upload(f);
  });
  $("open-drawer").addEventListener("click", openDrawer);
  $("close-drawer").addEventListener("click", closeDrawer);
  $("scrim").addEventListener("click", closeDrawer);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && document.body.classList.contains("drawer-open")) closeDrawer(); });
  if ("Notification" in window && Notification.permission === "default") {
    $("notify").hidden = false;
    $("notify").addEventListener("click", async () => {
      await Notification.requestPermission();
      $("notify").hidden = true;
    });
  }
  // Relative times age, presence changes: redraw each minute; typing notes fade after a while.
  setInterval(() => {
    loadPeople().then(renderList).catch(() => {});
    if (current && !editing) renderMessages(false);
  }, 60000);
  setInterval(renderTyping, 2000);
  connectLive((event) => handle(event).catch(fail), (state) => {
    $("live").textContent = state;
    $("live").className = state === "live" ? "on" : "muted";
  });
  const wanted = /^#c=([0-9a-f-]{36})$/.exec(location.hash);
  if (wanted && conversations.has(wanted[1])) await open(wanted[1]);
}

main().catch(fail);
