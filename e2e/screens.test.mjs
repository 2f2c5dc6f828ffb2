// What people see: every main page at desktop and phone width, in the light and the dark theme.
// Each is written to e2e/screenshots/ for a reviewer to look at, and checked for what a picture
// would show: nothing wider than the screen, one top-level heading, no control without a name.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { newPage, signIn, startWith, finish, SCREENSHOTS as OUT } from "./harness.mjs";

const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
let conclave;
let browser;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["root@screens.example", "Rosa Root", "enterprise-admin,security"],
    ["ada@screens.example", "Ada Lovelace", "member"],
    ["bob@screens.example", "Bob Babbage", "member"],
  ]));
  // Some history to look at: a conversation with formatting, a mention and a file.
  const { context, page } = await newPage(browser);
  await signIn(page, conclave.url, "bob@screens.example");
  await page.evaluate(async () => {
    const me = await (await fetch("/api/v1/me")).json();
    const people = await (await fetch("/api/v1/directory")).json();
    const ada = people.find((p) => p.email.startsWith("ada@"));
    const call = (path, body) => fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token }, body: JSON.stringify(body) }).then((r) => r.json());
    const c = await call("/api/v1/conversations/direct", { user_id: ada.id });
    for (const body of [
      "Morning @ada! The **difference engine** review is at 10:00.",
      "Agenda:\n- tolerances of the _second_ column\n- `carry` mechanism\n- budget :rocket:",
      "Notes from last time: https://example.org/notes",
      "> The engine must not round.\nAgreed?",
    ]) await call(`/api/v1/conversations/${c.id}/messages`, { body });
    // A photo-like picture, so the screenshots show an image preview.
    const canvas = document.createElement("canvas");
    canvas.width = 1200; canvas.height = 800;
    const g = canvas.getContext("2d");
    const sky = g.createLinearGradient(0, 0, 0, 800);
    sky.addColorStop(0, "#5b8fc7"); sky.addColorStop(1, "#e8d7b0");
    g.fillStyle = sky; g.fillRect(0, 0, 1200, 800);
    g.fillStyle = "#3d5a3a"; g.beginPath(); g.moveTo(0, 800); g.lineTo(380, 420); g.lineTo(700, 640); g.lineTo(980, 380); g.lineTo(1200, 800); g.fill();
    const png = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    await fetch(`/api/v1/conversations/${c.id}/attachments?name=engine-site.png&caption=${encodeURIComponent("The site, from the north ridge")}`,
      { method: "POST", headers: { "Content-Type": "image/png", "X-CSRF-Token": me.csrf_token }, body: png });
    // A report for the desk, as a finder sends it.
    await fetch("/api/v1/security/reports", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ title: "Password reset link valid after use", description: "The link in the reset mail works a second time, for 24 hours.", affected_urls: [location.origin + "/reset"] }) });
  });
  await context.close();
});

after(() => finish(conclave, browser));

async function check(page, name) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `${name} is ${overflow}px wider than the screen`);
  assert.equal(await page.locator("h1").count(), 1, `${name} has one top-level heading`);
  const unnamed = await page.evaluate(() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby") && !(el.tagName === "BUTTON" && el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, [], `${name}: every visible control has a name`);
  assert.deepEqual(page.cspViolations, [], `${name}: no CSP violations`);
}

