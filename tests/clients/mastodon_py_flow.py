"""Drives Guise with Mastodon.py, unmodified: app registration, the password
grant, the OAuth authorization-code flow (submitting the authorize form as a
browser would, with and without PKCE), verify_credentials, posting, both
timelines with pagination, deletion, media, polls, the start-up screens,
the user stream and Web Push (legacy pushes decrypted by Mastodon.py,
standard ones by http_ece). Exits non-zero on the first failure."""
import base64
import hashlib
import html
import http.server
import io
import json
import os
import queue
import threading
import re
import secrets
import struct
import sys
import time
import urllib.parse
import zlib

import requests
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError, StreamListener

BASE = os.environ["GUISE_URL"]
USER = os.environ["GUISE_USER"]
PASSWORD = os.environ["GUISE_PASSWORD"]
FRIEND = os.environ["GUISE_FRIEND"]
OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow"]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    return html.unescape(m.group(1)) if m else None


def browser_authorize(url):
    """Signs in and picks the first face on the authorize pages; returns the code."""
    s = requests.Session()
    page = s.get(url)
    check(page.status_code == 200 and 'name="password"' in page.text, "authorize page shows a sign-in form")
    form = {k: field(page.text, k) for k in ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"]}
    form = {k: v for k, v in form.items() if v is not None}
    picker = s.post(BASE + "/oauth/authorize", data={**form, "login": USER, "password": PASSWORD})
    check('name="face"' in picker.text, "sign-in leads to the face picker")
    face = re.search(r'name="face" value="(\d+)"', picker.text).group(1)
    done = s.post(BASE + "/oauth/authorize", data={**form, "pending": field(picker.text, "pending"), "face": face}, allow_redirects=False)
    if form.get("redirect_uri") == OOB:
        m = re.search(r'<code id="code">([^<]+)</code>', done.text)
        check(m is not None, "out-of-band flow shows the code")
        return html.unescape(m.group(1))
    loc = done.headers["Location"]
    return urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["code"][0]


# App registration and the password grant (Mastodon.py's log_in).
client_id, client_secret = Mastodon.create_app("guise-e2e-py", scopes=SCOPES, redirect_uris=OOB, api_base_url=BASE)
m = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
m.log_in(USER, PASSWORD, scopes=SCOPES, allow_http=True)
me = m.account_verify_credentials()
check(me.username == USER, "verify_credentials after the password grant")
check(m.instance().version.startswith("4.3.0"), "instance version is Mastodon-compatible")

# Posting and both timelines with pagination.
posts = [m.status_post(f"Mastodon.py post {i} #e2e", visibility="public") for i in range(5)]
check(all(p.account.id == me.id for p in posts), "posts belong to the face")
first = m.timeline_home(limit=2)
check([s.id for s in first] == [posts[4].id, posts[3].id], "home timeline, first page")
second = m.fetch_next(first)
check([s.id for s in second] == [posts[2].id, posts[1].id], "home timeline, next page through the Link header")
pub = m.timeline_public(limit=3)
check([s.id for s in pub] == [posts[4].id, posts[3].id, posts[2].id], "public timeline")
pub2 = m.fetch_next(pub)
check([s.id for s in pub2][:2] == [posts[1].id, posts[0].id], "public timeline, next page")
check(m.status(posts[2].id).content.startswith("<p>Mastodon.py post 2"), "status by id")

# Deletion.
deleted = m.status_delete(posts[0].id)
check(deleted.id == posts[0].id, "delete returns the status")
check(posts[0].id not in [s.id for s in m.timeline_home(limit=20)], "deleted status left the timeline")

# Media: a real PNG carrying a text chunk; what is served has none of it.
def png_with_comment():
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    w, h = 4, 3
    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00secret-location") + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
media = m.media_post(io.BytesIO(png_with_comment()), mime_type="image/png", description="a red dot")
check(media.type == "image" and media.description == "a red dot", "media_post uploads an image")
served = requests.get(media.url)
check(served.status_code == 200 and b"secret-location" not in served.content, "the served file lost its text chunk")
with_media = m.status_post("with a picture", media_ids=[media])
check(len(with_media.media_attachments) == 1 and with_media.media_attachments[0].id == media.id, "a post carries the upload")

# Polls.
polled = m.status_post("tea or coffee?", poll=m.make_poll(["tea", "coffee"], expires_in=600))
check([o.title for o in polled.poll.options] == ["tea", "coffee"], "a post with a poll")
voted = m.poll_vote(polled.poll.id, [1])
check(voted.voted and voted.options[1].votes_count == 1, "poll_vote counts the vote")

# The screens apps open at start-up.
check(m.preferences()["posting:default:visibility"] == "public", "preferences")
m.markers_set("home", posts[4].id)
check(m.markers_get("home")["home"].last_read_id == posts[4].id, "markers")
m.status_bookmark(posts[3].id)
check([s.id for s in m.bookmarks()] == [posts[3].id], "bookmarks")
lst = m.list_create("friends")
check(any(l.id == lst.id for l in m.lists()), "lists")
check(isinstance(m.conversations(), list) and isinstance(m.announcements(), list), "conversations and announcements")
check(isinstance(m.followed_tags(), list) and isinstance(m.scheduled_statuses(), list), "followed tags and scheduled posts")

# Streaming, as Mastodon.py reads it (server-sent events at the URL the
# instance advertises).
got = []
class Listener(StreamListener):
    def on_update(self, status):
        got.append(status.id)
handle = m.stream_user(Listener(), run_async=True)
time.sleep(1)
# A filter made while the stream is open: `filters_changed` arrives on it,
# and Mastodon.py must take it.
f = m.create_filter_v2("spoilers", ["home"], "warn", keywords_attributes=[{"keyword": "ending", "whole_word": True}])
check(any(x.id == f.id for x in m.filters_v2()), "filters v2")
# The stream connects in the background: post until one arrives on it.
sent = []
for i in range(20):
    sent.append(m.status_post(f"live from Mastodon.py {i}").id)
    time.sleep(1)
    if any(x in got for x in sent):
        break
handle.close()
check(any(x in got for x in sent), "stream_user delivers a new post")

# Web Push: a push service on 127.0.0.1 that hands each request to the test.
pushes = queue.Queue()
class PushService(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))  # case-insensitive here
        pushes.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
service = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PushService)
threading.Thread(target=service.serve_forever, daemon=True).start()
service_url = f"http://127.0.0.1:{service.server_address[1]}"

PUSH_SCOPES = ["read", "write", "follow", "push"]
pid, psecret = Mastodon.create_app("guise-e2e-push", scopes=PUSH_SCOPES, redirect_uris=OOB, api_base_url=BASE)
mp = Mastodon(client_id=pid, client_secret=psecret, api_base_url=BASE)
mp.log_in(USER, PASSWORD, scopes=PUSH_SCOPES, allow_http=True)
friend = Mastodon(client_id=pid, client_secret=psecret, api_base_url=BASE)
friend.log_in(FRIEND, PASSWORD, scopes=PUSH_SCOPES, allow_http=True)
priv, pub = mp.push_subscription_generate_keys()
sub = mp.push_subscription_set(service_url + "/legacy", pub, mention_events=True, favourite_events=True, follow_events=False)
check(sub.alerts.mention and sub.alerts.favourite and not sub.alerts.follow, "push subscription alerts")
check(sub.server_key == mp.instance_v2().configuration.vapid.public_key != "", "server_key is the instance's VAPID key")
check(mp.push_subscription().id == sub.id, "push subscription read back")
check(mp.app_verify_credentials().vapid_key == sub.server_key, "the app learns the same key")
friend.status_post(f"@{USER} are you there?")
path, headers, body = pushes.get(timeout=20)
check(path == "/legacy" and headers.get("content-encoding") == "aesgcm", "a legacy push arrives")
check(headers["authorization"].startswith("WebPush "), "legacy VAPID authorization")
push = mp.push_subscription_decrypt_push(body, priv, headers["encryption"], headers["crypto-key"])
check(push.notification_type == "mention" and push.title == f"{FRIEND} mentioned you", "Mastodon.py decrypts the push")
check(push.body == f"@{USER} are you there?", "the push carries the post's text")
check(any(str(n.id) == str(push.notification_id) for n in mp.notifications()), "the push names the notification")
mp.push_subscription_update(mention_events=False, favourite_events=True)
check(not mp.push_subscription().alerts.mention, "alerts updated")

# The standard encoding (RFC 8291 aes128gcm), which Mastodon.py cannot ask
# for: subscribed with requests, decrypted with http_ece.
import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
from cryptography.hazmat.primitives import serialization
raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
auth = os.urandom(16)
b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
r = requests.post(BASE + "/api/v1/push/subscription", headers={"Authorization": f"Bearer {mp.access_token}"},
                  json={"subscription": {"endpoint": service_url + "/standard", "keys": {"p256dh": b64(raw), "auth": b64(auth)}, "standard": True},
                        "data": {"alerts": {"favourite": True}, "policy": "all"}})
