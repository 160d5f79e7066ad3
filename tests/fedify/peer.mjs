#!/usr/bin/env node
// A small ActivityPub peer built on Fedify (@fedify/fedify 2.3.6), spawned
// by Guise's integration tests as a real process to test interoperability.
//
//   GUISE_TEST_NODE_MODULES=/path/to/node_modules \
//     node tests/fedify/peer.mjs --host 127.0.0.3 --port 0
//
// It serves, over plain HTTP on HOST:PORT, one actor `peer` and a JSON
// control API under /control/ (see README.md beside this file), and prints
// `READY http://HOST:PORT` on stdout once it listens. Everything else it
// says goes to stderr. It exits on SIGTERM or SIGINT (and, with
// --exit-on-stdin-eof, when its standard input closes).

import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import path from "node:path";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = {
    host: "127.0.0.3",
    port: 0,
    logLevel: process.env.FEDIFY_PEER_LOG ?? "warning",
    queue: false,
    exitOnStdinEof: false,
    firstKnock: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--host") opts.host = next();
    else if (a === "--port") opts.port = Number(next());
    else if (a === "--log-level") opts.logLevel = next();
    else if (a === "--verbose" || a === "-v") opts.logLevel = "debug";
    else if (a === "--queue") opts.queue = true;
    else if (a === "--exit-on-stdin-eof") opts.exitOnStdinEof = true;
    else if (a === "--first-knock") opts.firstKnock = next();
    else if (a === "--help" || a === "-h") usage(null);
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    usage("--port must be an integer in 0..65535");
  }
  return opts;
}

function usage(error) {
  const text =
    "usage: node peer.mjs [--host 127.0.0.3] [--port N (0 = any)]\n" +
    "                     [--log-level debug|info|warning|error] [--verbose]\n" +
    "                     [--queue] [--first-knock rfc9421|draft-cavage-http-signatures-12]\n" +
    "                     [--exit-on-stdin-eof]\n" +
    "env: GUISE_TEST_NODE_MODULES (or NODE_PATH) = the node_modules holding @fedify/fedify\n";
  process.stderr.write((error ? `peer.mjs: ${error}\n` : "") + text);
  process.exit(error ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));

// ------------------------------------------------------------------- shims

// Fedify 2.3.6 declares node >= 22. On Node 20 the only gap met on this
// path is the `navigator` global (Node 21+): Fedify's importJwk() evaluates
// `navigator?.userAgent` for Ed25519 JWKs, which throws a ReferenceError on
// Node 20 because `navigator` is not declared at all. The shim is a no-op on
// Node >= 21.
globalThis.navigator ??= { userAgent: `Node.js/${process.versions.node}` };

// ----------------------------------------------------------------- imports

// ESM ignores NODE_PATH, so resolve the packages from an explicit folder.
function nodeModulesDirs() {
  const dirs = [];
  if (process.env.GUISE_TEST_NODE_MODULES) dirs.push(process.env.GUISE_TEST_NODE_MODULES);
  for (const d of (process.env.NODE_PATH ?? "").split(path.delimiter)) if (d) dirs.push(d);
  // Fallback: the repo's own install location, relative to this file.
  dirs.push(path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    "../../target/clients/node/node_modules"));
  return dirs;
}

async function importPackage(name) {
  const errors = [];
  for (const dir of [...new Set(nodeModulesDirs().map((d) => path.resolve(d)))]) {
    const pkgDir = path.join(dir, ...name.split("/"));
    const pkgJson = path.join(pkgDir, "package.json");
    if (!fs.existsSync(pkgJson)) {
      errors.push(`${pkgJson}: missing`);
      continue;
    }
    // The ESM entry point, as the package's "exports" names it.
    const pkg = JSON.parse(fs.readFileSync(pkgJson, "utf8"));
    let exp = pkg.exports?.["."] ?? pkg.exports;
    if (exp != null && typeof exp === "object") exp = exp.import ?? exp.default;
    if (exp != null && typeof exp === "object") exp = exp.default;
    const entry = typeof exp === "string" ? exp : pkg.module ?? pkg.main ?? "index.js";
    return await import(pathToFileURL(path.join(pkgDir, entry)).href);
  }
  throw new Error(`cannot find ${name}; set GUISE_TEST_NODE_MODULES to the node_modules holding it:\n  ${errors.join("\n  ")}`);
}

