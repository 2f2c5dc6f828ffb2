// A4 in the browser: an admin signs a user's device out while its page is open; the page erases
// what it holds of Conclave at once and shows sign-in; the console shows the acknowledgement.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { newPage, signIn, startWith, finish, SCREENSHOTS as OUT } from "./harness.mjs";

let conclave;
let browser;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["root@dev.example", "Rhea Root", "enterprise-admin"],
    ["bob@dev.example", "Bob Babbage", "member"],
  ]));
});

after(() => finish(conclave, browser));

test("an admin signs a device out; the page erases its storage within a second and the console shows it", async () => {
  const bob = await newPage(browser);
  await signIn(bob.page, conclave.url, "bob@dev.example");
  await bob.page.waitForSelector("#live.on");
  // Something the page keeps: it must be gone afterwards.
  await bob.page.evaluate(async () => {
    localStorage.setItem("draft", "the merger is on");
    sessionStorage.setItem("scroll", "42");
    await new Promise((resolve) => {
      const open = indexedDB.open("conclave-cache", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("messages");
      open.onsuccess = () => { open.result.close(); resolve(); };
    });
    await (await caches.open("conclave-assets")).put("/x", new Response("cached"));
  });

  const root = await newPage(browser);
  await signIn(root.page, conclave.url, "root@dev.example");
  await root.page.goto(`${conclave.url}/admin`);
  const row = root.page.locator("#users tr:has-text('Bob Babbage')");
  await row.locator("button:has-text('Devices')").click();
  await root.page.click("tr.detail button:has-text('Sign out and erase')");
  const started = Date.now();
  await root.page.click("#confirm button[data-yes]");
  await bob.page.waitForURL((u) => u.pathname === "/signin", { timeout: 5000 });
  assert.ok(Date.now() - started < 3000, "the device reacts at once");
  await bob.page.waitForSelector("text=An administrator signed this device out");
  const left = await bob.page.evaluate(async () => ({
    local: localStorage.length,
    session: sessionStorage.length,
    databases: (await indexedDB.databases()).length,
    caches: (await caches.keys()).length,
  }));
  assert.deepEqual(left, { local: 0, session: 0, databases: 0, caches: 0 });
  await bob.page.screenshot({ path: `${OUT}wiped-signin-desktop.png`, animations: "disabled" });

  // The console shows the device erased what it held.
  await row.locator("button:has-text('Devices')").click();
  await row.locator("button:has-text('Devices')").click();
  await root.page.waitForSelector("tr.detail li:has-text('signed out') .ok:has-text('erased')");
  await root.page.screenshot({ path: `${OUT}admin-devices-desktop.png`, animations: "disabled" });
  await root.page.setViewportSize({ width: 390, height: 844 });
  await root.page.locator("tr.detail").scrollIntoViewIfNeeded();
  await root.page.screenshot({ path: `${OUT}admin-devices-phone.png`, animations: "disabled" });
  // The old session opens nothing any more.
  const status = await bob.page.evaluate(async () => (await fetch("/api/v1/me")).status);
  assert.equal(status, 401);
});
