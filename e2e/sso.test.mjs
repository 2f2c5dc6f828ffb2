// Single sign-on in a real browser: an enterprise admin connects the OpenID provider (npm
// `oidc-provider`, started here), and a colleague signs in through the provider's login page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { newPage, signIn, startWith, finish, freePort } from "./harness.mjs";

let conclave;
let browser;
let provider;
let providerPort;

before(async () => {
  ({ conclave, browser } = await startWith([
    ["admin@sso.example", "Sol Admin", "enterprise-admin"],
  ]));
  providerPort = await freePort();
  provider = spawn("node", [new URL("./oidc-provider.mjs", import.meta.url).pathname, "--port", String(providerPort),
    "--client-id", "conclave", "--client-secret", "browser-test-secret", "--redirect", `${conclave.url}/sso/oidc/callback`],
  { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    provider.stdout.on("data", (d) => { if (String(d).includes("ready")) resolve(); });
    provider.once("exit", (code) => reject(new Error(`the provider exited with ${code}`)));
  });
});

after(async () => {
  provider?.kill();
  await finish(conclave, browser);
});

test("a colleague signs in through the identity provider's login page and gets an account", async () => {
  const admin = await newPage(browser);
  await signIn(admin.page, conclave.url, "admin@sso.example");
  await admin.page.waitForSelector("#whoami:has-text('Sol Admin')");
  await admin.page.goto(`${conclave.url}/admin`);
  await admin.page.fill("#oidc [name=issuer]", `http://127.0.0.1:${providerPort}`);
  await admin.page.fill("#oidc [name=client_id]", "conclave");
  await admin.page.fill("#oidc [name=client_secret]", "browser-test-secret");
  await admin.page.fill("#oidc [name=allowed_domains]", "sso.example");
  await admin.page.fill("#oidc [name=groups_claim]", "groups");
  await admin.page.click("#oidc button[type=submit]");
  await admin.page.waitForSelector("#status:has-text('Single sign-on saved.')");
  await admin.context.close();

  const { context, page } = await newPage(browser);
  await page.goto(`${conclave.url}/signin`);
  await page.fill("#sso-email", "grace@sso.example");
  await page.click("#sso button[type=submit]");
  await page.waitForSelector("#provider-submit");
  assert.ok(page.url().startsWith(`http://127.0.0.1:${providerPort}/interaction/`), page.url());
  await page.fill("#login", "grace@sso.example");
  await page.fill("#password", "not the provider password");
  await page.click("#provider-submit");
  await page.waitForSelector("#error");
  await page.fill("#login", "grace@sso.example");
  await page.fill("#password", "provider password");
  await page.click("#provider-submit");
  await page.waitForURL(`${conclave.url}/app`);
  await page.waitForSelector("#whoami:has-text('grace')");
  await context.close();
});