const fedify = await importPackage("@fedify/fedify");
const vocab = await importPackage("@fedify/vocab");
const logtape = await importPackage("@logtape/logtape");
// Fedify's vocabulary takes Temporal.Instant; Node has none built in, so use
// the polyfill Fedify itself imports (a dependency of @fedify/fedify).
const { Temporal } = await importPackage("@js-temporal/polyfill");

const {
  createFederation,
  MemoryKvStore,
  InProcessMessageQueue,
  generateCryptoKeyPair,
} = fedify;
const {
  Accept, Activity, Announce, Block, Create, Delete, Endpoints, Follow, Like,
  Mention, Note, Person, PUBLIC_COLLECTION, Reject, Tombstone, Undo, Update,
  isActor,
} = vocab;

// ----------------------------------------------------------------- logging

// All logs go to stderr: stdout carries only the READY line, so a parent
// that stops reading stdout after READY can never block us.
await logtape.configure({
  // Fedify keeps per-request log context here (silences a LogTape warning).
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: {
    stderr(record) {
      const msg = record.message.map((p) => (typeof p === "string" ? p : safeStringify(p))).join("");
      process.stderr.write(`[peer ${record.level}] ${record.category.join(".")}: ${msg}\n`);
    },
  },
  filters: {
    // We give `peer` an RSA key only (what Guise verifies), so Fedify warns
    // on every send that it cannot add an Ed25519 Object Integrity Proof.
    noProofNoise: (r) => !(r.level === "warning" && r.category.join(".") === "fedify.federation.outbox" &&
      String(r.rawMessage ?? r.message?.[0] ?? "").startsWith("No supported key found to create a proof")),
  },
  loggers: [
    { category: "fedify", sinks: ["stderr"], filters: ["noProofNoise"], lowestLevel: opts.logLevel },
    { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "warning" },
  ],
});

function safeStringify(v) {
  if (v instanceof Error) return v.stack ?? String(v);
  if (v instanceof URL) return v.href;
  try {
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  } catch {
    return String(v);
  }
}

function log(...args) {
  process.stderr.write(`[peer] ${args.map((a) => (typeof a === "string" ? a : safeStringify(a))).join(" ")}\n`);
}

// ------------------------------------------------------------------- state

const ACTOR = "peer";
const state = {
  keyPairs: null, // [{ privateKey, publicKey }], generated at start-up
  received: [], // every activity our inbox listeners accepted, as JSON-LD
  unverified: [], // activities refused for a failed signature, with the reason
  errors: [], // inbox listener errors and failed deliveries
  followers: new Map(), // actor id -> { id, inbox, sharedInbox, followId }
  following: new Map(), // actor id -> { id, followId, state: pending|accepted|rejected }
  notes: new Map(), // local note id (the {id} in the URL) -> note record
  sent: new Map(), // activity URL -> { json, recipients: [actor ids] }
};

// ---------------------------------------------------------- the federation

const listener = await listen(opts.host, opts.port);
const port = listener.address().port;
const authority = opts.host.includes(":") ? `[${opts.host}]:${port}` : `${opts.host}:${port}`;
const ORIGIN = `http://${authority}`;

state.keyPairs = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")];

const federation = createFederation({
  kv: new MemoryKvStore(),
  // Without a queue, sendActivity() delivers before it returns (so a control
  // call answers only once the remote inbox has answered) and inbox
  // listeners run before the inbox POST is answered. --queue switches to
  // Fedify's InProcessMessageQueue (asynchronous, retried with back-off).
  ...(opts.queue ? { queue: new InProcessMessageQueue() } : {}),
  // Guise and the other peers live on 127.0.0.x: let Fedify fetch them.
  allowPrivateAddress: true,
  // Mint every URL from the address we listen on, whatever Host a client
  // sends (requests with another Host are still served).
  origin: ORIGIN,
  ...(opts.firstKnock ? { firstKnock: opts.firstKnock } : {}),
  // Signature verification stays on (skipSignatureVerification: false).
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== ACTOR) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify Peer",
      summary: "A Fedify test peer for Guise's integration tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      manuallyApprovesFollowers: false,
      discoverable: true,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === ACTOR ? ACTOR : null))
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === ACTOR ? state.keyPairs : []));

