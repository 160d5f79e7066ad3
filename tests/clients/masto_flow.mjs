// Drives Guise with masto.js 7, unmodified: app registration, the password
// grant, the authorization-code flow with PKCE (forms submitted as a browser
// would), verifyCredentials, posting, both timelines with pagination, deletion.
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";
import WebSocket from "ws";
import { createHash, randomBytes } from "node:crypto";

const BASE = process.env.GUISE_URL;
const USER = process.env.GUISE_USER;
const PASSWORD = process.env.GUISE_PASSWORD;
const OOB = "urn:ietf:wg:oauth:2.0:oob";
let checks = 0;

function check(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  checks++;
}

const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const field = (page, name) => {
  const m = page.match(new RegExp(`name="${name}" value="([^"]*)"`));
  return m ? unescape(m[1]) : undefined;
};

async function browserAuthorize(url) {
  const page = await (await fetch(url)).text();
  check(page.includes('name="password"'), "authorize page shows a sign-in form");
  const form = {};
  for (const k of ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"]) {
    const v = field(page, k);
    if (v !== undefined) form[k] = v;
  }
  const post = (data) =>
    fetch(`${BASE}/oauth/authorize`, { method: "POST", body: new URLSearchParams(data), redirect: "manual" });
  const picker = await (await post({ ...form, login: USER, password: PASSWORD })).text();
  const face = picker.match(/name="face" value="(\d+)"/);
  check(face, "sign-in leads to the face picker");
  const done = await post({ ...form, pending: field(picker, "pending"), face: face[1] });
  const loc = done.headers.get("location");
  check(done.status === 302 && loc, "face choice redirects back to the app");
  return new URL(loc).searchParams.get("code");
}

const anon = createRestAPIClient({ url: BASE });
const app = await anon.v1.apps.create({ clientName: "guise-e2e-masto", redirectUris: "http://127.0.0.1/callback", scopes: "read write follow" });
check(app.clientId && app.clientSecret, "app registration");
const oauth = createOAuthAPIClient({ url: BASE });
const token = await oauth.token.create({
  grantType: "password", clientId: app.clientId, clientSecret: app.clientSecret,
  username: USER, password: PASSWORD, scope: "read write follow", redirectUri: OOB,
});
const masto = createRestAPIClient({ url: BASE, accessToken: token.accessToken });
const me = await masto.v1.accounts.verifyCredentials();
check(me.username === USER, "verifyCredentials after the password grant");

const posts = [];
for (let i = 0; i < 5; i++) posts.push(await masto.v1.statuses.create({ status: `masto post ${i}`, visibility: "public" }));
const pages = [];
for await (const page of masto.v1.timelines.home.list({ limit: 2 })) {
  pages.push(page.map((s) => s.id));
  if (pages.length === 2) break;
}
check(JSON.stringify(pages) === JSON.stringify([[posts[4].id, posts[3].id], [posts[2].id, posts[1].id]]), `home timeline pages ${JSON.stringify(pages)}`);
const pub = await masto.v1.timelines.public.list({ limit: 2, local: true });
check(pub[0].id === posts[4].id, "public timeline");
const one = await masto.v1.statuses.$select(posts[1].id).fetch();
check(one.content === "<p>masto post 1</p>", "status by id");
await masto.v1.statuses.$select(posts[0].id).remove();
let gone = false;
try {
  await masto.v1.statuses.$select(posts[0].id).fetch();
} catch (e) {
  gone = e.statusCode === 404;
}
check(gone, "deleted status answers 404");

// Media and polls, as masto.js sends them (multipart for the file).
const dot = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082",
  "hex",
);
const attachment = await masto.v2.media.create({ file: new Blob([dot], { type: "image/png" }), description: "one pixel" });
check(attachment.type === "image" && attachment.description === "one pixel", "v2 media upload");
const fetched = await masto.v1.media.$select(attachment.id).fetch();
check(fetched.id === attachment.id && fetched.url, "masto.js polls the upload and finds it done");
const withMedia = await masto.v1.statuses.create({ status: "a pixel", mediaIds: [attachment.id] });
check(withMedia.mediaAttachments.length === 1, "a post with media");
const polled = await masto.v1.statuses.create({ status: "cats or dogs?", poll: { options: ["cats", "dogs"], expiresIn: 600 } });
check(polled.poll.options.length === 2, "a post with a poll");
const voted = await masto.v1.polls.$select(polled.poll.id).votes.create({ choices: [0] });
check(voted.voted && voted.options[0].votesCount === 1, "a vote");
const grouped = await masto.v2.notifications.list();
check(Array.isArray(grouped.notificationGroups), "grouped notifications v2");

// Streaming, as Elk and Phanpy open it: the URL from /api/v2/instance, the
// token offered as the WebSocket sub-protocol (and echoed back).
const instance = await masto.v2.instance.fetch();
check(instance.configuration.urls.streaming?.startsWith("ws://"), "v2 instance advertises the streaming URL");
const streaming = createStreamingAPIClient({
  streamingApiUrl: instance.configuration.urls.streaming, accessToken: token.accessToken, implementation: WebSocket,
});
const userStream = streaming.user.subscribe();
const firstUpdate = (async () => {
  for await (const e of userStream) if (e.event === "update") return e.payload;
})();
// masto.js connects and subscribes in the background: post until the
// stream, once it is up, carries one of the posts.
const lives = [];
let streamed;
for (let i = 0; i < 5 && !streamed; i++) {
  lives.push((await masto.v1.statuses.create({ status: `live from masto.js ${i}`, visibility: "public" })).id);
  streamed = await Promise.race([firstUpdate, new Promise((r) => setTimeout(r, 2000))]);
}
check(streamed && lives.includes(streamed.id), "the user stream carries a new post");
userStream.unsubscribe();
streaming.close();

// Authorization code with PKCE.
const verifier = randomBytes(48).toString("base64url");
const challenge = createHash("sha256").update(verifier).digest("base64url");
const q = new URLSearchParams({
  response_type: "code", client_id: app.clientId, redirect_uri: "http://127.0.0.1/callback",
  scope: "read write follow", state: "s1", code_challenge: challenge, code_challenge_method: "S256",
});
const code = await browserAuthorize(`${BASE}/oauth/authorize?${q}`);
const pkceToken = await oauth.token.create({
  grantType: "authorization_code", clientId: app.clientId, clientSecret: app.clientSecret,
  code, redirectUri: "http://127.0.0.1/callback", codeVerifier: verifier,
});
check(pkceToken.scope === "read write follow", "granted scopes echo the request");
const masto2 = createRestAPIClient({ url: BASE, accessToken: pkceToken.accessToken });
check((await masto2.v1.accounts.verifyCredentials()).id === me.id, "verifyCredentials after PKCE");
await oauth.revoke({ clientId: app.clientId, clientSecret: app.clientSecret, token: pkceToken.accessToken });
let revoked = false;
try {
  await masto2.v1.accounts.verifyCredentials();
} catch (e) {
  revoked = e.statusCode === 401;
}
check(revoked, "revoked token answers 401");

console.log(`masto.js: ${checks} passed, 0 failed`);
