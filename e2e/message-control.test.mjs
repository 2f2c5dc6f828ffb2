// Message control in the browser: an admin writes templates in the console; a sender picks one;
// a message is forwarded along A → B → C → D and the author sees where it went; a recall makes
// every copy vanish live in every browser and stay gone after a reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { newPage, signIn, startWith, finish, SCREENSHOTS as OUT } from "./harness.mjs";

let conclave;
let browser;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["root@mc.example", "Rhea Root", "enterprise-admin"],
    ["ada@mc.example", "Ada Lovelace", "member"],
    ["bob@mc.example", "Bob Babbage", "member"],
    ["cy@mc.example", "Cy Clerk", "member"],
    ["dan@mc.example", "Dan Dee", "member"],
  ]));
});

after(() => finish(conclave, browser));

async function person(email) {
  const p = await newPage(browser);
  await signIn(p.page, conclave.url, email);
  await p.page.waitForSelector("#live.on");
  return p.page;
}

/// Opens (creating if need be) the direct conversation with `name`.
async function directWith(page, name, email) {
  await page.click("#start summary");
  await page.selectOption("#direct-with", { label: `${name} <${email}>` });
  await page.click("#new-direct button");
  await page.waitForSelector(`#thread-title:has-text('${name}')`);
}

async function forward(page, text, toName) {
  const item = page.locator(`#messages li:has-text('${text}')`).first();
  await item.hover();
  await item.locator("button:has-text('Forward')").click();
  await page.selectOption("#forward-to", { label: toName });
  await page.click("#forward-dialog button[data-yes]");
  await page.waitForSelector(`#status:has-text('Forwarded to ${toName}')`);
}

test("templates are written in the console and picked in the composer; the server holds a no-forward message", async () => {
  const root = await person("root@mc.example");
  await root.goto(`${conclave.url}/admin`);
  // The editor is ready once the list of templates is drawn.
  await root.waitForSelector("#templates tbody tr");
  await root.fill("#template-form [name=name]", "Board only");
  await root.check("#template-form [name=no_forward]");
  await root.fill("#template-form [name=expire_n]", "2");
  await root.selectOption("#template-form [name=expire_unit]", { label: "days" });
  await root.click("#template-form button[type=submit]");
  await root.waitForSelector("#templates tr:has-text('Board only'):has-text('no forwarding')");
  // A window that ends before it starts is refused with the field named.
  await root.fill("#template-form [name=name]", "Backwards");
  await root.fill("#template-form [name=readable_from]", "2031-01-02T09:00");
  await root.fill("#template-form [name=readable_until]", "2031-01-01T09:00");
  await root.click("#template-form button[type=submit]");
  await root.waitForSelector("#status:has-text('must end after it starts')");
  for (const [size, viewport] of [["desktop", { width: 1280, height: 900 }], ["phone", { width: 390, height: 844 }]]) {
    await root.setViewportSize(viewport);
    await root.locator("#templates-heading").scrollIntoViewIfNeeded();
    await root.screenshot({ path: `${OUT}admin-templates-${size}.png`, animations: "disabled" });
  }

  const ada = await person("ada@mc.example");
  const bob = await person("bob@mc.example");
  await directWith(ada, "Bob Babbage", "bob@mc.example");
  await ada.selectOption("#policy", { label: "Board only" });
  await ada.fill("#body", "Minutes of the board, do not pass on.");
  await ada.keyboard.press("Enter");
  await ada.waitForSelector("#messages li:has-text('Minutes of the board') .policy-chip:has-text('Board only')");
  await bob.click("#conversations button:has-text('Ada Lovelace')");
  const item = bob.locator("#messages li:has-text('Minutes of the board')");
  await item.waitFor();
  await item.hover();
  assert.equal(await item.locator("button:has-text('Forward')").count(), 0, "no Forward button under no-forward");
  assert.match(await item.locator(".policy-chip").textContent(), /no forwarding/);
  // The server refuses it anyway, whatever a client offers.
  const refused = await bob.evaluate(async () => {
    const id = document.querySelector("#messages li.message").dataset.id;
    const conversation = location.hash.slice(3);
    const csrf = (await (await fetch("/api/v1/me")).json()).csrf_token;
    const list = await (await fetch("/api/v1/conversations")).json();
    const other = list.find((c) => c.id !== conversation)?.id ?? conversation;
    const res = await fetch(`/api/v1/conversations/${conversation}/messages/${id}/forward`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ conversation_id: other }),
    });
    return { status: res.status, type: (await res.json()).type };
  });
  assert.deepEqual(refused, { status: 403, type: "/problems/message-policy" });
  for (const p of [root, ada, bob]) await p.context().close();
});

