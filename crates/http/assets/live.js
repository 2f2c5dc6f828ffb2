// The live connection every signed-in page shares: one WebSocket that reconnects with backoff,
// keeps itself alive with pings, and sends the page to sign in when the session has ended.
// `onEvent` gets every server event, `ready` included: on it a page fetches what it missed.
import { api, checkLock, leave, onLock, wipeDevice } from "/assets/api.js";

export function connectLive(onEvent, onState = () => {}) {
  let socket = null;
  let retryMs = 500;
  let ended = false;
  // A locked page hears nothing more: the socket closes and stays closed until the page loads again.
  onLock.push(() => { ended = true; socket?.close(); });
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/v1/ws");
    let opened = false;
    socket.addEventListener("open", () => { opened = true; retryMs = 500; });
    socket.addEventListener("message", (ev) => {
      let event;
      try { event = JSON.parse(ev.data); } catch { return; }
      if (event.type === "ready") onState("live");
      if (event.type === "session-ended") ended = true;
      Promise.resolve(onEvent(event)).catch((e) => console.warn("a live event failed", e));
      if (event.type === "session-ended" && event.wipe) wipeDevice();
      else if (event.type === "session-ended") leave("ended");
    });
    socket.addEventListener("close", (ev) => {
      if (ended || ev.code === 4001) {
        // (a wipe, once started, leaves by itself when it is done)
        // Cut without the event (it may have been lost): ask the API, which wipes or leaves.
        if (!ended) api("GET", "/api/v1/me").then(() => leave("ended")).catch(() => {});
        return;
      }
      if (ev.code === 4003) {
        // The session locked: the lock screen takes the page; it loads again after the PIN.
        checkLock().catch(() => {});
        return;
      }
      onState("reconnecting");
      // A refused upgrade (an ended session answers 401) shows up only as an abnormal close:
      // ask the API, which sends this page to the sign-in page on a 401.
      if (!opened) api("GET", "/api/v1/me").catch(() => {});
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    });
  }
  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
  }, 25000);
  connect();
}
