"""Drives Guise with Mastodon.py, unmodified: app registration, the password
grant, the OAuth authorization-code flow (submitting the authorize form as a
browser would, with and without PKCE), verify_credentials, posting, both
timelines with pagination, deletion, media, polls, the start-up screens and
the user stream. Exits non-zero on the first failure."""
import base64
import hashlib
import html
import io
import os
import re
import secrets
import struct
import sys
import time
import urllib.parse
import zlib

import requests
from mastodon import Mastodon, StreamListener

BASE = os.environ["GUISE_URL"]
USER = os.environ["GUISE_USER"]
PASSWORD = os.environ["GUISE_PASSWORD"]
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
