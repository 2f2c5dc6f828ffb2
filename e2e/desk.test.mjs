// The security desk end to end: an anonymous finder with JavaScript turned off reports through
// the form, keeps the receipt, comes back to read the status and talks with the security team,
// who work the report in the desk console.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { newPage, signIn, startWith, finish } from "./harness.mjs";

let conclave;
let browser;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["sec@desk.example", "Sam Security", "security"],
  ]));
});

after(() => finish(conclave, browser));

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

test("the finder agrees to a draft advisory and the team publishes it", async () => {
  // A finder who wants credit reports without JavaScript.
  const finder = await newPage(browser, { javaScriptEnabled: false });
  await finder.page.goto(`${conclave.url}/security/report`);
  await finder.page.fill("input[name=title]", "Invite links never expire");
  await finder.page.fill("textarea[name=description]", "An invitation link from last year still creates an account.");
  await finder.page.fill("input[name=name]", "Grace Finder");
  await finder.page.check("input[name=credit]");
  await finder.page.click("form.report button[type=submit]");
  const code = (await finder.page.textContent("#receipt-code")).trim();

  // The team accepts it, scores it and drafts the advisory.
  const team = await newPage(browser);
  await signIn(team.page, conclave.url, "sec@desk.example");
  await team.page.goto(`${conclave.url}/desk`);
  await team.page.click("#reports a:has-text('Invite links never expire')");
  await team.page.selectOption("#report-state", "accepted");
  await team.page.click("#state-form button");
  await team.page.waitForSelector("#report-now:has-text('Accepted')");
  await team.page.waitForSelector("#report-clocks tr:has-text('Resolution') td:has-text('Running')");
  await team.page.fill("#cvss-v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N");
  await team.page.click("#triage-form button[type=submit]");
  await team.page.waitForSelector("#cvss-v3-score:has-text('Score 6.5')");
  await team.page.waitForSelector("#advisory:not([hidden])");
  await team.page.fill("#adv-summary", "Invitation links stayed valid after their expiry date.");
  await team.page.fill("#adv-product", "Conclave");
  await team.page.fill("#adv-fixed", "1.5.0");
  await team.page.fill("#adv-fix", "Upgrade to 1.5.0; invitations then expire after seven days.");
  await team.page.fill("#adv-cwe", "CWE-613");
  await team.page.fill("#adv-cwe-name", "Insufficient Session Expiration");
  const today = new Date().toISOString().slice(0, 10);
  await team.page.fill("#adv-date", today);
  await team.page.click("#advisory-form button[type=submit]");
  await team.page.waitForSelector("#advisory-state:has-text('version 1')");
  await team.page.waitForSelector("#advisory-state:has-text('not agreed yet')");

  // The finder reads the draft on the status page and agrees to this version.
  await finder.page.goto(`${conclave.url}/security/status`);
  await finder.page.fill("input[name=receipt_code]", code);
  await finder.page.click("form button[type=submit]");
  await finder.page.waitForSelector("#draft-heading:has-text('version 1')");
  assert.ok(await finder.page.isVisible("text=You, as Grace Finder"));
  await finder.page.click("#agree");
  await finder.page.waitForSelector("#draft-agreed");

  // The team sees the agreement live, resolves the report and publishes.
  await team.page.waitForSelector("#advisory-state:has-text('The finder agreed to this version')");
  await team.page.selectOption("#report-state", "resolved");
  await team.page.click("#state-form button");
  await team.page.waitForSelector("#publish-form:not([hidden])");
  await team.page.click("#publish-form button[type=submit]");
  await team.page.click("#confirm [data-yes]");
  await team.page.waitForSelector("#advisory-state:has-text('with the finder')");
  await team.page.waitForSelector("#report-now:has-text('Disclosed')");
  assert.deepEqual(team.page.cspViolations, []);

  // Everyone can read it, with the finder credited, and fetch CSAF and OSV.
  await finder.page.goto(`${conclave.url}/security/advisories`);
  await finder.page.click("a:has-text('Invite links never expire')");
  await finder.page.waitForSelector("text=Reported by Grace Finder");
  await finder.page.screenshot({ path: "screenshots/advisory-desktop-light.png", fullPage: true });
  const id = finder.page.url().split("/").pop();
  const csaf = await (await finder.page.request.get(`${conclave.url}/security/advisories/${id}/csaf.json`)).json();
  assert.equal(csaf.document.tracking.id, id);
  assert.equal(csaf.vulnerabilities[0].scores[0].cvss_v3.baseScore, 6.5);
  const osv = await (await finder.page.request.get(`${conclave.url}/security/advisories/${id}/osv.json`)).json();
  assert.equal(osv.credits[0].name, "Grace Finder");
  await finder.page.goto(`${conclave.url}/security`);
  await finder.page.waitForSelector("text=Grace Finder");
  await finder.context.close();
  await team.context.close();
});