test("A sends to B, B forwards to C, C to D; A sees the tree and recalls; every copy vanishes live and after a reload", async () => {
  const ada = await person("ada@mc.example");
  const bob = await person("bob@mc.example");
  const cy = await person("cy@mc.example");
  const dan = await person("dan@mc.example");
  await directWith(ada, "Bob Babbage", "bob@mc.example");
  await ada.fill("#body", "The launch moves to Friday.");
  await ada.keyboard.press("Enter");
  await ada.waitForSelector("#messages li:has-text('moves to Friday')");

  await directWith(bob, "Cy Clerk", "cy@mc.example");
  await bob.click("#conversations button:has-text('Ada Lovelace')");
  await bob.waitForSelector("#messages li:has-text('moves to Friday')");
  await forward(bob, "moves to Friday", "Cy Clerk");

  await directWith(cy, "Dan Dee", "dan@mc.example");
  await cy.click("#conversations button:has-text('Bob Babbage')");
  await cy.waitForSelector("#messages li:has-text('moves to Friday') .forwarded:has-text('from Ada Lovelace')");
  await forward(cy, "moves to Friday", "Dan Dee");

  await dan.click("#conversations button:has-text('Cy Clerk')");
  await dan.waitForSelector("#messages li:has-text('moves to Friday') .forwarded:has-text('2 hops')");

  // Ada sees how far it went, at every depth.
  await ada.reload();
  await ada.click("#conversations button:has-text('Bob Babbage')");
  await ada.click("#messages li:has-text('moves to Friday') button:has-text('Forwarded 2 times')");
  await ada.waitForSelector("#forward-tree li:has-text('Bob Babbage forwarded it to Cy Clerk'):has-text('Read')");
  await ada.waitForSelector("#forward-tree li.depth-2:has-text('Cy Clerk forwarded it to Dan Dee')");
  await ada.screenshot({ path: `${OUT}forward-tree-desktop.png`, animations: "disabled" });
  await ada.click("#forwards-dialog button:has-text('Close')");

  const item = ada.locator("#messages li:has-text('moves to Friday')");
  await item.hover();
  await item.locator("button:has-text('Recall')").click();
  await ada.click("#confirm button[data-yes]");
  await ada.waitForSelector("#status:has-text('Recalled: 3 messages removed in 3 conversations')");
  for (const page of [ada, bob, cy, dan]) {
    await page.waitForSelector("#messages li:has-text('moves to Friday')", { state: "detached" });
  }
  for (const page of [bob, cy, dan]) {
    await page.reload();
    await page.waitForSelector("#live.on");
    // The page reopens the conversation it showed (its address says which).
    await page.waitForSelector("#composer:not([hidden])");
    assert.equal(await page.locator("#messages li:has-text('moves to Friday')").count(), 0);
  }
  await dan.setViewportSize({ width: 390, height: 844 });
  await dan.screenshot({ path: `${OUT}after-recall-phone.png`, animations: "disabled" });
  for (const p of [ada, bob, cy, dan]) await p.context().close();
});

