"""Drives Guise with toot (the terminal client), unmodified, as a person at a
terminal would: log in, post with an image and its description, read the
home timeline and the notifications. Exits non-zero on the first failure."""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import requests

BASE = os.environ["GUISE_URL"]
EMAIL = os.environ["GUISE_EMAIL"]
PASSWORD = os.environ["GUISE_PASSWORD"]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


home = tempfile.mkdtemp()
env = dict(os.environ, XDG_CONFIG_HOME=home)


def toot(*args):
    r = subprocess.run([sys.executable, "-m", "toot", *args], env=env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def png():
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes([20, 120, 220]) * 6 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 4, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Author\x00someone-at-a-terminal") + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


rc, out = toot("login_cli", "-i", BASE, "-e", EMAIL, "-p", PASSWORD)
check(rc == 0 and "Successfully logged in" in out, f"login_cli: {out}")
picture = os.path.join(home, "dot.png")
with open(picture, "wb") as f:
    f.write(png())
rc, out = toot("post", "hello from a terminal", "-m", picture, "-d", "a blue dot")
check(rc == 0 and "Toot posted" in out, f"post with media: {out}")
url = out.strip().split()[-1]
status_id = url.rstrip("/").split("/")[-1]
rc, out = toot("timeline")
check(rc == 0 and "hello from a terminal" in out and "/media/local/" in out, f"home timeline shows the post and its media: {out}")
rc, out = toot("notifications")
check(rc == 0, f"notifications: {out}")
# What toot uploaded, as the API serves it.
s = requests.get(f"{BASE}/api/v1/statuses/{status_id}").json()
media = s["media_attachments"]
check(len(media) == 1 and media[0]["description"] == "a blue dot", f"the post carries the described image: {s}")
served = requests.get(media[0]["url"])
check(served.status_code == 200 and b"someone-at-a-terminal" not in served.content, "the served image lost its text chunk")
print(f"toot: {checks} passed, 0 failed")