federation.setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier, _cursor) => {
  if (identifier !== ACTOR) return null;
  return { items: [...state.followers.values()].map(followerRecipient) };
});

federation.setObjectDispatcher(Note, "/users/{identifier}/notes/{id}", (ctx, values) => {
  if (values.identifier !== ACTOR) return null;
  const rec = state.notes.get(values.id);
  if (rec == null || rec.deleted) return null;
  return buildNote(ctx, rec);
});

function followerRecipient(f) {
  return {
    id: new URL(f.id),
    inboxId: f.inbox ? new URL(f.inbox) : null,
    endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
  };
}

// ---------------------------------------------------------- inbox handling

async function record(ctx, activity, extra = {}) {
  let json;
  try {
    json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  } catch (e) {
    json = { type: activity.constructor.name, id: activity.id?.href, error: String(e) };
  }
  // What the Rust test reads most: type, id, actor, object. toJsonLd() gives
  // the compact form with these at top level; keep the receiving inbox too.
  const entry = {
    ...json,
    _inbox: ctx.recipient == null ? "shared" : "personal",
    _recipient: ctx.recipient ?? null,
    _receivedAt: new Date().toISOString(),
    ...extra,
  };
  state.received.push(entry);
  log(`received ${entry.type ?? "?"} ${entry.id ?? ""} from ${activity.actorId?.href ?? "?"} (${entry._inbox} inbox)`);
  return entry;
}

function myActorUri(ctx) {
  return ctx.getActorUri(ACTOR);
}

