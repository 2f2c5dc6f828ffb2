// Starts a real `conclave serve` on a fresh data directory and drives Debian's Chromium.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import https from "node:https";
import { chromium } from "playwright-core";

export const PASSWORD = "correct horse battery";
const BIN = process.env.CONCLAVE_BIN;
if (!BIN) throw new Error("set CONCLAVE_BIN to the conclave binary");

/// Where browser tests write their screenshots, for a reviewer to look at.
export const SCREENSHOTS = new URL("./screenshots/", import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function get(url) {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", () => resolve(0));
    req.setTimeout(2000, () => { req.destroy(); resolve(0); });
  });
}

export class Conclave {
  static async start() {
    const c = new Conclave();
    c.dir = mkdtempSync(join(tmpdir(), "conclave-e2e-"));
    c.enterprise = c.cli(["admin", "create-enterprise", "--name", "Browser Test Corp"]).trim();
    c.port = await freePort();
    c.url = `https://127.0.0.1:${c.port}`;
    // Every browser of a test file signs in from 127.0.0.1: the per-address sign-in limit is
    // raised so a file's many sign-ins are not refused as a burst (its own tests cover it).
    const config = join(c.dir, "conclave.toml");
    writeFileSync(config, "sign_in_per_minute = 300\n");
    c.proc = spawn(BIN, ["--data-dir", c.dir, "--config", config, "serve", "--listen", `127.0.0.1:${c.port}`], {
      // The test identity providers listen on 127.0.0.1 over plain http.
      env: { ...process.env, CONCLAVE_LOG: "warn", CONCLAVE_SSO_ALLOW_HTTP_LOOPBACK: "true" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const deadline = Date.now() + 30000;
    while ((await get(`${c.url}/healthz`)) !== 200) {
      if (Date.now() > deadline) throw new Error("conclave did not answer /healthz");
      if (c.proc.exitCode !== null) throw new Error(`conclave exited with ${c.proc.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return c;
  }

  cli(args, input = "") {
    return execFileSync(BIN, ["--data-dir", this.dir, ...args], { input, env: { ...process.env, CONCLAVE_LOG: "warn" } }).toString();
  }

  createUser(email, name, role) {
    return this.cli(["admin", "create-user", "--enterprise", this.enterprise, "--email", email, "--name", name, "--role", role], PASSWORD + "\n").trim();
  }

  addTeamMember(team, user) {
    return this.cli(["admin", "add-team-member", "--enterprise", this.enterprise, "--team", team, "--user", user]);
  }

  /// Runs SQL on the server's own SQLite file while it runs (WAL allows it): how a test stands
  /// in for time passing, such as an admin session's elevation running out.
  sql(statement) {
    return execFileSync("sqlite3", [join(this.dir, "conclave.db"), statement]).toString();
  }

  async stop() {
    this.proc.kill("SIGTERM");
    await new Promise((r) => (this.proc.exitCode !== null ? r() : this.proc.once("exit", r)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// A fresh browser context that accepts the self-signed certificate and records CSP violations.
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.cspViolations = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text())) page.cspViolations.push(msg.text());
  });
  return { context, page };
}

export async function signIn(page, url, email, password = PASSWORD) {
  await page.goto(`${url}/signin`);
  await page.fill("#email", email);
  await page.fill("#password", password);
  // The form posts in the background: either the browser moves on, or the page shows why not.
  await page.click("#signin button[type=submit]");
  await Promise.race([
    page.waitForURL((u) => u.pathname !== "/signin"),
    page.waitForSelector("[role=alert]"),
  ]);
  await page.waitForLoadState("load");
  if (new URL(page.url()).pathname === "/signin" && password === PASSWORD) {
    throw new Error(`${email} could not sign in: ${await page.locator("[role=alert]").first().textContent()}`);
  }
}

/// How a browser test file begins: a server holding `people` (each [email, name, roles]) and a
/// browser. `finish` stops both when the file's tests are done.
export async function startWith(people) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const conclave = await Conclave.start();
  for (const [email, name, roles] of people) conclave.createUser(email, name, roles);
  return { conclave, browser: await launchBrowser() };
}

export async function finish(conclave, browser) {
  await browser?.close();
  await conclave?.stop();
}
