// The web client in a real browser: sign in, see devices, sign out; the admin console.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { PASSWORD, newPage, signIn, startWith, finish } from "./harness.mjs";

let conclave;
let browser;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["admin@browser.example", "Avery Admin", "enterprise-admin"],
    ["member@browser.example", "Morgan Member", "member"],
  ]));
});

after(() => finish(conclave, browser));

test("a member signs in, sees this device, and signs out", async () => {
  const { context, page } = await newPage(browser);
  await signIn(page, conclave.url, "member@browser.example");
  assert.equal(new URL(page.url()).pathname, "/app");
  await page.waitForSelector("#whoami:has-text('Morgan Member · Browser Test Corp')");
  assert.equal(await page.isHidden("#admin-link"), true, "members get no admin link");
  await page.click("a[href='/settings']");
  await page.waitForSelector("#devices tbody tr");
  assert.match(await page.textContent("#devices tbody"), /\(this device\)/);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "__Host-conclave_session");
  assert.ok(session && session.httpOnly && session.secure && session.sameSite === "Strict");

  await Promise.all([page.waitForURL(/\/signin\?why=signed-out$/), page.click("#signout")]);
  assert.match(await page.textContent("[role=status]"), /You are signed out/);
  // The session ended on the server: the app sends us back to sign in.
  await page.goto(`${conclave.url}/app`);
  await page.waitForURL(/\/signin$/);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("a wrong password is refused with a message and no session", async () => {
  const { context, page } = await newPage(browser);
  await signIn(page, conclave.url, "member@browser.example", "not the password");
  assert.equal(new URL(page.url()).pathname, "/signin");
  assert.match(await page.textContent("[role=alert]"), /does not match an active account/);
  assert.equal((await context.cookies()).length, 0);
  await context.close();
});

test("signing another device out ends that session", async () => {
  const a = await newPage(browser);
  const b = await newPage(browser);
  await signIn(a.page, conclave.url, "member@browser.example");
  await signIn(b.page, conclave.url, "member@browser.example");
  await a.page.goto(`${conclave.url}/settings`);
  await a.page.waitForSelector("#devices tbody tr:nth-child(2)");
  await a.page.click("#devices tbody button");
  await a.page.click("#confirm [data-yes]");
  await a.page.waitForFunction(() => document.querySelectorAll("#devices tbody tr").length === 1);
  // B is told live: its page erases what it shows and goes to the sign-in page by itself.
  await b.page.waitForURL(/\/signin\?why=ended$/);
  assert.match(await b.page.textContent("[role=status]"), /Your session ended/);
  await a.context.close();
  await b.context.close();
});

test("an enterprise admin creates and disables a user and creates a team", async () => {
  const { context, page } = await newPage(browser);
  await signIn(page, conclave.url, "admin@browser.example");
  await page.waitForSelector("#admin-link:not([hidden])");
  await page.click("#admin-link");
  await page.waitForSelector("#users tbody tr");
  await page.fill("#new-user [name=email]", "casey@browser.example");
  await page.fill("#new-user [name=name]", "Casey Colleague");
  await page.fill("#new-user [name=password]", "marble kettle orbit 58");
  await page.click("#new-user button");
  await page.waitForSelector("#users tbody tr:has-text('Casey Colleague')");
  await page.click("#users tbody tr:has-text('Casey Colleague') button:has-text('Disable')");
  await page.click("#confirm [data-yes]");
  await page.waitForSelector("#users tbody tr:has-text('Casey Colleague'):has-text('disabled')");

  await page.fill("#new-team [name=name]", "Night Shift");
  await page.click("#new-team button");
  await page.waitForSelector("#teams tbody tr:has-text('Night Shift')");
  // The console adds someone to the team, as its admin.
  await page.click("#teams tbody tr:has-text('Night Shift') button:has-text('Members')");
  await page.waitForSelector("#teams tr.detail:has-text('Nobody yet.')");
  const chosen = await page.locator(".add-team-member select option:checked").textContent();
  await page.check(".add-team-member [name=is_admin]");
  await page.click(".add-team-member button:has-text('Add to team')");
  await page.waitForSelector("#status:has-text('Added to Night Shift.')");
  const added = await page.textContent("#teams tr.detail .team-members");
  assert.ok(added.includes(chosen.split(" <")[0]) && added.includes("(team admin)"), added);
  // Bad input is refused by the server and explained.
  await page.fill("#new-user [name=email]", "casey@browser.example");
  await page.fill("#new-user [name=name]", "Casey Again");
  await page.click("#new-user button");
  await page.waitForSelector("#status.error");
  assert.match(await page.textContent("#status"), /already exists/);
  assert.deepEqual(page.cspViolations, []);
  await context.close();

  const listed = conclave.cli(["admin", "list-users", "--enterprise", conclave.enterprise]);
  assert.match(listed, /casey@browser.example/);
  assert.match(listed, /disabled/);
});

test("a member sees the password rules while typing, changes the password, and sets up one-time codes", async () => {
  const email = "rules@browser.example";
  conclave.createUser(email, "Rhea Rules", "member");
  const { context, page } = await newPage(browser);
  await signIn(page, conclave.url, email);
  await page.goto(`${conclave.url}/settings`);
  await page.waitForSelector("#password-rules li");
  await page.fill("#new-password", "rhea");
  assert.equal(await page.getAttribute("#password-rules li[data-rule='min-length']", "class"), "missing");
  assert.equal(await page.getAttribute("#password-rules li[data-rule='personal']", "class"), "missing");
  await page.fill("#new-password", "Amber-Violin-Tundra-31");
  assert.equal(await page.getAttribute("#password-rules li[data-rule='min-length']", "class"), "met");
  assert.equal(await page.getAttribute("#password-rules li[data-rule='personal']", "class"), "met");
  // The server names what it refuses: here, reuse of the current password.
  await page.fill("#current-password", PASSWORD);
  await page.fill("#new-password", PASSWORD);
  await page.click("#password-form button");
  await page.waitForSelector("#status.error:has-text('last')");
  await page.fill("#current-password", PASSWORD);
  await page.fill("#new-password", "Amber-Violin-Tundra-31");
  await page.click("#password-form button");
  await page.waitForSelector("#status:has-text('Password changed.')");

  await page.click("#totp-start");
  await page.waitForSelector("#totp-qr svg");
  const secret = (await page.textContent("#totp-key")).trim();
  await page.fill("#totp-code", totp(secret, Math.floor(Date.now() / 1000 / 30)));
  await page.click("#totp-confirm button");
  await page.waitForSelector("#totp-codes li >> nth=9");
  const recovery = (await page.textContent("#totp-codes li >> nth=0")).trim();
  await context.close();

  // With script, the code step keeps what was typed: only the code is left to enter.
  const scripted = await newPage(browser);
  await scripted.page.goto(`${conclave.url}/signin`);
  await scripted.page.fill("#email", email);
  await scripted.page.fill("#password", "Amber-Violin-Tundra-31");
  await scripted.page.click("#signin button[type=submit]");
  await scripted.page.waitForSelector("p.error:has-text('one-time code')");
  assert.equal(await scripted.page.inputValue("#password"), "Amber-Violin-Tundra-31", "the password is still there");
  assert.equal(await scripted.page.inputValue("#email"), email);
  // This step's code was spent on enrolment: a recovery code stands in.
  await scripted.page.fill("#otp", recovery);
  await scripted.page.click("#signin button[type=submit]");
  await scripted.page.waitForURL(`${conclave.url}/app`);
  await scripted.context.close();

  // Signing in now takes a code, through the form that needs no script.
  const again = await newPage(browser, { javaScriptEnabled: false });
  await again.page.goto(`${conclave.url}/signin`);
  await again.page.fill("#email", email);
  await again.page.fill("#password", "Amber-Violin-Tundra-31");
  await again.page.click("button[type=submit]");
  await again.page.waitForSelector("p.error:has-text('one-time code')");
  await again.page.fill("#password", "Amber-Violin-Tundra-31");
  await again.page.fill("#otp", totp(secret, Math.floor(Date.now() / 1000 / 30) + 1));
  await again.page.click("button[type=submit]");
  await again.page.waitForURL(`${conclave.url}/app`);
  await again.context.close();
});

/// RFC 6238 with SHA-1, as an authenticator app computes it.
function totp(base32, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, "0");
}