check(r.status_code == 200 and r.json()["standard"] is True, "a standard subscription replaces the legacy one")
mine = mp.status_post("favourite me")
friend.status_favourite(mine.id)
path, headers, body = pushes.get(timeout=20)
check(path == "/standard" and headers.get("content-encoding") == "aes128gcm", "a standard push arrives")
check(headers["authorization"].startswith("vapid t="), "RFC 8292 authorization")
plain = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
check(plain["notification_type"] == "favourite" and plain["title"] == f"{FRIEND} favourited your post", "http_ece decrypts the push")
mp.push_subscription_delete()
try:
    mp.push_subscription()
    gone = False
except MastodonNotFoundError:
    gone = True
check(gone, "the subscription is gone")

# Every other group of the client API, through Mastodon.py's own calls.
import datetime
me_p = mp.account_verify_credentials()
fr = friend.account_verify_credentials()
upd = mp.account_update_credentials(display_name="Py User", note="hello from Mastodon.py",
                                    fields=[("site", "https://example.test")])
check(upd.display_name == "Py User" and upd.fields[0].name == "site", "profile edits")
theirs = friend.status_post("a post to act on #guisepy", visibility="public")
check(mp.status_favourite(theirs.id).favourited, "favourite")
check(any(s.id == theirs.id for s in mp.favourites()), "favourites list")
check(mp.status_reblog(theirs.id).reblog.id == theirs.id, "reblog")
check(not mp.status_unreblog(theirs.id).reblogged, "unreblog")
own = mp.status_post("pinned and muted")
check(mp.status_pin(own.id).pinned, "pin")
check(mp.status_mute(own.id).muted, "thread mute")
check(mp.status_unmute(own.id).muted is False, "thread unmute")
rel = mp.account_follow(fr.id)
check(rel.following, "follow")
check(mp.account_relationships(fr.id)[0].following, "relationships")
check(mp.account_note_set(fr.id, "met at the e2e").note == "met at the e2e", "account note")
check(mp.account_mute(fr.id, duration=3600).muting, "mute")
check(any(a.id == fr.id for a in mp.mutes()), "mutes list")
check(not mp.account_unmute(fr.id).muting, "unmute")
check(mp.account_block(fr.id).blocking, "block")
check(any(a.id == fr.id for a in mp.blocks()), "blocks list")
check(not mp.account_unblock(fr.id).blocking, "unblock")
check(not mp.account_relationships(fr.id)[0].following, "a block ended the follow")
check(mp.account_follow(fr.id).following, "follow again")
mp.domain_block("spam.example")
check("spam.example" in mp.domain_blocks(), "domain blocks")
mp.domain_unblock("spam.example")
check(isinstance(mp.follow_requests(), list), "follow requests")
rep = mp.report(fr.id, status_ids=[theirs.id], comment="just testing", category="other")
check(str(rep.target_account.id) == str(fr.id), "report")
lst = mp.list_create("py friends")
mp.list_accounts_add(lst.id, [fr.id])
check([a.id for a in mp.list_accounts(lst.id)] == [fr.id], "list members")
check(mp.tag_follow("guisepy").following, "follow a tag")
check(any(t.name == "guisepy" for t in mp.followed_tags()), "followed tags")
check(not mp.tag_unfollow("guisepy").following, "unfollow a tag")
later = mp.status_post("scheduled from Mastodon.py", scheduled_at=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2))
check(any(x.id == later.id for x in mp.scheduled_statuses()), "scheduled statuses")
moved = mp.scheduled_status_update(later.id, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=3))
check(moved.id == later.id, "reschedule")
mp.scheduled_status_delete(later.id)
check(not any(x.id == later.id for x in mp.scheduled_statuses()), "cancel a scheduled post")
friend.status_favourite(own.id)
grouped = mp.grouped_notifications()
check(any(g.type == "favourite" for g in grouped.notification_groups), "grouped notifications")
check(mp.notifications_unread_count().count >= 0, "unread count")
ADMIN_SCOPES = ["read", "write", "admin:read", "admin:write"]
aid, asecret = Mastodon.create_app("guise-e2e-admin", scopes=ADMIN_SCOPES, redirect_uris=OOB, api_base_url=BASE)
staff = Mastodon(client_id=aid, client_secret=asecret, api_base_url=BASE)
staff.log_in(FRIEND, PASSWORD, scopes=ADMIN_SCOPES, allow_http=True)
r = requests.post(BASE + "/api/v1/admin/guise/announcements", headers={"Authorization": f"Bearer {staff.access_token}"},
                  json={"text": "Hello from the e2e staff"})
