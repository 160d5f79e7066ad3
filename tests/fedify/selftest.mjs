#!/usr/bin/env node
// Standalone check of peer.mjs: two peers (127.0.0.3 and 127.0.0.4) talk to
// each other through their control APIs, with signature verification on.
//
//   GUISE_TEST_NODE_MODULES=/path/to/node_modules node tests/fedify/selftest.mjs
//
// Prints "N passed, M failed" and exits non-zero on any failure.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const peerScript = path.join(here, "peer.mjs");
const children = [];
let passed = 0;
let failed = 0;

function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail === undefined ? "" : `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`}`);
  }
}

function startPeer(host) {
  return new Promise((resolve, reject) => {
    const extra = (process.env.FEDIFY_PEER_ARGS ?? "").split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, [peerScript, "--host", host, "--port", "0", "--exit-on-stdin-eof", ...extra], {
      stdio: ["pipe", "pipe", "inherit"],
      env: process.env,
    });
    children.push(child);
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`peer on ${host} did not start`)), 20000);
    child.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/^READY (\S+)\n/m);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: m[1] });
      }
    });
    child.on("exit", (code) => reject(new Error(`peer on ${host} exited with ${code}`)));
  });
}

async function call(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return json;
}

// Without --queue the peer delivers before answering a control call, so one
// read suffices; poll anyway, so the test also holds with --queue.
async function received(base, type, pred = () => true) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const list = await call(base, "GET", "/control/received");
    if (type == null || list.some((a) => a.type === type && pred(a)) || Date.now() > deadline) return list;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const find = (list, type, pred = () => true) => list.find((a) => a.type === type && pred(a));

async function main() {
  const [a, b] = await Promise.all([startPeer("127.0.0.3"), startPeer("127.0.0.4")]);
  const A = a.base;
  const B = b.base;
  const actorA = `${A}/users/peer`;
  const actorB = `${B}/users/peer`;

  // The actor document and WebFinger, as a remote server sees them.
  const actorRes = await fetch(actorA, { headers: { Accept: "application/activity+json" } });
  const actorDoc = await actorRes.json();
  check("actor served as activity+json", actorRes.ok && /activity\+json/.test(actorRes.headers.get("content-type")), actorRes.headers.get("content-type"));
  check("actor has RSA publicKey", actorDoc.publicKey?.publicKeyPem?.includes("BEGIN PUBLIC KEY") && actorDoc.publicKey.id === `${actorA}#main-key`, actorDoc.publicKey);
  check("actor has inbox, sharedInbox, followers",
    actorDoc.inbox === `${actorA}/inbox` && actorDoc.endpoints?.sharedInbox === `${A}/inbox` && actorDoc.followers === `${actorA}/followers`, actorDoc);
  const hostA = new URL(A).host;
  const wf = await fetch(`${A}/.well-known/webfinger?resource=${encodeURIComponent(`acct:peer@${hostA}`)}`);
  const jrd = wf.ok ? await wf.json() : null;
  check("webfinger acct:peer@host", jrd?.links?.some((l) => l.rel === "self" && l.href === actorA), jrd);

  // B follows A: A auto-accepts.
  const follow = await call(B, "POST", "/control/follow", { actor: actorA });
  check("follow returns an id", typeof follow.id === "string" && follow.id.startsWith(B), follow);
  const recvA1 = await received(A, "Follow", (x) => x.id === follow.id);
  const f = find(recvA1, "Follow", (x) => x.id === follow.id);
  check("A received Follow", f && f.actor === actorB && f.object === actorA, recvA1);
  const recvB1 = await received(B, "Accept");
  const acc = find(recvB1, "Accept");
  check("B received Accept of its Follow", acc && acc.actor === actorA &&
    (acc.object === follow.id || acc.object?.id === follow.id), recvB1);
  check("A lists B as follower", (await call(A, "GET", "/control/followers")).includes(actorB));
  const following = await call(B, "GET", "/control/following");
  check("B's follow is accepted", following.some((x) => x.id === actorA && x.state === "accepted"), following);

  // A posts publicly: B (a follower) gets Create(Note); the note is fetchable.
  const post = await call(A, "POST", "/control/post", { content: "<p>hello from A</p>", to: "public" });
  check("post returns the note id", typeof post.id === "string" && post.id.startsWith(actorA), post);
  const recvB2 = await received(B, "Create", (x) => (x.object?.id ?? x.object) === post.id);
  const create = find(recvB2, "Create", (x) => (x.object?.id ?? x.object) === post.id);
  check("B received Create(Note)", create && create.actor === actorA && create.object?.type === "Note" &&
    create.object?.content === "<p>hello from A</p>", recvB2);
  check("Create was delivered to the shared inbox", create?._inbox === "shared", create?._inbox);
  const noteRes = await fetch(post.id, { headers: { Accept: "application/activity+json" } });
  const noteDoc = noteRes.ok ? await noteRes.json() : null;
  check("note served at its id", noteDoc?.id === post.id && noteDoc?.type === "Note" && noteDoc?.attributedTo === actorA, noteDoc);
  const looked = await call(B, "POST", "/control/lookup", { id: post.id });
  check("B can look the note up through Fedify", looked?.id === post.id, looked);

  // A posts mentioning B; B follows A too, so one delivery, with a Mention tag.
  const post2 = await call(A, "POST", "/control/post", { content: "<p>hi @peer</p>", to: "public", mention: actorB });
  const recvB2b = await received(B, "Create", (x) => (x.object?.id ?? x.object) === post2.id);
  const create2 = find(recvB2b, "Create", (x) => (x.object?.id ?? x.object) === post2.id);
  const tags = [create2?.object?.tag ?? []].flat();
  check("mention: Create carries a Mention tag and cc", tags.some((t) => t.type === "Mention" && t.href === actorB) &&
    [create2?.object?.cc ?? []].flat().includes(actorB), create2);

  // B likes A's note.
  const like = await call(B, "POST", "/control/like", { object: post.id, actor: actorA });
  const recvA2 = await received(A, "Like", (x) => x.id === like.id);
  const l = find(recvA2, "Like", (x) => x.id === like.id);
  check("A received Like", l && l.actor === actorB && l.object === post.id, recvA2);

  // B boosts A's second note.
  const boost = await call(B, "POST", "/control/announce", { object: post2.id });
  const recvA2c = await received(A, "Announce", (x) => x.id === boost.id);
  const an = find(recvA2c, "Announce", (x) => x.id === boost.id);
  check("A received Announce", an && an.actor === actorB && an.object === post2.id, an ?? recvA2c);

  // B undoes the like.
  const undo = await call(B, "POST", "/control/undo", { id: like.id });
  const recvA2b = await received(A, "Undo", (x) => x.id === undo.id);
  const u = find(recvA2b, "Undo", (x) => x.id === undo.id);
  check("A received Undo(Like)", u && (u.object?.id ?? u.object) === like.id, u ?? recvA2b);

  // A edits then deletes the note.
  await call(A, "POST", "/control/update", { id: post.id, content: "<p>edited</p>" });
  const recvB3a = await received(B, "Update", (x) => (x.object?.id ?? x.object) === post.id);
  const upd = find(recvB3a, "Update", (x) => (x.object?.id ?? x.object) === post.id);
  check("B received Update(Note)", upd && upd.object?.content === "<p>edited</p>", upd ?? recvB3a);
  const del = await call(A, "POST", "/control/delete", { id: post.id });
  const recvB3 = await received(B, "Delete", (x) => x.id === del.id);
  const d = find(recvB3, "Delete", (x) => x.id === del.id);
  check("B received Delete(Tombstone)", d && d.actor === actorA && (d.object?.id ?? d.object) === post.id &&
    (d.object?.type === "Tombstone" || typeof d.object === "string"), d ?? recvB3);
  const gone = await fetch(post.id, { headers: { Accept: "application/activity+json" } });
  check("deleted note no longer served", gone.status === 404 || gone.status === 410, gone.status);

  // Signature verification is on: unsigned or badly signed inbox posts are
  // refused with 401 and never reach /control/received.
  const bogus = {
    "@context": "https://www.w3.org/ns/activitystreams",
    id: `${B}/activities/forged-${Date.now()}`,
    type: "Like",
    actor: actorB,
    object: `${actorA}/notes/whatever`,
  };
  const bodyText = JSON.stringify(bogus);
  const digest = `SHA-256=${createHash("sha256").update(bodyText).digest("base64")}`;
  const date = new Date().toUTCString();
  const unsigned = await fetch(`${actorA}/inbox`, {
    method: "POST",
    headers: { "Content-Type": "application/activity+json", Date: date, Digest: digest },
    body: bodyText,
  });
  check("unsigned inbox POST refused with 401", unsigned.status === 401, unsigned.status);
  const forged = await fetch(`${actorA}/inbox`, {
    method: "POST",
    headers: {
      "Content-Type": "application/activity+json",
      Date: date,
      Digest: digest,
      Signature: `keyId="${actorB}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest content-type",signature="${Buffer.alloc(256, 7).toString("base64")}"`,
    },
    body: bodyText,
  });
  check("badly signed inbox POST refused with 401", forged.status === 401, forged.status);
  const forgedShared = await fetch(`${A}/inbox`, {
    method: "POST",
    headers: {
      "Content-Type": "application/activity+json",
      Date: date,
      Digest: digest,
      Signature: `keyId="${actorB}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest content-type",signature="${Buffer.alloc(256, 7).toString("base64")}"`,
    },
    body: bodyText,
  });
  check("badly signed shared-inbox POST refused with 401", forgedShared.status === 401, forgedShared.status);
  const recvA3 = await received(A);
  check("forged activity not recorded", !recvA3.some((x) => x.id === bogus.id), recvA3.map((x) => x.id));
  const unverified = await call(A, "GET", "/control/unverified");
  check("forged activity listed under /control/unverified", unverified.some((x) => x.activity?.id === bogus.id), unverified);

  // B unfollows A.
  const unf = await call(B, "POST", "/control/unfollow", { actor: actorA });
  const recvA4 = await received(A, "Undo", (x) => x.id === unf.id);
  check("A received Undo(Follow)", find(recvA4, "Undo", (x) => x.id === unf.id) != null, recvA4.map((x) => x.type));
  check("B no longer A's follower", !(await call(A, "GET", "/control/followers")).includes(actorB));

  const errorsA = await call(A, "GET", "/control/errors");
  const errorsB = await call(B, "GET", "/control/errors");
  check("no delivery or listener errors", errorsA.length === 0 && errorsB.length === 0, { errorsA, errorsB });
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL ${e.stack ?? e}`);
} finally {
  for (const c of children) c.kill("SIGTERM");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