test("a message outside its network shows why it is hidden; burn after reading reveals, counts down and is counted", async () => {
  const root = await person("root@mc.example");
  await root.goto(`${conclave.url}/admin`);
  // The editor is ready once the list of templates is drawn.
  await root.waitForSelector("#templates tbody tr");
  await root.fill("#template-form [name=name]", "Office network");
  // The browsers here connect from 127.0.0.1: outside this network.
  await root.fill("#template-form [name=networks]", "10.0.0.0/8");
  await root.click("#template-form button[type=submit]");
  await root.waitForSelector("#templates tr:has-text('Office network'):has-text('10.0.0.0/8')");
  await root.fill("#template-form [name=name]", "Read once");
  await root.fill("#template-form [name=burn_n]", "1");
  await root.selectOption("#template-form [name=burn_unit]", { label: "minutes" });
  await root.click("#template-form button[type=submit]");
  await root.waitForSelector("#templates tr:has-text('Read once'):has-text('burns 1 minute after reading')");
  await root.context().close();

  const ada = await person("ada@mc.example");
  const bob = await person("bob@mc.example");
  await directWith(ada, "Bob Babbage", "bob@mc.example");
  await bob.click("#conversations button:has-text('Ada Lovelace')");
  await ada.selectOption("#policy", { label: "Office network" });
  await ada.fill("#body", "The safe opens with 4711.");
  await ada.keyboard.press("Enter");
  await ada.selectOption("#policy", { label: "Read once" });
  await ada.fill("#body", "Meet at the north gate.");
  await ada.keyboard.press("Enter");
  // Bob receives both live, without their words.
  await bob.waitForSelector("#messages li .text.restricted:has-text('readable only on the allowed networks')");
  await bob.waitForSelector("#messages li .text.concealed button:has-text('Reveal')");
  assert.equal(await bob.locator("#messages li:has-text('4711')").count(), 0);
  assert.equal(await bob.locator("#messages li:has-text('north gate')").count(), 0);
  for (const [size, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
    await bob.setViewportSize(viewport);
    await bob.screenshot({ path: `${OUT}restricted-${size}.png`, animations: "disabled" });
  }
  await bob.setViewportSize({ width: 1280, height: 800 });
  await bob.click("#messages li button:has-text('Reveal')");
  await bob.waitForSelector("#messages li:has-text('Meet at the north gate.') .burn:has-text('burns in 0:')");
  await bob.screenshot({ path: `${OUT}burn-desktop.png`, animations: "disabled" });
  // The author learns, live, that it was revealed.
  await ada.waitForSelector("#messages li:has-text('north gate') .policy-chip:has-text('revealed by 1')");
  for (const p of [ada, bob]) await p.context().close();
});

test("a message scheduled for later waits, can be cancelled, and arrives live at its time", async () => {
  const ada = await person("ada@mc.example");
  const bob = await person("bob@mc.example");
  await directWith(ada, "Bob Babbage", "bob@mc.example");
  await bob.click("#conversations button:has-text('Ada Lovelace')");
  // Through the composer: next hour by default, listed with a way to cancel it.
  await ada.fill("#body", "Standup moved to ten.");
  await ada.click("#later");
  await ada.click("#schedule-send");
  await ada.waitForSelector("#scheduled li:has-text('Standup moved to ten.')");
  for (const [size, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
    await ada.setViewportSize(viewport);
    await ada.screenshot({ path: `${OUT}scheduled-${size}.png`, animations: "disabled" });
  }
  await ada.setViewportSize({ width: 1280, height: 800 });
  await ada.click("#scheduled li:has-text('Standup moved to ten.') button:has-text('Cancel')");
  await ada.waitForSelector("#scheduled-panel", { state: "hidden" });
  // Two seconds ahead (the API takes seconds; the picker minutes): Bob sees it arrive by itself.
  await ada.evaluate(async () => {
    const conversation = location.hash.slice(3);
    const csrf = (await (await fetch("/api/v1/me")).json()).csrf_token;
    const res = await fetch(`/api/v1/conversations/${conversation}/scheduled`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ body: "Coffee is ready.", deliver_at: new Date(Date.now() + 2000).toISOString() }),
    });
    if (res.status !== 201) throw new Error("scheduling failed: " + res.status);
  });
  assert.equal(await bob.locator("#messages li:has-text('Coffee is ready.')").count(), 0, "not before its time");
  await bob.waitForSelector("#messages li:has-text('Coffee is ready.')", { timeout: 10000 });
  await ada.waitForSelector("#messages li:has-text('Coffee is ready.')");
  assert.equal(await bob.locator("#messages li:has-text('Standup moved to ten.')").count(), 0, "the cancelled one never came");
  for (const p of [ada, bob]) await p.context().close();
});

test("a group's owner sets the template its messages get by default", async () => {
  const ada = await person("ada@mc.example");
  await ada.click("#start summary");
  await ada.fill("#group-title", "Board room");
  await ada.selectOption("#group-members", [{ label: "Bob Babbage <bob@mc.example>" }]);
  await ada.click("#new-group button[type=submit]");
  await ada.waitForSelector("#thread-title:has-text('Board room')");
  await ada.click("#members-panel summary");
  await ada.selectOption("#default-policy", { label: "Board only by default" });
  await ada.waitForSelector("#status:has-text('unless the sender picks another')");
  assert.equal(await ada.inputValue("#policy") !== "", true, "the composer follows the default");
  await ada.fill("#body", "Agenda for Monday.");
  await ada.keyboard.press("Enter");
  await ada.waitForSelector("#messages li:has-text('Agenda for Monday.') .policy-chip:has-text('Board only')");
  await ada.context().close();
});