check(r.status_code == 200, "staff announce")
ann = [a for a in mp.announcements() if a.id == r.json()["id"]]
check(len(ann) == 1, "the announcement reaches the user")
mp.announcement_reaction_create(ann[0].id, "👍")
check(any(x.name == "👍" and x.me for x in [a for a in mp.announcements() if a.id == ann[0].id][0].reactions), "announcement reaction")

# Mastodon.py's admin methods: domain blocks and allows, and moderation of a face.
blk = staff.admin_create_domain_block("Spam.Example", severity="suspend", public_comment="spam")
check(blk.domain == "spam.example" and blk.severity == "suspend" and blk.public_comment == "spam", "admin_create_domain_block")
check(any(b.id == blk.id for b in staff.admin_domain_blocks()), "admin_domain_blocks lists it")
check(staff.admin_domain_blocks(id=blk.id).domain == "spam.example", "admin_domain_blocks(id)")
upd = staff.admin_update_domain_block(blk, severity="silence", reject_media=True)
check(upd.severity == "silence" and upd.reject_media and upd.public_comment == "spam", "admin_update_domain_block")
staff.admin_delete_domain_block(blk)
check(all(b.id != blk.id for b in staff.admin_domain_blocks()), "admin_delete_domain_block")
al = staff.admin_create_domain_allow("friends.example")
check(staff.admin_domain_allow(al).domain == "friends.example", "admin_create_domain_allow")
staff.admin_delete_domain_allow(al)
check(all(a.id != al.id for a in staff.admin_domain_allows()), "admin_delete_domain_allow")
try:
    mp.admin_domain_blocks()
    check(False, "a user may not read domain blocks")
except MastodonAPIError:
    check(True, "a user may not read domain blocks")
loud = mp.status_post("loud and public #guisepyloud", visibility="public")
check(any(s.id == loud.id for s in staff.timeline_public()), "a public post is on the public timeline")
staff.admin_account_moderate(loud.account.id, "silence")
check(all(s.id != loud.id for s in staff.timeline_public()), "admin_account_moderate silence")
check(any(a.id == loud.account.id and a.silenced for a in staff.admin_accounts_v2(status="silenced")), "admin_accounts_v2 status=silenced")
staff.admin_account_unsilence(loud.account.id)
check(any(s.id == loud.id for s in staff.timeline_public()), "admin_account_unsilence")
check(staff.account_verify_credentials().role.name == "Admin", "staff see their role")
check(staff.admin_account(loud.account.id).username == loud.account.username, "admin_account")
target = friend.status_post("a post someone reports", visibility="public")
rep = mp.report(target.account.id, status_ids=[target.id], comment="py report")
check(any(r.id == rep.id for r in staff.admin_reports()), "admin_reports lists it")
check(staff.admin_report_assign(rep.id).assigned_account is not None, "admin_report_assign")
check(staff.admin_report_unassign(rep.id).assigned_account is None, "admin_report_unassign")
check(staff.admin_report_resolve(rep.id).action_taken, "admin_report_resolve")
check(not staff.admin_report_reopen(rep.id).action_taken, "admin_report_reopen")
check(staff.admin_report(rep.id).target_account.id == target.account.id, "admin_report")
import datetime as _dt
ms = staff.admin_measures(_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=7), _dt.datetime.now(_dt.timezone.utc),
                          new_users=True, opened_reports=True, active_users=True)
by_key = {x.key: x for x in ms}
check(int(by_key["new_users"].total) >= 2 and int(by_key["opened_reports"].total) >= 1, "admin_measures counts sign-ups and reports")
check(by_key["active_users"].total is None, "admin_measures: activity is never tracked")

# The authorization-code flow, as a browser would submit the forms.
code = browser_authorize(m.auth_request_url(client_id=client_id, redirect_uris=OOB, scopes=SCOPES, allow_http=True))
m2 = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
m2.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
check(m2.account_verify_credentials().id == me.id, "verify_credentials after the code flow")

# The same with PKCE (Mastodon.py has no PKCE helper: add the challenge to its URL
# and send the verifier with the token request).
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
url = m.auth_request_url(client_id=client_id, redirect_uris=OOB, scopes=SCOPES, allow_http=True) + f"&code_challenge={challenge}&code_challenge_method=S256"
code = browser_authorize(url)
r = requests.post(BASE + "/oauth/token", data={"grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
                                               "code": code, "redirect_uri": OOB, "code_verifier": verifier})
check(r.status_code == 200 and r.json()["scope"] == "read write follow", "PKCE code exchange")
m3 = Mastodon(access_token=r.json()["access_token"], api_base_url=BASE)
check(m3.account_verify_credentials().id == me.id, "verify_credentials after PKCE")

print(f"mastodon.py: {checks} passed, 0 failed")