test("members and outsiders report incidents; the team works one through its timeline", async () => {
  conclave.createUser("ada@desk.example", "Ada Member", "member");
  // A member reports from Settings.
  const ada = await newPage(browser);
  await signIn(ada.page, conclave.url, "ada@desk.example");
  await ada.page.goto(`${conclave.url}/settings#incident`);
  await ada.page.fill("#incident-details", "My phone was stolen at the station; it has the chat app signed in.");
  await ada.page.selectOption("#incident-category", "theft-or-damage");
  await ada.page.fill("#incident-occurred", "2026-12-03T17:20");
  await ada.page.fill("#incident-ended", "2026-12-03T17:00");
  await ada.page.click("#incident-form button[type=submit]");
  await ada.page.waitForSelector(".toast.error:has-text('before the start')");
  await ada.page.fill("#incident-ended", "");
  await ada.page.click("#incident-form button[type=submit]");
  await ada.page.waitForSelector(".toast:has-text('security team has your report')");
  await ada.context.close();

  // An outsider reports on the public pages without JavaScript and keeps a receipt code.
  const outsider = await newPage(browser, { javaScriptEnabled: false });
  await outsider.page.goto(`${conclave.url}/security/incident`);
  await outsider.page.fill("textarea[name=details]", "Your office door was propped open all night.");
  await outsider.page.check("input[value=policy-violation]");
  await outsider.page.fill("input[name=occurred_at]", "2026-12-02T22:00");
  await outsider.page.click("form.stack button[type=submit]");
  await outsider.page.waitForSelector("#receipt-code");
  await outsider.page.click("text=See its state");
  await outsider.page.waitForSelector("#incident-state:has-text('Reported')");

  // The team works the member's incident.
  const team = await newPage(browser);
  await signIn(team.page, conclave.url, "sec@desk.example");
  await team.page.goto(`${conclave.url}/desk`);
  await team.page.click("#incidents a:has-text('My phone was stolen')");
  await team.page.waitForSelector("#incident-now:has-text('Ada Member')");
  await team.page.selectOption("#incident-state", "investigating");
  await team.page.click("#incident-state-form button");
  await team.page.waitForSelector("#incident-now:has-text('Being investigated')");
  await team.page.fill("#incident-hours", "72");
  await team.page.click("#incident-clock-form button");
  await team.page.waitForSelector("#incident-fields dd:has-text('72 hours: due')");
  await team.page.fill("#entry-happened", "2026-12-03T17:45");
  await team.page.fill("#entry-text", "Signed the phone's session out and wiped it from the admin console.");
  await team.page.click("#incident-entry-form button[type=submit]");
  await team.page.waitForSelector("#incident-timeline td:has-text('2026-12-03 17:45')");
  await team.page.selectOption("#entry-kind", "notice-authority");
  await team.page.fill("#entry-agency", "City police");
  await team.page.fill("#entry-reference", "THEFT-88121");
  await team.page.click("#incident-entry-form button[type=submit]");
  await team.page.waitForSelector("#incident-fields dd:has-text('72 hours: met')");
  const evidence = Buffer.from("Request sent to the station for footage.");
  await team.page.setInputFiles("#evidence-file", { name: "station-cctv-request.txt", mimeType: "text/plain", buffer: evidence });
  await team.page.click("#evidence-form button");
  await team.page.waitForSelector("#incident-timeline a:has-text('station-cctv-request.txt')");
  assert.equal(await team.page.textContent("#incident-timeline td code"), createHash("sha256").update(evidence).digest("hex"));
  await team.page.screenshot({ path: "screenshots/desk-incident-desktop-light.png", fullPage: true });
  assert.deepEqual(team.page.cspViolations, []);
  await team.context.close();

  await outsider.page.goto(`${conclave.url}/security/incident`);
  await outsider.context.close();
});
