// The security desk end to end: an anonymous finder with JavaScript turned off reports through
// the form, keeps the receipt, comes back to read the status and talks with the security team,
// who work the report in the desk console.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Conclave, launchBrowser, newPage, signIn } from "./harness.mjs";

let conclave;
let browser;

before(async () => {
  conclave = await Conclave.start();
  conclave.createUser("sec@desk.example", "Sam Security", "security");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await conclave?.stop();
});

test("an anonymous finder reports without JavaScript, keeps the receipt, and talks with the team", async () => {
  // The team publishes a key first, from the desk console.
  const team = await newPage(browser);
  await signIn(team.page, conclave.url, "sec@desk.example");
  await team.page.waitForSelector("#desk-link:not([hidden])");
  await team.page.goto(`${conclave.url}/desk`);
  await team.page.waitForSelector("#key-warning:not([hidden])");
  await team.page.fill("#key-uid", "Desk Security <security@desk.example>");
  await team.page.click("#generate-key button");
  await team.page.waitForSelector("#keys td:has-text('active')");

  // The finder: no account, no script.
  const finder = await newPage(browser, { javaScriptEnabled: false });
  await finder.page.goto(`${conclave.url}/security`);
  const fingerprint = (await finder.page.textContent("#fingerprint")).replaceAll(" ", "");
  assert.match(fingerprint, /^[0-9A-F]{40}$/);
  await finder.page.click("text=Report a vulnerability");
  await finder.page.fill("input[name=title]", "Password reset token in Referer");
  await finder.page.fill("textarea[name=description]", "The reset page loads a third-party script, leaking the token.");
  await finder.page.fill("textarea[name=affected_urls]", `${conclave.url}/reset`);
  await finder.page.fill("textarea[name=timestamps]", "2026-11-22 08:15 UTC");
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("screenshot bytes")]);
  await finder.page.setInputFiles("input[name=files]", { name: "referer.png", mimeType: "image/png", buffer: png });
  await finder.page.click("form.report button[type=submit]");
  await finder.page.waitForSelector("#receipt-code");
  const code = (await finder.page.textContent("#receipt-code")).trim();
  assert.match(code, /^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$/);
  const [download] = await Promise.all([finder.page.waitForEvent("download"), finder.page.click("text=Download the receipt")]);
  assert.ok(readFileSync(await download.path(), "utf8").includes(code), "the downloaded receipt holds the code");
  await finder.context.close();

  // The team sees it, acknowledges it and asks a question.
  await team.page.reload();
  await team.page.click("#reports a:has-text('Password reset token in Referer')");
  await team.page.waitForSelector("#report-description:has-text('third-party script')");
  await team.page.waitForSelector("#report-files a:has-text('referer.png')");
  await team.page.selectOption("#report-state", "acknowledged");
  await team.page.click("#state-form button");
  await team.page.waitForSelector("#reports td:has-text('acknowledged')");
  // Acknowledging answered the finder: the first-response clock is met; triage runs.
  await team.page.waitForSelector("#report-clocks tr:has-text('First response') td:has-text('Met')");
  await team.page.waitForSelector("#report-clocks tr:has-text('Triage') td:has-text('Running')");
  // Triage: the server scores the vector; a bad one is refused naming the metric.
  await team.page.fill("#cvss-v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:Z/S:U/C:H/I:N/A:N");
  await team.page.click("#triage-form button[type=submit]");
  await team.page.waitForSelector(".toast.error:has-text('UI')");
  await team.page.fill("#cvss-v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:N");
  await team.page.click("#triage-form button[type=submit]");
  await team.page.waitForSelector("#cvss-v3-score:has-text('Score 6.5')");
  await team.page.waitForSelector("#reports td:has-text('Medium 6.5')");
  await team.page.fill("#note-body", "Internal: the analytics script is ours; ticket SEC-17.");
  await team.page.click("#note-form button");
  await team.page.waitForSelector("#report-notes li:has-text('SEC-17')");
  await team.page.fill("#reply-body", "Thanks! Which browser sent the Referer?");
  await team.page.click("#reply-form button");
  await team.page.waitForSelector("#report-thread li:has-text('Which browser')");

  // The finder comes back later with only the receipt code.
  const back = await newPage(browser, { javaScriptEnabled: false });
  await back.page.goto(`${conclave.url}/security/status`);
  await back.page.fill("input[name=receipt_code]", code.toLowerCase());
  await back.page.click("form button[type=submit]");
  await back.page.waitForSelector("#report-state:has-text('Acknowledged')");
  assert.ok(await back.page.isVisible("text=Which browser sent the Referer?"));
  assert.ok(!(await back.page.content()).includes("SEC-17"), "internal notes never reach the finder");
  await back.page.fill("textarea[name=body]", "Chromium 156, default settings.");
  await back.page.click("form[action='/security/status/reply'] button");
  await back.page.waitForSelector(".thread li:has-text('Chromium 156')");
  await back.context.close();

  await team.page.click("#reports a:has-text('Password reset token in Referer')");
  await team.page.waitForSelector("#report-thread li.finder:has-text('Chromium 156')");
  assert.deepEqual(team.page.cspViolations, []);
  await team.context.close();
});
