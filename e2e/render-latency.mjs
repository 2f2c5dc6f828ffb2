// Benchmark (not a test): the time from a message sent in one browser to its render in another.
//
// Bob's page sends 200 messages through the API, one at a time; Ada's page has the conversation
// open and notes, with a MutationObserver, when each message's row appears. Both pages read the
// same clock (performance.timeOrigin + performance.now(), on one machine). The baseline, from the
// same run, is the sender's own round trip: from the request to its 201 answer.
//
//   cargo build --release -p conclave && cd e2e && node render-latency.mjs ../target/release/conclave

// The server binary comes as the first argument (the harness reads it from its variable on load).
if (process.argv[2]) process.env.CONCLAVE_BIN = process.argv[2];
const { Conclave, launchBrowser, newPage, signIn } = await import("./harness.mjs");

const COUNT = Number(process.env.RENDER_MESSAGES || 200);

const conclave = await Conclave.start();
conclave.createUser("ada@render.example", "Ada Lovelace", "member");
conclave.createUser("bob@render.example", "Bob Babbage", "member");
const browser = await launchBrowser();
try {
  const ada = await newPage(browser);
  const bob = await newPage(browser);
  await signIn(ada.page, conclave.url, "ada@render.example");
  await signIn(bob.page, conclave.url, "bob@render.example");
  const conversation = await bob.page.evaluate(async () => {
    const me = await (await fetch("/api/v1/me")).json();
    const people = await (await fetch("/api/v1/directory")).json();
    const ada = people.find((p) => p.email.startsWith("ada@"));
    const r = await fetch("/api/v1/conversations/direct", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token }, body: JSON.stringify({ user_id: ada.id }) });
    return (await r.json()).id;
  });
  await ada.page.goto(`${conclave.url}/app#c=${conversation}`);
  await ada.page.reload();
  await ada.page.waitForSelector("#live.on");
  await ada.page.waitForSelector("#composer:not([hidden])");
  await ada.page.evaluate(() => {
    window.rendered = new Map();
    new MutationObserver(() => {
      const now = performance.timeOrigin + performance.now();
      for (const li of document.querySelectorAll("#messages li.message")) {
        const m = /render-probe-(\d+)/.exec(li.textContent);
        if (m && !window.rendered.has(m[1])) window.rendered.set(m[1], now);
      }
    }).observe(document.getElementById("messages"), { childList: true, subtree: true });
  });
  const sent = await bob.page.evaluate(async ({ conversation, count }) => {
    const me = await (await fetch("/api/v1/me")).json();
    const out = [];
    for (let i = 0; i < count; i++) {
      const at = performance.timeOrigin + performance.now();
      await fetch(`/api/v1/conversations/${conversation}/messages`, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token }, body: JSON.stringify({ body: "render-probe-" + i }) });
      out.push([at, performance.timeOrigin + performance.now()]);
      // A pause as between people typing, so each message renders on its own.
      await new Promise((r) => setTimeout(r, 20));
    }
    return out;
  }, { conversation, count: COUNT });
  await ada.page.waitForFunction((n) => window.rendered.size >= n, COUNT, { timeout: 60000 });
  const rendered = new Map(await ada.page.evaluate(() => [...window.rendered]));
  const toRender = sent.map(([at], i) => rendered.get(String(i)) - at).sort((a, b) => a - b);
  const roundTrip = sent.map(([at, done]) => done - at).sort((a, b) => a - b);
  const pct = (xs, p) => Math.round(xs[Math.round((xs.length - 1) * p)] * 10) / 10;
  console.log(JSON.stringify({
    bench: "send_to_render",
    messages: COUNT,
    send_to_render_ms: { p50: pct(toRender, 0.5), p99: pct(toRender, 0.99) },
    baseline: "sender_round_trip",
    baseline_ms: { p50: pct(roundTrip, 0.5), p99: pct(roundTrip, 0.99) },
    ratio_p50: Math.round(pct(toRender, 0.5) / pct(roundTrip, 0.5) * 100) / 100,
  }));
} finally {
  await browser.close();
  await conclave.stop();
}
