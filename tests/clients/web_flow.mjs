// Drives Guise's web face in headless Chromium (Debian's, through
// playwright-core): sign-up, the recovery code, the confirmation link from
// an SMTP sink this script runs, keyboard-only sign-in, a post as the pseudonym, a post
// made anonymous with the arrow keys, the face each went out as, a reply
// from another user, a reply in that thread (defaulting to, and going out
// as, the same anonymous face), the notification, deleting the anonymous
// post, the Chinese composer, sign-out; no console error (a CSP violation
// is one) and no serious axe-core finding on any page.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";

const BASE = process.env.GUISE_URL;
const USER = process.env.GUISE_USER;
const PASSWORD = process.env.GUISE_PASSWORD;
const FRIEND = process.env.GUISE_FRIEND;
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
let checks = 0;

function check(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  checks++;
}

const browser = await chromium.launch({
  executablePath: process.env.GUISE_CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
const errors = [];
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(String(e)));
page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

// axe-core runs through the DevTools protocol (the page's own policy allows
// no script); serious and critical findings fail.
async function accessible(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `${name}: axe finds ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
}

// Waits for the navigation a key press starts to land on a new "posted"
// page (the current URL may already be one).
async function postWith(key) {
  const before = page.url();
  await Promise.all([
    page.waitForURL((u) => u.href !== before && u.searchParams.has("posted")),
    page.keyboard.press(key),
  ]);
}

async function tabTo(selector, max = 25) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return true;
    await page.keyboard.press("Tab");
  }
  return false;
}

// An SMTP sink on the port the server was told to mail through.
const mails = [];
const sink = createServer((sock) => {
  let data = false, text = "", buf = "";
  sock.write("220 sink ESMTP\r\n");
  sock.on("data", (chunk) => {
    buf += chunk.toString("utf8");
    let i;
    while ((i = buf.indexOf("\r\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (data) {
        if (line === ".") { data = false; mails.push(text); sock.write("250 queued\r\n"); } else { text += line + "\n"; }
      } else if (/^DATA/i.test(line)) { data = true; text = ""; sock.write("354 go on\r\n"); }
      else if (/^QUIT/i.test(line)) { sock.end("221 bye\r\n"); }
      else { sock.write("250 ok\r\n"); }
    }
  });
});
await new Promise((r) => sink.listen(Number(process.env.GUISE_SMTP_PORT), "127.0.0.1", r));

await page.goto(BASE + "/");
check((await page.title()).includes("Welcome"), "the landing page");
await accessible("landing");

// Sign up: the recovery code is shown once; the login waits for the link.
await Promise.all([page.waitForURL("**/auth/sign_up"), page.getByRole("link", { name: "Sign up" }).first().click()]);
await accessible("sign up");
await page.fill("#username", USER);
await page.fill("#email", `${USER}@mail.test`);
await page.fill("#password", PASSWORD);
await page.check('input[name="agreement"]');
await page.getByRole("button", { name: "Sign up" }).click();
await page.waitForSelector("#recovery");
check((await page.locator("#recovery").innerText()).length >= 20, "the recovery code is shown");
check(await page.locator('a[download="guise-recovery-code.txt"]').count() === 1, "and can be downloaded");
await accessible("recovery code");
for (let i = 0; i < 50 && mails.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
check(mails.length === 1 && mails[0].includes(`To: ${USER}@mail.test`), "the confirmation mail arrives");
const link = mails[0].match(/http\S*\/auth\/confirmation\?token=\S+/)[0];
await page.goto(link);
check(await page.locator("h1").innerText() === "Your email address is confirmed", "the link confirms the address");
await accessible("confirmed");
await page.goto(BASE + "/");

// Keyboard only: from the landing page to the sign-in form and through it.
check(await tabTo('a[href="/auth/sign_in"]'), "the sign-in link is reachable by Tab");
await Promise.all([page.waitForURL("**/auth/sign_in"), page.keyboard.press("Enter")]);
await accessible("sign in");
check(await page.evaluate(() => document.activeElement?.id === "login"), "the login field has focus");
await page.keyboard.type(USER);
await page.keyboard.press("Tab");
await page.keyboard.type(PASSWORD);
await Promise.all([page.waitForURL(BASE + "/"), page.keyboard.press("Enter")]);
check(await page.locator("text=Post as").count() > 0, "signed in: the composer");
await accessible("home");

// A post as the pseudonym (the first face, chosen by default).
check(await tabTo("#status"), "the text field is reachable by Tab");
await page.keyboard.type("hello from Chromium");
check(await tabTo('form.composer button[type="submit"]'), "the Post button is reachable by Tab");
await postWith("Enter");
check(await page.locator("#posted-h").innerText() === `Posted as ${USER}`, "the post shows its face");
await accessible("posted");

// Anonymously: the arrow keys move the face choice to "Anonymous".
check(await tabTo("#status"), "back to the text field");
await page.keyboard.type("anonymous from Chromium");
check(await tabTo('input[name="face"]:checked'), "the face choice is reachable by Tab");
await page.keyboard.press("ArrowDown");
check(await page.evaluate(() => document.querySelector('input[name="face"]:checked')?.value) === "anonymous", "Anonymous picked by keyboard");
check(await page.locator("#anon-promise").isVisible(), "the promise is shown beside the choice");
check(await tabTo('form.composer button[type="submit"]'), "on to Post");
await postWith("Enter");
const postedAs = await page.locator("#posted-h").innerText();
check(postedAs === "Posted as Anonymous", `the anonymous post shows its anonymous face: ${postedAs}`);
check((await page.locator(".notice .acct").innerText()).startsWith("@anon_"), "an anonymous handle");

const anonAcct = await page.locator(".notice .acct").innerText();
const rootId = new URL(page.url()).searchParams.get("posted");

// Someone answers it, through the API.
const api = async (path, body, token) => (await fetch(BASE + path, {
  method: "POST", headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
})).json();
const app = await api("/api/v1/apps", { client_name: "web-flow-friend", redirect_uris: "urn:ietf:wg:oauth:2.0:oob", scopes: "read write" });
const tok = await api("/oauth/token", { grant_type: "password", client_id: app.client_id, client_secret: app.client_secret,
  username: FRIEND, password: PASSWORD, scope: "read write" });
const answer = await api("/api/v1/statuses", { status: `${anonAcct} who are you?`, in_reply_to_id: rootId }, tok.access_token);
check(answer.in_reply_to_id === rootId, "the friend replies");

// In the thread the reply composer defaults to the anonymous face used there.
await page.goto(`${BASE}/web/statuses/${answer.id}`);
await accessible("thread");
check(await page.evaluate(() => document.querySelector('input[name="face"]:checked')?.value) === "anonymous", "the reply defaults to Anonymous");
check(await tabTo("#status"), "the reply field is reachable by Tab");
await page.keyboard.type("still nobody you know");
check(await tabTo('form.composer button[type="submit"]'), "on to Post the reply");
await postWith("Enter");
check(await page.locator(".notice .acct").innerText() === anonAcct, "the reply went out as the same anonymous face");

// The friend's reply is a notification for the anonymous face.
await Promise.all([page.waitForURL("**/web/notifications"), page.getByRole("link", { name: "Notifications" }).click()]);
await accessible("notifications");
check(await page.locator(`text=${FRIEND} mentioned you`).count() > 0, "the reply notification");
check(await page.locator("text=your anonymous face in that thread").count() > 0, "addressed to the anonymous face");

// The anonymous post is listed, and deleted.
await Promise.all([page.waitForURL("**/web/anonymous"), page.getByRole("link", { name: "My anonymous posts" }).click()]);
await accessible("anonymous posts");
check(await page.locator("text=anonymous from Chromium").count() === 1, "the anonymous post is listed");
const del = page.locator(`form[action="/web/statuses/${rootId}/delete"] button`);
await Promise.all([page.waitForURL("**/web/anonymous"), del.click()]);
check(await page.locator("text=anonymous from Chromium").count() === 0, "deleted");
check(await page.locator("text=still nobody you know").count() === 1, "the reply stays");

// Every other page, checked by axe and for console errors.
for (const [name, path] of [["local", "/web/timelines/local"], ["federated", "/web/timelines/federated"],
                            ["faces", "/web/faces"], ["account", "/web/account"],
                            ["two-factor set-up", "/web/account/two_factor"], ["search", "/web/search?q=" + FRIEND],
                            ["hashtag", "/web/tags/guise"], ["about", "/about"], ["public face", "/@" + USER]]) {
  await page.goto(BASE + path);
  await accessible(name);
}

await page.goto(BASE + "/");
await Promise.all([page.waitForURL(BASE + "/"), page.getByRole("button", { name: "Sign out" }).click()]);
check(await page.locator("text=Post as").count() === 0, "signed out");
// The Chinese locale renders the composer.
const zh = await browser.newContext({ locale: "zh-CN" });
const zp = await zh.newPage();
zp.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
await zp.goto(BASE + "/auth/sign_in");
check(await zp.evaluate(() => document.documentElement.lang) === "zh-CN", "a Chinese page for a Chinese browser");
await zp.fill("#login", USER);
await zp.fill("#password", PASSWORD);
await Promise.all([zp.waitForURL(BASE + "/"), zp.getByRole("button", { name: "登录" }).click()]);
check(await zp.locator("form.composer legend").first().innerText() === "发布身份", "the composer in Chinese");
check((await zp.locator("#anon-promise").innerText()).startsWith("匿名："), "the promise in Chinese");
check(errors.length === 0, `no console errors: ${JSON.stringify(errors)}`);
await browser.close();
sink.close();
console.log(`web face: ${checks} passed, 0 failed`);