async function actorRecord(ctx, actor, fallbackId) {
  return {
    id: actor?.id?.href ?? fallbackId,
    inbox: actor?.inboxId?.href ?? null,
    sharedInbox: actor?.endpoints?.sharedInbox?.href ?? null,
  };
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // In the shared inbox, sign the fetches Fedify makes (actors, objects) as
  // `peer`, as Mastodon does, so servers requiring authorized fetch work.
  .setSharedKeyDispatcher((_ctx) => ({ identifier: ACTOR }))
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    if (follow.id == null || follow.actorId == null || follow.objectId == null) return;
    const target = ctx.parseUri(follow.objectId);
    if (target?.type !== "actor" || target.identifier !== ACTOR) {
      log(`Follow of ${follow.objectId.href} is not for us; ignored`);
      return;
    }
    const follower = await follow.getActor(ctx);
    if (follower == null || !isActor(follower)) {
      throw new Error(`could not fetch the follower ${follow.actorId.href}`);
    }
    const rec = await actorRecord(ctx, follower, follow.actorId.href);
    state.followers.set(rec.id, { ...rec, followId: follow.id.href });
    // Embed the Follow by id/actor/object only, as Mastodon does. (Passing
    // `follow` itself would embed the whole follower actor document, which
    // follow.getActor() above cached into it.)
    const accept = new Accept({
      id: newActivityId(ctx),
      actor: myActorUri(ctx),
      object: new Follow({ id: follow.id, actor: follow.actorId, object: follow.objectId }),
      to: follow.actorId,
    });
    await send(ctx, follower, accept);
  })
  .on(Accept, async (ctx, accept) => {
    await record(ctx, accept);
    settleFollow(accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    await record(ctx, reject);
    settleFollow(reject, "rejected");
  })
  .on(Undo, async (ctx, undo) => {
    await record(ctx, undo);
    // Undo(Follow): the object may be embedded or only its id.
    const objectId = undo.objectId?.href;
    for (const [actorId, f] of state.followers) {
      if (actorId === undo.actorId?.href && (objectId == null || objectId === f.followId || await isFollowOfUs(ctx, undo))) {
        state.followers.delete(actorId);
        log(`${actorId} unfollowed us`);
      }
    }
  })
  .on(Create, async (ctx, a) => void (await record(ctx, a)))
  .on(Update, async (ctx, a) => void (await record(ctx, a)))
  .on(Delete, async (ctx, a) => void (await record(ctx, a)))
  .on(Like, async (ctx, a) => void (await record(ctx, a)))
  .on(Announce, async (ctx, a) => void (await record(ctx, a)))
  .on(Block, async (ctx, block) => {
    await record(ctx, block);
    // A block severs both directions, as Mastodon does.
    const who = block.actorId?.href;
    if (who != null) {
      state.followers.delete(who);
      state.following.delete(who);
    }
  })
  // Any other activity type: still recorded, so the tests see it.
  .on(Activity, async (ctx, a) => void (await record(ctx, a)))
  .onUnverifiedActivity(async (ctx, activity, reason) => {
    // Fedify still answers 401: this only records what was refused.
    let json = null;
    try {
      json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
    } catch {
      json = { id: activity.id?.href };
    }
    state.unverified.push({ activity: json, reason: reason?.type ?? String(reason) });
    log(`refused unverified ${json?.type ?? "activity"} ${activity.id?.href ?? ""}: ${reason?.type}`);
  })
  .onError((_ctx, error) => {
    state.errors.push({ where: "inbox", error: String(error?.stack ?? error) });
    log("inbox listener error:", error);
  });

async function isFollowOfUs(ctx, undo) {
  try {
    const obj = await undo.getObject(ctx);
    return obj instanceof Follow && obj.objectId?.href === myActorUri(ctx).href;
  } catch {
    return false;
  }
}

function settleFollow(activity, newState) {
  const actorId = activity.actorId?.href;
  const f = actorId && state.following.get(actorId);
  if (!f) return;
  const objectId = activity.objectId?.href;
  if (objectId == null || objectId === f.followId || objectId === actorId || objectId === f.id) {
    f.state = newState;
  }
}

// ------------------------------------------------------------ sending

function newActivityId(ctx) {
  return new URL(`/activities/${randomUUID()}`, ctx.canonicalOrigin ?? ORIGIN);
}

async function send(ctx, recipients, activity, options = {}) {
  const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  const list = recipients === "followers" ? "followers" : [recipients].flat();
  state.sent.set(activity.id.href, {
    json,
    recipients: list === "followers" ? "followers" : list.map((r) => r.id?.href),
  });
  try {
    await ctx.sendActivity({ identifier: ACTOR }, recipients, activity, options);
  } catch (e) {
    state.errors.push({ where: "send", activity: activity.id.href, error: String(e?.stack ?? e) });
    throw e;
  }
  return json;
}

async function lookupActor(ctx, url) {
  const obj = await ctx.lookupObject(url, { documentLoader: await authLoader(ctx) });
  if (obj == null) throw new HttpError(502, `could not fetch ${url}`);
  if (!isActor(obj)) throw new HttpError(502, `${url} is not an actor (${obj.constructor.name})`);
  return obj;
}

// Fetches signed as `peer` (Guise may require signed GETs some day).
async function authLoader(ctx) {
  return await ctx.getDocumentLoader({ identifier: ACTOR });
}

function buildNote(ctx, rec) {
  const cc = [ctx.getFollowersUri(ACTOR), ...rec.mentions.map((m) => new URL(m.href))];
  return new Note({
    id: ctx.getObjectUri(Note, { identifier: ACTOR, id: rec.id }),
    attribution: myActorUri(ctx),
    content: rec.content,
    published: Temporal.Instant.from(rec.published),
    updated: rec.updated ? Temporal.Instant.from(rec.updated) : null,
    url: ctx.getObjectUri(Note, { identifier: ACTOR, id: rec.id }),
    to: rec.public ? PUBLIC_COLLECTION : null,
    ccs: cc,
    tags: rec.mentions.map((m) => new Mention({ href: new URL(m.href), name: m.name })),
    replyTarget: rec.inReplyTo ? new URL(rec.inReplyTo) : null,
  });
}

// Recipients of a post: "followers" alone, or followers plus mentioned
// actors in one call (Fedify then delivers once per inbox).
async function postRecipients(ctx, mentionActors) {
  if (mentionActors.length === 0) return "followers";
  return [...[...state.followers.values()].map(followerRecipient), ...mentionActors];
}

// ------------------------------------------------------------ control API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function json(status, body) {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

async function readJson(request) {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body is not JSON");
  }
}

function need(body, field) {
  const v = body[field];
  if (typeof v !== "string" || v === "") throw new HttpError(400, `"${field}" (a string) is required`);
  return v;
}

