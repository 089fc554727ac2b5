// Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol with
// Node's own WebSocket: no browser download, no driver package. A page records what a
// person would not want to see: uncaught exceptions, console errors, Content-Security-
// Policy violations, failed loads, and every request it sends (with its headers).
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

const FLAGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-port=0",
];

/** Starts Chromium; resolves to { newPage, close }. */
export async function launchChromium({ executable = process.env.CHROMIUM ?? "chromium" } = {}) {
  const profile = await mkdtemp(path.join(os.tmpdir(), "chromium-profile-"));
  const child = spawn(executable, [...FLAGS, `--user-data-dir=${profile}`, "about:blank"], { stdio: ["ignore", "ignore", "pipe"] });
  const wsUrl = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`Chromium did not start in 20 s:\n${seen}`)), 20000);
    child.once("error", (e) => { clearTimeout(timer); reject(new Error(`cannot run ${executable}: ${e.message}`)); });
    child.stderr.on("data", (chunk) => {
      seen += chunk.toString();
      const match = seen.match(/DevTools listening on (ws:\/\/\S+)/);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    });
  });
  const connection = await connect(wsUrl);
  return {
    newPage: () => newPage(connection),
    async close() {
      try { await connection.send("Browser.close"); } catch { /* already gone */ }
      connection.socket.close();
      await new Promise((r) => { if (child.exitCode !== null) r(); else { child.once("exit", r); setTimeout(() => { child.kill("SIGKILL"); r(); }, 3000); } });
      await rm(profile, { recursive: true, force: true });
    },
  };
}

async function connect(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error("DevTools socket failed")); });
  let nextId = 1;
  const pending = new Map();
  const listeners = new Set();
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.id && pending.has(data.id)) {
      const { resolve, reject } = pending.get(data.id);
      pending.delete(data.id);
      if (data.error) reject(new Error(`${data.error.message} (${data.error.code})`)); else resolve(data.result);
    } else if (data.method) {
      for (const listener of listeners) listener(data);
    }
  };
  return {
    socket,
    send(method, params = {}, sessionId) {
      const id = nextId++;
      socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    on(listener) { listeners.add(listener); return () => listeners.delete(listener); },
  };
}

async function newPage(connection) {
  const { targetId } = await connection.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await connection.send("Target.attachToTarget", { targetId, flatten: true });
  const send = (method, params) => connection.send(method, params, sessionId);
  const record = { exceptions: [], consoleErrors: [], logErrors: [], failedLoads: [], requests: [], responses: [] };
  const urls = new Map();
  let loaded = null;
  connection.on((event) => {
    if (event.sessionId !== sessionId) return;
    const p = event.params;
    switch (event.method) {
      case "Runtime.exceptionThrown": record.exceptions.push(p.exceptionDetails.exception?.description ?? p.exceptionDetails.text); break;
      case "Runtime.consoleAPICalled": if (p.type === "error") record.consoleErrors.push(p.args.map((a) => a.value ?? a.description).join(" ")); break;
      case "Log.entryAdded": if (p.entry.level === "error") record.logErrors.push({ source: p.entry.source, text: p.entry.text, url: p.entry.url }); break;
      case "Network.requestWillBeSent": urls.set(p.requestId, p.request.url); record.requests.push({ url: p.request.url, method: p.request.method, headers: p.request.headers, body: p.request.postData }); break;
      case "Network.responseReceived": record.responses.push({ url: p.response.url, status: p.response.status }); break;
      case "Network.loadingFailed": record.failedLoads.push({ url: urls.get(p.requestId), error: p.errorText, blocked: p.blockedReason }); break;
      case "Page.loadEventFired": loaded?.(); break;
      default: break;
    }
  });
  await Promise.all(["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"].map((m) => send(m)));
  // Content-Security-Policy violations, as the page itself sees them.
  await send("Page.addScriptToEvaluateOnNewDocument", {
    source: "window.__cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
  });

  const page = {
    record,
    async goto(url) {
      const done = new Promise((resolve) => { loaded = resolve; });
      await send("Page.navigate", { url });
      await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`${url} did not load in 15 s`)), 15000))]);
    },
    async evaluate(expression) {
      const result = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
      if (result.exceptionDetails) throw new Error(`in the page: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
      return result.result.value;
    },
    /** Waits until `expression` is truthy in the page; its value. */
    async waitFor(expression, ms = 8000) {
      const end = Date.now() + ms;
      for (;;) {
        const value = await page.evaluate(expression);
        if (value) return value;
        if (Date.now() > end) throw new Error(`timed out waiting for: ${expression}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async setWidth(width, height = 900) {
      await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: width < 600 });
    },
    /** The centre of the element `selector` (scrolled into view), in CSS pixels. */
    async centre(selector) {
      const box = await page.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2, w: r.width, h: r.height }; })()`);
      if (!box || box.w === 0 || box.h === 0) throw new Error(`${selector} is not visible`);
      return box;
    },
    /** A real mouse click (press and release) on `selector`; `count` 2 is a double click. */
    async click(selector, { count = 1 } = {}) {
      const { x, y } = await page.centre(selector);
      await send("Input.dispatchMouseEvent", { type: "mouseMoved", x, y });
      for (let i = 1; i <= count; i++) {
        await send("Input.dispatchMouseEvent", { type: "mousePressed", x, y, button: "left", clickCount: i });
        await send("Input.dispatchMouseEvent", { type: "mouseReleased", x, y, button: "left", clickCount: i });
      }
    },
    /** Clicks into `selector`, selects what it holds and types `text` in its place. */
    async type(selector, text) {
      await page.click(selector);
      await page.evaluate(`document.querySelector(${JSON.stringify(selector)}).select?.()`);
      await send("Input.dispatchKeyEvent", { type: "keyDown", key: "Backspace", code: "Backspace", windowsVirtualKeyCode: 8 });
      await send("Input.dispatchKeyEvent", { type: "keyUp", key: "Backspace", code: "Backspace", windowsVirtualKeyCode: 8 });
      if (text) await send("Input.insertText", { text });
    },
    /** Presses a key (`Tab`, `Enter`, ...) on whatever has the focus. */
    async press(key) {
      const codes = { Tab: 9, Enter: 13, Space: 32 };
      const base = { key: key === "Space" ? " " : key, code: key, windowsVirtualKeyCode: codes[key] ?? 0 };
      await send("Input.dispatchKeyEvent", { type: "keyDown", ...base, ...(key === "Enter" ? { text: "\r" } : {}) });
      await send("Input.dispatchKeyEvent", { type: "keyUp", ...base });
    },
    /** Chooses the option labelled `label` in the <select> `selector` with the keyboard,
     * as a person does: focus it, type the label's first letters (the select's own
     * type-ahead), leave it. */
    async choose(selector, label) {
      await page.evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
      for (const ch of label) {
        await send("Input.dispatchKeyEvent", { type: "keyDown", key: ch, text: ch, unmodifiedText: ch });
        await send("Input.dispatchKeyEvent", { type: "keyUp", key: ch });
      }
      await page.press("Tab");
    },
    async cookies() {
      return (await send("Network.getCookies")).cookies;
    },
    /** A PNG of the whole page, as a Buffer. */
    async screenshot() {
      const { cssContentSize } = await send("Page.getLayoutMetrics");
      const { data } = await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true, clip: { x: 0, y: 0, width: cssContentSize.width, height: cssContentSize.height, scale: 1 } });
      return Buffer.from(data, "base64");
    },
    async close() { await connection.send("Target.closeTarget", { targetId }); },
  };
  return page;
}
