"""Drives Guise with Mastodon.py, unmodified: app registration, the password
grant, the OAuth authorization-code flow (submitting the authorize form as a
browser would, with and without PKCE), verify_credentials, posting, both
timelines with pagination, and deletion. Exits non-zero on the first failure."""
import base64
import hashlib
import html
import os
import re
import secrets
import sys
import urllib.parse

import requests
from mastodon import Mastodon

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