function localNoteId(ctx, noteUrl) {
  const parsed = ctx.parseUri(new URL(noteUrl));
  if (parsed?.type === "object" && parsed.values?.identifier === ACTOR) return parsed.values.id;
  // Also accept the bare local id.
  return state.notes.has(noteUrl) ? noteUrl : null;
}

const control = {
  "GET /control/received": () => state.received,
  "GET /control/unverified": () => state.unverified,
  "GET /control/errors": () => state.errors,
  "GET /control/followers": () => [...state.followers.keys()],
  "GET /control/following": () => [...state.following.values()],
  "GET /control/sent": () => [...state.sent.values()].map((s) => s.json),
  "GET /control/actor": (ctx) => ({
    id: myActorUri(ctx).href,
    inbox: ctx.getInboxUri(ACTOR).href,
    sharedInbox: ctx.getInboxUri().href,
    followers: ctx.getFollowersUri(ACTOR).href,
    keyId: `${myActorUri(ctx).href}#main-key`,
    handle: `${ACTOR}@${authority}`,
  }),

  "POST /control/reset": () => {
    state.received.length = 0;
    state.unverified.length = 0;
    state.errors.length = 0;
    return { ok: true };
  },

  // {"id": "<url>"} -> the object as Fedify parses it (compact JSON-LD).
  "POST /control/lookup": async (ctx, body) => {
    const obj = await ctx.lookupObject(need(body, "id"), { documentLoader: await authLoader(ctx) });
    if (obj == null) throw new HttpError(502, `could not fetch ${body.id}`);
    return await obj.toJsonLd({ contextLoader: ctx.contextLoader });
  },

  // {"acct": "alice@127.0.0.1:8080"} -> WebFinger over plain http (Fedify's
  // own acct: lookups always use https), then the actor it links to.
  "POST /control/webfinger": async (ctx, body) => {
    const acct = need(body, "acct").replace(/^acct:/, "").replace(/^@/, "");
    const host = acct.slice(acct.lastIndexOf("@") + 1);
    const url = `http://${host}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${acct}`)}`;
    const res = await fetch(url, { headers: { Accept: "application/jrd+json" } });
    if (!res.ok) throw new HttpError(502, `GET ${url}: ${res.status}`);
    const jrd = await res.json();
    const self = (jrd.links ?? []).find((l) => l.rel === "self" &&
      /^application\/(activity\+json|ld\+json)/.test(l.type ?? ""));
    if (self?.href == null) throw new HttpError(502, `no rel=self link in ${JSON.stringify(jrd)}`);
    const actor = await lookupActor(ctx, self.href);
    return { jrd, actor: await actor.toJsonLd({ contextLoader: ctx.contextLoader }) };
  },

  // {"actor": "<actor url>"} -> Follow sent to that actor.
  "POST /control/follow": async (ctx, body) => {
    const target = await lookupActor(ctx, need(body, "actor"));
    const follow = new Follow({
      id: newActivityId(ctx),
      actor: myActorUri(ctx),
      object: target.id,
      to: target.id,
    });
    state.following.set(target.id.href, { id: target.id.href, followId: follow.id.href, state: "pending" });
    await send(ctx, target, follow);
    return { id: follow.id.href };
  },

  // {"actor": "<actor url>"} -> Undo(Follow) of our follow of that actor.
  "POST /control/unfollow": async (ctx, body) => {
    const actorUrl = need(body, "actor");
    const f = state.following.get(actorUrl);
    if (f == null) throw new HttpError(404, `not following ${actorUrl}`);
    const target = await lookupActor(ctx, actorUrl);
    const undo = new Undo({
      id: newActivityId(ctx),
      actor: myActorUri(ctx),
      object: new Follow({ id: new URL(f.followId), actor: myActorUri(ctx), object: target.id }),
      to: target.id,
    });
    await send(ctx, target, undo);
    state.following.delete(actorUrl);
    return { id: undo.id.href };
  },

  // {"content": "<p>hi</p>", "to": "public"|"followers", "mention": url|[urls],
  //  "inReplyTo": url, "sharedInbox": true} -> Create(Note) to followers
  // (+ mentioned actors, who are cc'd and tagged).
  "POST /control/post": async (ctx, body) => {
    const content = need(body, "content");
    const to = body.to ?? "public";
    if (to !== "public" && to !== "followers") throw new HttpError(400, `"to" must be "public" or "followers"`);
    const mentionUrls = body.mention == null ? [] : [body.mention].flat();
    const mentionActors = [];
    const mentions = [];
    for (const url of mentionUrls) {
      const actor = await lookupActor(ctx, url);
      mentionActors.push(actor);
      mentions.push({
        href: actor.id.href,
        name: `@${actor.preferredUsername ?? "unknown"}@${actor.id.host}`,
      });
    }
    const rec = {
      id: randomUUID(),
      content,
      public: to === "public",
      mentions,
      inReplyTo: body.inReplyTo ?? null,
      published: new Date().toISOString(),
      updated: null,
      deleted: false,
    };
    state.notes.set(rec.id, rec);
    const note = buildNote(ctx, rec);
    const create = new Create({
      id: new URL(`${note.id.href}/activity`),
      actor: myActorUri(ctx),
      object: note,
      published: note.published,
      tos: note.toIds,
      ccs: note.ccIds,
    });
    await send(ctx, await postRecipients(ctx, mentionActors), create, {
      preferSharedInbox: body.sharedInbox ?? true,
    });
    return { id: note.id.href, activity: create.id.href };
  },

  // {"id": "<our note url>", "content": "..."} -> Update(Note) to followers.
  "POST /control/update": async (ctx, body) => {
    const localId = localNoteId(ctx, need(body, "id"));
    const rec = localId && state.notes.get(localId);
    if (!rec || rec.deleted) throw new HttpError(404, `no note ${body.id}`);
    rec.content = need(body, "content");
    rec.updated = new Date().toISOString();
    const note = buildNote(ctx, rec);
    const update = new Update({
      id: new URL(`${note.id.href}#updates/${Date.now()}`),
      actor: myActorUri(ctx),
      object: note,
      tos: note.toIds,
      ccs: note.ccIds,
    });
    const mentionActors = await Promise.all(rec.mentions.map((m) => lookupActor(ctx, m.href)));
    await send(ctx, await postRecipients(ctx, mentionActors), update, { preferSharedInbox: body.sharedInbox ?? true });
    return { id: update.id.href };
  },

  // {"id": "<our note url>"} -> Delete(Tombstone) to followers.
  "POST /control/delete": async (ctx, body) => {
    const localId = localNoteId(ctx, need(body, "id"));
    const rec = localId && state.notes.get(localId);
    if (!rec || rec.deleted) throw new HttpError(404, `no note ${body.id}`);
    rec.deleted = true;
    const noteId = ctx.getObjectUri(Note, { identifier: ACTOR, id: rec.id });
    const del = new Delete({
      id: new URL(`${noteId.href}#delete`),
      actor: myActorUri(ctx),
      object: new Tombstone({ id: noteId }),
      to: rec.public ? PUBLIC_COLLECTION : null,
      ccs: [ctx.getFollowersUri(ACTOR), ...rec.mentions.map((m) => new URL(m.href))],
    });
    const mentionActors = await Promise.all(rec.mentions.map((m) => lookupActor(ctx, m.href)));
    await send(ctx, await postRecipients(ctx, mentionActors), del, { preferSharedInbox: body.sharedInbox ?? true });
    return { id: del.id.href };
  },

  // {"object": "<note url>", "actor": "<author url>"} -> Like to the author.
  "POST /control/like": async (ctx, body) => react(ctx, body, Like),
  // Same shape -> Announce (boost) to the author and our followers.
  "POST /control/announce": async (ctx, body) => react(ctx, body, Announce),

  // {"id": "<activity url we sent>"} -> Undo of it (Like, Announce, Follow).
  "POST /control/undo": async (ctx, body) => {
    const sent = state.sent.get(need(body, "id"));
    if (sent == null) throw new HttpError(404, `we sent no activity ${body.id}`);
    const original = await Activity.fromJsonLd(sent.json, { contextLoader: ctx.contextLoader });
    const undo = new Undo({
      id: newActivityId(ctx),
      actor: myActorUri(ctx),
      object: original,
      tos: original.toIds,
      ccs: original.ccIds,
    });
    let recipients;
    if (sent.recipients === "followers") recipients = "followers";
    else recipients = await Promise.all(sent.recipients.filter(Boolean).map((u) => lookupActor(ctx, u)));
    await send(ctx, recipients, undo);
    return { id: undo.id.href };
  },
};

