// The chat page at `/` of `mlxcpp serve`, in a real browser: Debian's chromium, headless,
// driven by puppeteer-core. A conversation of two turns (streamed answers, tokens/s and
// context use shown, the second request carrying the first turn), a stop in the middle of
// a long answer (the server cancels it), a reload that keeps the conversation, and the
// Markdown renderer (code blocks, and HTML in a model's answer shown as text, never run).
// The model is a full-depth random Qwen2.5-0.5B (a chat template, and slow enough on a CPU
// to be stopped). Screenshots go to $MLXCPP_SCREENSHOTS when it is set.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { startServer, mlxcpp } from "./server_harness.mjs";

const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
const shots = process.env.MLXCPP_SCREENSHOTS;
let dir, server, browser, page;

before(async () => {
  assert.ok(chromium, "Debian's chromium is needed (scripts/setup.sh installs it)");
  dir = mkdtempSync(join(tmpdir(), "mlxcpp-chat-page-"));
  execFileSync(mlxcpp, ["synth", "--like", "qwen2.5-0.5b", "-q", "-o", join(dir, "qwen")], { stdio: "ignore" });
  server = await startServer(["-m", join(dir, "qwen"), "--threads", "2"]);
  browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 760 });
  page.on("pageerror", (e) => assert.fail(`page error: ${e.message}`));
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ready = () => page.waitForSelector("body[data-ready=true]");
const messages = () => page.$$eval("#messages .message", (ms) => ms.map((m) => ({
  role: m.querySelector(".role").textContent, text: m.querySelector(".content").textContent, stats: m.querySelector(".stats")?.textContent ?? "",
})));
async function setField(id, value) {
  await page.$eval(`#${id}`, (el, v) => { el.value = v; el.dispatchEvent(new Event("change")); }, String(value));
}
async function ask(text) {
  await page.type("#prompt", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#send").disabled);
}
const answered = () => page.waitForFunction(() => !document.querySelector("#send").disabled, { timeout: 60000 });

test("the page is served, self-contained, with the served model picked", async () => {
  const r = await fetch(`${server.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /text\/html/);
  assert.match(r.headers.get("content-security-policy"), /default-src 'self'/);
  const html = await r.text();
  assert.doesNotMatch(html, /https?:\/\//, "no CDN, no outside address");
  assert.equal((await fetch(`${server.url}/chat.js`)).status, 200);
  await page.goto(`${server.url}/`);
  await ready();
  assert.equal(await page.$eval("#model", (s) => s.value), "qwen");
});

test("two turns: streamed answers with tokens/s and context use; the second carries the first", async () => {
  await page.click("#settings-toggle");
  await setField("system", "You are terse.");
  await setField("max-tokens", 12);
  await setField("temperature", 0);
  await ask("Hello there, who are you?");
  await answered();
  await ask("And what can you do?");
  await answered();
  const m = await messages();
  assert.deepEqual(m.map((x) => x.role), ["user", "assistant", "user", "assistant"]);
  assert.ok(m[1].text.length > 0 && m[3].text.length > 0);
  const used = m.filter((x) => x.role === "assistant").map((x) => {
    assert.match(x.stats, /[\d.]+ tokens\/s · 12 tokens in [\d.]+ s · context \d+ \/ 32768/);
    return Number(x.stats.match(/context (\d+)/)[1]);
  });
  // The second prompt holds the system prompt, the first question and answer, and the second.
  assert.ok(used[1] > used[0] + 12, `context ${used}`);
  if (shots) await page.screenshot({ path: join(shots, "chat-two-turns.png") });
});

test("stop ends a long answer at once, and the server cancels it", async () => {
  const cancelled = async () => Number((await (await fetch(`${server.url}/metrics`)).text()).match(/^mlxcpp_cancelled_requests_total (\d+)/m)?.[1] ?? 0);
  const before = await cancelled();
  await setField("max-tokens", 4000);
  await ask("Write a very long story.");
  await page.waitForFunction(() => document.querySelector("#messages .message:last-child .content").textContent.length > 0, { timeout: 30000 });
  const t0 = Date.now();
  await page.click("#stop");
  await answered();
  assert.ok(Date.now() - t0 < 2000, "the page stopped at once");
  const last = (await messages()).at(-1);
  assert.match(last.stats, /stopped/);
  const n = Number(last.stats.match(/(\d+) tokens in/)[1]);
  assert.ok(n > 0 && n < 4000, last.stats);
  for (let i = 0; i < 50 && (await cancelled()) === before; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await cancelled(), before + 1, "the generation was cancelled on the server");
  if (shots) await page.screenshot({ path: join(shots, "chat-stopped.png") });
});

test("a reload keeps the conversation and the settings", async () => {
  const beforeReload = await messages();
  await page.reload();
  await ready();
  assert.deepEqual(await messages(), beforeReload);
  assert.equal(await page.$$eval("#conversations li", (l) => l.length), 1);
  assert.equal(await page.$eval("#system", (e) => e.value), "You are terse.");
  await page.click("#new-chat");
  assert.equal((await messages()).length, 0);
  assert.equal(await page.$$eval("#conversations li", (l) => l.length), 2);
  if (shots) await page.screenshot({ path: join(shots, "chat-after-reload.png") });
});

test("Markdown: code blocks, emphasis, lists; a model's HTML is shown as text", async () => {
  const html = await page.evaluate(() => markdown("# Title\n\nSome **bold**, *it* and `<i>x</i>`.\n\n- one\n- two\n\n```js\nlet a = '<b>';\n```\n<img src=x onerror=alert(1)>"));
  assert.match(html, /<h1>Title<\/h1>/);
  assert.match(html, /<strong>bold<\/strong>, <em>it<\/em> and <code>&lt;i&gt;x&lt;\/i&gt;<\/code>/);
  assert.match(html, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
  assert.match(html, /<pre><code class="language-js">let a = &#39;&lt;b&gt;&#39;;<\/code><\/pre>/);
  assert.doesNotMatch(html, /<img|<b>|<i>/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
});