for (const scheme of ["light", "dark"]) {
  for (const [size, viewport] of Object.entries(SIZES)) {
    test(`main pages at ${size} width in the ${scheme} theme`, async () => {
      const shot = async (page, name) => {
        // Transitions (the drawer sliding away) are finished at once, so the picture is the end state.
        await page.screenshot({ path: `${OUT}${name}-${size}-${scheme}.png`, fullPage: name !== "app" && name !== "search", animations: "disabled" });
        await check(page, `${name} (${size}, ${scheme})`);
      };
      const visitor = await newPage(browser, { viewport, colorScheme: scheme });
      for (const [name, path] of [["signin", "/signin"], ["security", "/security"], ["security-report", "/security/report"], ["security-incident", "/security/incident"], ["advisories", "/security/advisories"], ["not-found", "/no/such/page"]]) {
        await visitor.page.goto(conclave.url + path);
        await shot(visitor.page, name);
      }
      await visitor.context.close();

      const ada = await newPage(browser, { viewport, colorScheme: scheme });
      await signIn(ada.page, conclave.url, "ada@screens.example");
      await ada.page.waitForSelector("#live.on", { state: "attached" });
      if (size === "phone") {
        // The conversation list is a drawer at phone width.
        await ada.page.click("#open-drawer");
        await ada.page.waitForSelector("body.drawer-open");
        await ada.page.screenshot({ path: `${OUT}app-drawer-${size}-${scheme}.png`, animations: "disabled" });
      }
      await ada.page.click("#conversations button:has-text('Bob Babbage')");
      await ada.page.waitForSelector("#messages li:has-text('Agreed?')");
      assert.equal(await ada.page.locator("#messages .mention.me").count(), 1, "Ada's mention is highlighted");
      assert.equal(await ada.page.locator("#messages strong:has-text('difference engine')").count(), 1, "Markdown is rendered");
      assert.equal(await ada.page.getAttribute("#messages a[href='https://example.org/notes']", "rel"), "noopener noreferrer");
      await ada.page.fill("#body", "Yes, see you at 10 @b");
      await ada.page.waitForSelector("#mention-list li:has-text('Bob Babbage')");
      await shot(ada.page, "app");
      // Search over the encrypted history: results over the conversation, the words marked.
      if (size === "phone") {
        await ada.page.click("#open-drawer");
        await ada.page.waitForSelector("body.drawer-open");
      }
      await ada.page.fill("#search-q", "engine");
      await ada.page.press("#search-q", "Enter");
      await ada.page.waitForSelector("#result-list li mark:has-text('engine')");
      await shot(ada.page, "search");
      // A thread beside the conversation (over it at phone width).
      await ada.page.click("#close-results");
      await ada.page.hover("#messages li:has-text('Agreed?')");
      await ada.page.click("#messages li:has-text('Agreed?') button:has-text('Reply in thread')");
      await ada.page.waitForSelector("#thread-messages li:has-text('Agreed?')");
      // One reply over all four runs: an earlier theme's run may have posted it already.
      if (await ada.page.locator("#thread-messages li:has-text('no rounding anywhere')").count() === 0) {
        await ada.page.fill("#thread-body", "Agreed: no rounding anywhere.");
        await ada.page.keyboard.press("Enter");
      }
      await ada.page.waitForSelector("#thread-messages li:has-text('no rounding anywhere')");
      await shot(ada.page, "thread");
      await ada.page.click("#close-thread");
      await ada.page.goto(conclave.url + "/settings");
      await ada.page.waitForSelector("#devices tbody tr");
      await shot(ada.page, "settings");
      await ada.page.goto(conclave.url + "/admin");
      await shot(ada.page, "admin-not-for-member");
      await ada.context.close();

      const root = await newPage(browser, { viewport, colorScheme: scheme });
      await signIn(root.page, conclave.url, "root@screens.example");
      await root.page.goto(conclave.url + "/admin");
      await root.page.waitForSelector("#users tbody tr:has-text('Ada Lovelace')");
      await shot(root.page, "admin");
      if (size === "desktop" && scheme === "light") {
        // The audit log, filtered by network although addresses are stored encrypted.
        await root.page.fill("#audit-filter [name=where]", "127.0.0.0/24");
        await root.page.click("#audit-filter button[type=submit]");
        await root.page.waitForSelector("#audit tbody tr td:has-text('127.0.0.1')");
        await root.page.fill("#audit-filter [name=where]", "192.0.2.0/24");
        await root.page.click("#audit-filter button[type=submit]");
        await root.page.waitForFunction(() => document.querySelectorAll("#audit tbody tr").length === 0);
        await root.page.fill("#audit-filter [name=where]", "");
      }
      await root.page.goto(conclave.url + "/desk");
      await root.page.waitForSelector("#reports tbody tr a:has-text('Password reset link')");
      await shot(root.page, "desk");
      if (size === "desktop" && scheme === "light") {
        // Triage it once (the other screens then show it triaged).
        await root.page.click("#reports a:has-text('Password reset link')");
        await root.page.selectOption("#report-state", "triaging");
        await root.page.click("#state-form button");
        await root.page.waitForSelector("#report-now:has-text('Being assessed')");
        await root.page.fill("#cvss-v4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N");
        await root.page.click("#triage-form button[type=submit]");
        await root.page.waitForSelector("#cvss-v4-score:has-text('Score')");
      }
      await root.page.click("#reports a:has-text('Password reset link')");
      await root.page.waitForSelector("#report-clocks tbody tr");
      await shot(root.page, "desk-report");
      await root.context.close();
    });
  }
}