async function react(ctx, body, Type) {
  const objectUrl = need(body, "object");
  let authorUrl = body.actor;
  if (authorUrl == null) {
    const obj = await ctx.lookupObject(objectUrl, { documentLoader: await authLoader(ctx) });
    authorUrl = obj?.attributionId?.href;
    if (authorUrl == null) throw new HttpError(400, `no "actor" given and ${objectUrl} has no attributedTo`);
  }
  const author = await lookupActor(ctx, authorUrl);
  const activity = new Type({
    id: newActivityId(ctx),
    actor: myActorUri(ctx),
    object: new URL(objectUrl),
    ...(Type === Announce
      ? { to: PUBLIC_COLLECTION, ccs: [author.id, ctx.getFollowersUri(ACTOR)], published: Temporal.Now.instant() }
      : { to: author.id }),
  });
  const recipients = Type === Announce
    ? [author, ...[...state.followers.values()].map(followerRecipient)]
    : author;
  await send(ctx, recipients, activity, { preferSharedInbox: body.sharedInbox ?? (Type === Announce) });
  return { id: activity.id.href };
}

async function handleControl(request, url) {
  const handler = control[`${request.method} ${url.pathname.replace(/\/+$/, "")}`];
  if (handler == null) return json(404, { error: `no control route ${request.method} ${url.pathname}` });
  const ctx = federation.createContext(request, undefined);
  try {
    const body = request.method === "POST" ? await readJson(request) : {};
    return json(200, await handler(ctx, body));
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 502;
    log(`control ${url.pathname} failed:`, e);
    return json(status, { error: String(e?.message ?? e), detail: String(e?.stack ?? e) });
  }
}

