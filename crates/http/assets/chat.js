// Conversations in the browser: list with unread counts, history with scroll-back, composer,
// edit and delete of your own messages, read receipts, and live updates over one WebSocket.
// Resume protocol: on every (re)connect the server says {"type":"ready"}; we then fetch what we
// missed with ?after=<last seq we hold>, so a dropped or cut connection loses nothing.
"use strict";
const chat = (() => {
  let me = null;
  let current = null;
  let socket = null;
  let retryMs = 500;
  let ended = false;
  const people = new Map();         // user id -> {id, name, email}
  const conversations = new Map();  // conversation id -> ConversationView
  const messages = new Map();       // conversation id -> Map(seq -> MessageView)
  const receipts = new Map();       // conversation id -> Map(user id -> seq)
  const $ = (id) => document.getElementById(id);

  function nameOf(id) {
    const p = people.get(id);
    return p ? p.name : "someone";
  }

  function titleOf(c) {
    if (c.title) return c.title;
    const other = c.member_ids.find((id) => id !== me.user.id);
    return other ? nameOf(other) : "Just you";
  }

  function seqs(id) {
    return [...(messages.get(id) || new Map()).keys()];
  }

  async function loadPeople() {
    const list = await conclave.api("GET", "/api/v1/directory");
    const direct = $("direct-with");
    const group = $("group-members");
    direct.replaceChildren();
    group.replaceChildren();
    for (const p of list) {
      people.set(p.id, p);
      if (p.id === me.user.id) continue;
      for (const select of [direct, group]) {
        const option = document.createElement("option");
        option.value = p.id;
        option.textContent = p.name + " <" + p.email + ">";
        select.appendChild(option);
      }
    }
  }

  async function loadTeams() {
    const teams = await conclave.api("GET", "/api/v1/enterprises/" + me.enterprise.id + "/teams");
    const select = $("team-channel");
    select.replaceChildren();
    for (const t of teams.filter((t) => !t.archived)) {
      const option = document.createElement("option");
      option.value = t.id;
      option.textContent = t.name;
      select.appendChild(option);
    }
    $("join-team").hidden = select.options.length === 0;
  }

  async function loadConversations() {
    const list = await conclave.api("GET", "/api/v1/conversations");
    conversations.clear();
    for (const c of list) conversations.set(c.id, c);
    renderList();
  }

  function renderList() {
    const ul = $("conversations");
    ul.replaceChildren();
    for (const c of conversations.values()) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.id = c.id;
      if (c.id === current) b.className = "current";
      const name = document.createElement("span");
      name.textContent = titleOf(c);
      b.appendChild(name);
      if (c.unread > 0 && c.id !== current) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = String(c.unread);
        b.appendChild(badge);
      }
      b.addEventListener("click", () => open(c.id).catch(fail));
      li.appendChild(b);
      ul.appendChild(li);
    }
  }

  function add(m) {
    if (!messages.has(m.conversation_id)) messages.set(m.conversation_id, new Map());
    messages.get(m.conversation_id).set(m.seq, m);
    const c = conversations.get(m.conversation_id);
    if (c && m.seq > c.last_seq) c.last_seq = m.seq;
  }

  async function open(id) {
    current = id;
    const c = conversations.get(id);
    $("thread-title").textContent = titleOf(c);
    $("thread-title").className = "";
    $("composer").hidden = false;
    $("drop-hint").hidden = false;
    renderMembers();
    if (!messages.has(id)) {
      const page = await conclave.api("GET", "/api/v1/conversations/" + id + "/messages?limit=50");
      for (const m of page) add(m);
      if (!messages.has(id)) messages.set(id, new Map());
    }
    renderList();
    renderMessages(true);
    await markRead();
    $("body").focus();
  }

  // Groups show their members; the owner adds and removes, anyone else may leave.
  function renderMembers() {
    const c = conversations.get(current);
    const panel = $("members-panel");
    panel.hidden = !c || c.kind !== "group";
    if (panel.hidden) return;
    const owner = c.owner_ids.includes(me.user.id);
    const list = $("member-list");
    list.replaceChildren();
    for (const id of c.member_ids) {
      const li = document.createElement("li");
      li.textContent = nameOf(id) + (c.owner_ids.includes(id) ? " (owner)" : "");
      if (owner && id !== me.user.id) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.textContent = "Remove";
        remove.addEventListener("click", () =>
          conclave.api("DELETE", "/api/v1/conversations/" + c.id + "/members/" + id)
            .then(loadConversations).then(renderMembers).catch(fail));
        li.appendChild(remove);
      }
      list.appendChild(li);
    }
    const select = $("add-member-user");
    select.replaceChildren();
    for (const p of people.values()) {
      if (c.member_ids.includes(p.id)) continue;
      const option = document.createElement("option");
      option.value = p.id;
      option.textContent = p.name + " <" + p.email + ">";
      select.appendChild(option);
    }
    $("add-member").hidden = !owner || select.options.length === 0;
    $("leave-group").hidden = owner;
  }

  function closeThread() {
    current = null;
    $("thread-title").textContent = "Pick a conversation";
    $("thread-title").className = "muted";
    $("composer").hidden = true;
    $("drop-hint").hidden = true;
    $("members-panel").hidden = true;
    $("messages").replaceChildren();
  }

  async function loadOlder() {
    const have = seqs(current);
    if (have.length === 0) return;
    const oldest = Math.min(...have);
    const page = await conclave.api("GET", "/api/v1/conversations/" + current + "/messages?limit=50&before=" + oldest);
    for (const m of page) add(m);
    renderMessages(false);
  }

  function renderMessages(scrollToEnd) {
    const ol = $("messages");
    const atEnd = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
    ol.replaceChildren();
    const list = [...(messages.get(current) || new Map()).values()].sort((a, b) => a.seq - b.seq);
    $("older").hidden = list.length === 0 || list[0].seq <= 1;
    const others = receipts.get(current) || new Map();
    const seenUpTo = Math.max(0, ...[...others.entries()].filter(([u]) => u !== me.user.id).map(([, s]) => s));
    const lastSeenMine = list.filter((m) => m.sender_id === me.user.id && m.seq <= seenUpTo).map((m) => m.seq).pop();
    for (const m of list) {
      const li = document.createElement("li");
      li.dataset.seq = String(m.seq);
      const mine = m.sender_id === me.user.id;
      if (mine) li.className = "mine";
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = nameOf(m.sender_id) + " · " + conclave.when(m.created_at) + (m.edited_at ? " · edited" : "") + (m.seq === lastSeenMine ? " · seen" : "");
      const text = document.createElement("div");
      text.className = m.deleted ? "text deleted" : "text";
      text.textContent = m.deleted ? "This message was deleted." : (m.body || "");
      if (m.attachment) {
        const file = document.createElement("div");
        file.className = "file";
        const link = document.createElement("a");
        link.href = "/api/v1/conversations/" + m.conversation_id + "/attachments/" + m.attachment.id;
        link.download = m.attachment.name;
        link.textContent = m.attachment.name;
        file.append(link, " (" + size(m.attachment.size) + ")");
        li.append(file);
      }
      if (mine && !m.deleted) {
        if (m.body !== null) {
          const edit = document.createElement("button");
          edit.type = "button";
          edit.className = "secondary";
          edit.textContent = "Edit";
          edit.addEventListener("click", () => startEdit(li, text, m));
          meta.append(edit);
        }
        const del = document.createElement("button");
        del.type = "button";
        del.className = "secondary";
        del.textContent = "Delete";
        del.addEventListener("click", () => act(async () => add(await conclave.api("DELETE", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id))));
        meta.append(del);
      }
      li.prepend(meta, text);
      ol.appendChild(li);
    }
    if (scrollToEnd || atEnd) ol.scrollTop = ol.scrollHeight;
  }

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  // Uploads with XMLHttpRequest: fetch cannot report upload progress.
  function upload(file) {
    if (!current) return;
    const bar = $("upload-progress");
    bar.hidden = false;
    bar.value = 0;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/conversations/" + current + "/attachments?name=" + encodeURIComponent(file.name));
    xhr.setRequestHeader("X-CSRF-Token", conclave.csrf());
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
        renderMessages(true);
        conclave.status("Sent " + file.name + ".");
      } else {
        conclave.status((data && data.detail) || ("Upload failed (HTTP " + xhr.status + ")"), true);
      }
    });
    xhr.addEventListener("error", () => {
      bar.hidden = true;
      conclave.status("The upload was interrupted.", true);
    });
    xhr.send(file);
  }

  function startEdit(li, text, m) {
    const area = document.createElement("textarea");
    area.value = m.body;
    area.rows = 2;
    area.setAttribute("aria-label", "Edit message");
    const save = document.createElement("button");
    save.type = "button";
    save.textContent = "Save";
    save.addEventListener("click", () => act(async () => add(await conclave.api("PATCH", "/api/v1/conversations/" + m.conversation_id + "/messages/" + m.id, { body: area.value }))));
    text.replaceWith(area);
    area.after(save);
    area.focus();
  }

  async function act(fn) {
    try {
      await fn();
      renderMessages(false);
    } catch (e) {
      fail(e);
    }
  }

  async function markRead() {
    if (!current || document.hidden) return;
    const c = conversations.get(current);
    const have = seqs(current);
    const last = have.length ? Math.max(...have) : 0;
    if (c && last > c.last_read_seq) {
      const r = await conclave.api("POST", "/api/v1/conversations/" + current + "/read", { seq: last });
      c.last_read_seq = r.last_read_seq;
      c.unread = Math.max(0, c.last_seq - c.last_read_seq);
      renderList();
    }
  }

  async function catchUp() {
    await loadConversations();
    const base = (id) => "/api/v1/conversations/" + id + "/messages?limit=200";
    for (const id of [...messages.keys()]) {
      // Every new message, page by page, however many were missed.
      const have = seqs(id);
      const held = have.length ? Math.max(...have) : 0;
      let after = held;
      for (;;) {
        const page = await conclave.api("GET", base(id) + "&after=" + after);
        for (const m of page) add(m);
        if (page.length < 200) break;
        after = Math.max(...page.map((m) => m.seq));
      }
      // Edits and deletions made while away keep their seq: the latest page before what was new
      // brings the recent ones again (a message is replaced by its seq).
      if (held > 0) for (const m of await conclave.api("GET", base(id) + "&before=" + (held + 1))) add(m);
    }
    if (current) {
      renderMessages(false);
      await markRead();
    }
  }

  async function handle(event) {
    switch (event.type) {
      case "ready":
        $("live").textContent = "live";
        $("live").className = "on";
        await catchUp();
        break;
      case "message-created":
      case "message-edited":
      case "message-deleted": {
        const m = event.message;
        if (!conversations.has(m.conversation_id)) await loadConversations();
        const known = messages.has(m.conversation_id);
        if (known) add(m);
        const c = conversations.get(m.conversation_id);
        if (m.conversation_id === current) {
          renderMessages(false);
          await markRead();
        } else if (c && event.type === "message-created" && m.sender_id !== me.user.id) {
          if (!known) c.last_seq = Math.max(c.last_seq, m.seq);
          c.unread = Math.max(0, c.last_seq - c.last_read_seq);
          renderList();
        }
        break;
      }
      case "receipt":
        if (!receipts.has(event.conversation_id)) receipts.set(event.conversation_id, new Map());
        receipts.get(event.conversation_id).set(event.user_id, event.seq);
        if (event.conversation_id === current) renderMessages(false);
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
        // Signed out elsewhere (or disabled): drop what this page holds and ask for a sign-in.
        ended = true;
        messages.clear();
        conversations.clear();
        $("messages").replaceChildren();
        conclave.leave();
        break;
      default:
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/v1/ws");
    let opened = false;
    socket.addEventListener("open", () => { opened = true; retryMs = 500; });
    socket.addEventListener("message", (ev) => {
      let event;
      try { event = JSON.parse(ev.data); } catch { return; }
      handle(event).catch(fail);
    });
    socket.addEventListener("close", (ev) => {
      if (ended || ev.code === 4001) {
        conclave.leave();
        return;
      }
      $("live").textContent = "reconnecting";
      $("live").className = "muted";
      // A refused upgrade (an ended session answers 401) shows up only as an abnormal close:
      // ask the API, which sends this page to the sign-in page on a 401.
      if (!opened) conclave.api("GET", "/api/v1/me").catch(() => {});
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    });
  }

  function fail(e) {
    conclave.status(e.message, true);
  }

  async function start(signedIn) {
    me = signedIn;
    await loadPeople();
    await loadTeams();
    await loadConversations();
    $("older").addEventListener("click", () => loadOlder().catch(fail));
    $("new-direct").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const user = $("direct-with").value;
      conclave.api("POST", "/api/v1/conversations/direct", { user_id: user })
        .then(async (c) => { conversations.set(c.id, c); await open(c.id); })
        .catch(fail);
    });
    $("join-team").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("POST", "/api/v1/conversations/team", { team_id: $("team-channel").value })
        .then(async (c) => { conversations.set(c.id, c); await open(c.id); })
        .catch(fail);
    });
    $("new-group").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const members = [...$("group-members").selectedOptions].map((o) => o.value);
      conclave.api("POST", "/api/v1/conversations/group", { title: $("group-title").value, member_ids: members })
        .then(async (c) => { ev.target.reset(); conversations.set(c.id, c); await open(c.id); })
        .catch(fail);
    });
    $("add-member").addEventListener("submit", (ev) => {
      ev.preventDefault();
      conclave.api("POST", "/api/v1/conversations/" + current + "/members", { user_id: $("add-member-user").value })
        .then((c) => { conversations.set(c.id, c); renderMembers(); })
        .catch(fail);
    });
    $("leave-group").addEventListener("click", () => {
      const id = current;
      conclave.api("DELETE", "/api/v1/conversations/" + id + "/members/" + me.user.id)
        .then(async () => { messages.delete(id); closeThread(); await loadConversations(); })
        .catch(fail);
    });
    const composer = $("composer");
    composer.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = $("body").value;
      if (!body.trim()) return;
      conclave.api("POST", "/api/v1/conversations/" + current + "/messages", { body })
        .then((m) => { $("body").value = ""; add(m); renderMessages(true); conclave.status(""); })
        .catch(fail);
    });
    $("body").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) {
        ev.preventDefault();
        composer.requestSubmit();
      }
    });
    document.addEventListener("visibilitychange", () => markRead().catch(fail));
    $("file").addEventListener("change", (ev) => {
      for (const f of ev.target.files) upload(f);
      ev.target.value = "";
    });
    const thread = document.querySelector(".thread");
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
    setInterval(() => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, 25000);
    connect();
  }

  return { start };
})();
