// A5 and A6 in the browser: an admin whose elevation ran out is asked for the password and the
// change they were making goes through with what they typed; a person's PIN locks the app, the
// lock screen replaces the page, and the PIN brings it back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { newPage, signIn, PASSWORD, startWith, finish, SCREENSHOTS as OUT } from "./harness.mjs";

let conclave;
let browser;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["root@dev.example", "Rhea Root", "enterprise-admin"],
    ["bob@dev.example", "Bob Babbage", "member"],
  ]));
});

after(() => finish(conclave, browser));

test("a lapsed admin session asks for the password and the change goes through with what was typed", async () => {
  const { page } = await newPage(browser);
  await signIn(page, conclave.url, "root@dev.example");
  await page.goto(`${conclave.url}/admin`);
  await page.waitForSelector("#users tbody tr");
  assert.match(await page.textContent("#elevation"), /Admin session: \d+ min left/);
  await page.fill("#new-team input[name=name]", "Harbour Ops");
  // Fifteen idle minutes, as the server's own record has them.
  conclave.sql("UPDATE sessions SET elevated_until = 0");
  await page.click("#new-team button[type=submit]");
  await page.waitForSelector("dialog#reauth[open]");
  await page.screenshot({ path: `${OUT}reauth-desktop.png`, animations: "disabled" });
  await page.fill("#reauth-password", "not the password");
  await page.click("#reauth button[type=submit]");
  await page.waitForSelector("#reauth [role=alert]:has-text('wrong')");
  await page.fill("#reauth-password", PASSWORD);
  await page.click("#reauth button[type=submit]");
  await page.waitForSelector("#teams tr:has-text('Harbour Ops')");
  assert.equal(await page.locator("dialog#reauth").count(), 0);
  await page.setViewportSize({ width: 390, height: 844 });
  conclave.sql("UPDATE sessions SET elevated_until = 0");
  await page.fill("#new-team input[name=name]", "Night Shift");
  await page.click("#new-team button[type=submit]");
  await page.waitForSelector("dialog#reauth[open]");
  await page.screenshot({ path: `${OUT}reauth-phone.png`, animations: "disabled" });
  // Cancelling changes nothing and keeps the form as it was.
  await page.click("#reauth button:has-text('Cancel')");
  assert.equal(await page.inputValue("#new-team input[name=name]"), "Night Shift");
  assert.equal(await page.locator("#teams tr:has-text('Night Shift')").count(), 0);
});

test("a PIN locks the app; the lock screen holds none of the page and the PIN brings it back", async () => {
  const { page } = await newPage(browser);
  await signIn(page, conclave.url, "bob@dev.example");
  await page.goto(`${conclave.url}/settings`);
  await page.waitForSelector("#pin-state:has-text('Off')");
  await page.fill("#new-pin", "2468");
  await page.selectOption("#pin-delay", "5");
  await page.click("#pin-save");
  await page.waitForSelector("#pin-state:has-text('after 5 minutes')");
  await page.goto(`${conclave.url}/app`);
  await page.waitForSelector("#live.on");
  // The client locks (as the server does by itself after five idle minutes).
  await page.evaluate(async () => {
    const me = await (await fetch("/api/v1/me")).json();
    await fetch("/api/v1/sessions/current/lock", { method: "POST", headers: { "X-CSRF-Token": me.csrf_token } });
  });
  await page.reload();
  await page.waitForSelector("main.lockscreen h1:has-text('locked')");
  assert.equal(await page.locator("#composer").count(), 0, "nothing of the app is in the document");
  await page.screenshot({ path: `${OUT}lockscreen-desktop.png`, animations: "disabled" });
  const refused = await page.evaluate(async () => (await fetch("/api/v1/conversations")).status);
  assert.equal(refused, 423, "the server refuses content, whatever the page shows");
  await page.fill("#unlock-pin", "1111");
  await page.click("main.lockscreen button[type=submit]");
  await page.waitForSelector("main.lockscreen [role=alert]:has-text('4 more')");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${OUT}lockscreen-phone.png`, animations: "disabled" });
  await page.fill("#unlock-pin", "2468");
  await page.click("main.lockscreen button[type=submit]");
  await page.waitForSelector("#live.on");
  assert.equal(await page.locator("main.lockscreen").count(), 0);
  assert.equal(await page.evaluate(async () => (await fetch("/api/v1/conversations")).status), 200);
  assert.equal(page.cspViolations.length, 0, page.cspViolations.join("\n"));
});