// ------------------------------------------------------------ HTTP server

// Activities we sent are served at their id (receivers may dereference them).
function serveSentActivity(url) {
  const sent = state.sent.get(`${ORIGIN}${url.pathname}`);
  if (sent == null) return new Response("Not found\n", { status: 404 });
  return new Response(JSON.stringify(sent.json), {
    headers: { "Content-Type": "application/activity+json" },
  });
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

async function toRequest(req) {
  const url = new URL(req.url, `http://${req.headers.host ?? authority}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (HOP_BY_HOP.has(name) || value == null) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(url, {
    method: req.method,
    headers,
    body: hasBody ? new Uint8Array(Buffer.concat(chunks)) : undefined,
  });
}

async function handle(req, res) {
  let response;
  try {
    const request = await toRequest(req);
    const url = new URL(request.url);
    if (url.pathname.startsWith("/control/")) {
      response = await handleControl(request, url);
    } else if (url.pathname.startsWith("/activities/") && request.method === "GET") {
      response = serveSentActivity(url);
    } else {
      response = await federation.fetch(request, {
        contextData: undefined,
        onNotFound: () => new Response("Not found\n", { status: 404, headers: { "Content-Type": "text/plain" } }),
        onNotAcceptable: () => new Response("Not acceptable\n", { status: 406, headers: { "Content-Type": "text/plain" } }),
      });
    }
    if (opts.logLevel === "debug" || opts.logLevel === "trace") {
      log(`${req.method} ${req.url} -> ${response.status}`);
    }
  } catch (e) {
    log(`${req.method} ${req.url} failed:`, e);
    response = new Response(`Internal error: ${e?.message ?? e}\n`, { status: 500 });
  }
  const headers = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

function listen(host, port) {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      handle(req, res).catch((e) => {
        log("response failed:", e);
        try {
          res.destroy();
        } catch {}
      });
    });
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function shutdown(signal) {
  log(`${signal}: exiting`);
  listener.close();
  listener.closeAllConnections?.();
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
if (opts.exitOnStdinEof) {
  process.stdin.on("end", () => shutdown("stdin EOF"));
  process.stdin.on("close", () => shutdown("stdin closed"));
  process.stdin.resume();
}

process.stdout.write(`READY ${ORIGIN}\n`);
