// Drives Guise with masto.js 7, unmodified: app registration, the password
// grant, the authorization-code flow with PKCE (forms submitted as a browser
// would), verifyCredentials, posting, both timelines with pagination,
// deletion, media, polls, streaming, and every other group of the client
// API (profile, favourites, boosts, pins, relations, reports, lists, tags,
// filters, markers, scheduled posts, announcements, push).
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";
import WebSocket from "ws";
import { createECDH, createHash, randomBytes } from "node:crypto";

const BASE = process.env.GUISE_URL;
const USER = process.env.GUISE_USER;
const PASSWORD = process.env.GUISE_PASSWORD;
const FRIEND = process.env.GUISE_FRIEND;
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

// Every other group, through masto.js's own methods; a second login (staff)
// to act on and to announce.
const fapp = await anon.v1.apps.create({ clientName: "guise-e2e-masto-friend", redirectUris: OOB, scopes: "read write follow admin:read admin:write" });
const ftoken = await oauth.token.create({
  grantType: "password", clientId: fapp.clientId, clientSecret: fapp.clientSecret,
  username: FRIEND, password: PASSWORD, scope: "read write follow admin:read admin:write", redirectUri: OOB,
});
const friend = createRestAPIClient({ url: BASE, accessToken: ftoken.accessToken });
const fr = await friend.v1.accounts.verifyCredentials();
const updated = await masto.v1.accounts.updateCredentials({ displayName: "JS User", note: "from masto.js" });
check(updated.displayName === "JS User", "profile edits");
check((await masto.v1.preferences.fetch())["posting:default:visibility"] === "public", "preferences");
const theirs = await friend.v1.statuses.create({ status: "act on me #guisejs", visibility: "public" });
check((await masto.v1.statuses.$select(theirs.id).favourite()).favourited, "favourite");
check((await masto.v1.favourites.list()).some((x) => x.id === theirs.id), "favourites list");
check((await masto.v1.statuses.$select(theirs.id).reblog()).reblog.id === theirs.id, "reblog");
check(!(await masto.v1.statuses.$select(theirs.id).unreblog()).reblogged, "unreblog");
check((await masto.v1.statuses.$select(theirs.id).bookmark()).bookmarked, "bookmark");
check((await masto.v1.bookmarks.list()).some((x) => x.id === theirs.id), "bookmarks list");
const own = await masto.v1.statuses.create({ status: "pin me" });
check((await masto.v1.statuses.$select(own.id).pin()).pinned, "pin");
check((await masto.v1.statuses.$select(own.id).mute()).muted, "thread mute");
check((await masto.v1.accounts.$select(fr.id).follow()).following, "follow");
check((await masto.v1.accounts.relationships.fetch({ id: [fr.id] }))[0].following, "relationships");
check((await masto.v1.accounts.$select(fr.id).note.create({ comment: "js friend" })).note === "js friend", "account note");
check((await masto.v1.accounts.$select(fr.id).mute({ duration: 600 })).muting, "mute");
check((await masto.v1.mutes.list()).some((a) => a.id === fr.id), "mutes list");
check(!(await masto.v1.accounts.$select(fr.id).unmute()).muting, "unmute");
check((await masto.v1.accounts.$select(fr.id).block()).blocking, "block");
check((await masto.v1.blocks.list()).some((a) => a.id === fr.id), "blocks list");
check(!(await masto.v1.accounts.$select(fr.id).unblock()).blocking, "unblock");
check((await masto.v1.accounts.$select(fr.id).follow()).following, "follow again");
await masto.v1.domainBlocks.create({ domain: "spam.example" });
check((await masto.v1.domainBlocks.list()).includes("spam.example"), "domain blocks");
await masto.v1.domainBlocks.remove({ domain: "spam.example" });
check(Array.isArray(await masto.v1.followRequests.list()), "follow requests");
const report = await masto.v1.reports.create({ accountId: fr.id, statusIds: [theirs.id], comment: "testing", category: "other" });
check(report.targetAccount.id === fr.id, "report");
const list = await masto.v1.lists.create({ title: "js friends" });
await masto.v1.lists.$select(list.id).accounts.create({ accountIds: [fr.id] });
check((await masto.v1.lists.$select(list.id).accounts.list()).map((a) => a.id).join() === fr.id, "list members");
check((await masto.v1.lists.list()).some((l) => l.id === list.id), "lists");
check((await masto.v1.tags.$select("guisejs").follow()).following, "follow a tag");
check((await masto.v1.followedTags.list()).some((t) => t.name === "guisejs"), "followed tags");
check(!(await masto.v1.tags.$select("guisejs").unfollow()).following, "unfollow a tag");
const filter = await masto.v2.filters.create({ title: "spoilers", context: ["home"], filterAction: "warn", keywordsAttributes: [{ keyword: "ending" }] });
check((await masto.v2.filters.list()).some((f) => f.id === filter.id), "filters v2");
await masto.v2.filters.$select(filter.id).remove();
await masto.v1.markers.create({ home: { lastReadId: own.id } });
check((await masto.v1.markers.fetch({ timeline: ["home"] })).home.lastReadId === own.id, "markers");
check(Array.isArray(await masto.v1.conversations.list()), "conversations");
const later = await masto.v1.statuses.create({ status: "later from masto.js", scheduledAt: new Date(Date.now() + 3600_000).toISOString() });
check((await masto.v1.scheduledStatuses.list()).some((x) => x.id === later.id), "scheduled statuses");
const moved = await masto.v1.scheduledStatuses.$select(later.id).update({ scheduledAt: new Date(Date.now() + 7200_000).toISOString() });
check(moved.id === later.id, "reschedule");
await masto.v1.scheduledStatuses.$select(later.id).remove();
check(!(await masto.v1.scheduledStatuses.list()).some((x) => x.id === later.id), "cancel a scheduled post");
const ann = await (await fetch(`${BASE}/api/v1/admin/guise/announcements`, {
  method: "POST", headers: { Authorization: `Bearer ${ftoken.accessToken}`, "Content-Type": "application/json" },
  body: JSON.stringify({ text: "hello from masto.js staff" }),
})).json();
check((await masto.v1.announcements.list()).some((a) => a.id === ann.id), "announcements");
await masto.v1.announcements.$select(ann.id).reactions.$select("🎉").update();
const reacted = (await masto.v1.announcements.list()).find((a) => a.id === ann.id);
check(reacted.reactions.some((r) => r.name === "🎉" && r.me), "announcement reaction");
await masto.v1.announcements.$select(ann.id).dismiss();
const ecdh = createECDH("prime256v1");
ecdh.generateKeys();
const papp = await anon.v1.apps.create({ clientName: "guise-e2e-masto-push", redirectUris: OOB, scopes: "read push" });
check(papp.vapidKey === instance.configuration.vapid.publicKey, "the app learns the VAPID key");
const ptoken = await oauth.token.create({
  grantType: "password", clientId: papp.clientId, clientSecret: papp.clientSecret,
  username: USER, password: PASSWORD, scope: "read push", redirectUri: OOB,
});
const pusher = createRestAPIClient({ url: BASE, accessToken: ptoken.accessToken });
const sub = await pusher.v1.push.subscription.create({
  subscription: { endpoint: "http://127.0.0.1:9/push", keys: { p256dh: ecdh.getPublicKey("base64url"), auth: randomBytes(16).toString("base64url") } },
  data: { alerts: { mention: true, follow: false } },
  policy: "followed",
});
check(sub.alerts.mention && !sub.alerts.follow && sub.serverKey === instance.configuration.vapid.publicKey, "push subscription");
check((await pusher.v1.push.subscription.update({ data: { alerts: { favourite: true } } })).alerts.favourite, "push subscription update");
await pusher.v1.push.subscription.remove();

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
