# SPDX-License-Identifier: LGPL-2.1-or-later
"""signin_client: the browser side of test_signin.sh, without a browser.

Drives heraldd's web app and the test OpenID provider (tests/oidc) with
http.client and a cookie jar, following the provider's devInteractions login
and consent forms, and prints one "ok|..." or "not ok|..." line per check
(test_signin.sh turns them into TAP). Not a general HTTP client.

  signin_client.py PHASE WEB_BASE ISSUER ADMIN_SOCKET
PHASE "first": create_users = no; "second": after a restart with
create_users = yes (reads the cookie the first phase saved in ./alice.cookie);
"third": after the provider restarted with another key (ES256).
"""
import http.client
import http.cookiejar
import json
import re
import socket
import sys
import urllib.parse
import urllib.request

PHASE, BASE, ISSUER, ADMIN_SOCK = sys.argv[1:5]
WEB = urllib.parse.urlsplit(BASE)
ORIGIN = f"{WEB.scheme}://{WEB.netloc}"


def report(cond, desc):
    print(f"{'ok' if cond else 'not ok'}|{desc}", flush=True)
    return cond


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def cookies(self):
        return self.headers.get("set-cookie-all", [])

    def json(self):
        return json.loads(self.body)


class SecureOnLoopback(http.cookiejar.DefaultCookiePolicy):
    """Browsers send Secure cookies to http://127.0.0.1 (a secure context)."""

    def return_ok_secure(self, cookie, request):
        return True


class Browser:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar(SecureOnLoopback())

    def request(self, method, url, body=None, headers=None, raw_path=None):
        """One request, no redirects followed. raw_path: sent as is."""
        u = urllib.parse.urlsplit(url)
        req = urllib.request.Request(url, method=method)
        self.jar.add_cookie_header(req)
        hdrs = {k: v for k, v in req.header_items()}
        hdrs.update(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
        path = raw_path or (u.path or "/") + (f"?{u.query}" if u.query else "")
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        headers["set-cookie-all"] = r.msg.get_all("Set-Cookie") or []

        class Shim:  # what CookieJar.extract_cookies wants of a response
            def info(self_inner):
                return r.msg

        self.jar.extract_cookies(Shim(), req)
        conn.close()
        return Resp(r.status, headers, data.decode("utf-8", "replace"))

    def herald_cookie(self):
        for c in self.jar:
            if c.name == "herald_session":
                return c.value
        return None

    def drop_herald_cookie(self):
        self.jar.clear(WEB.hostname, "/", "herald_session")


def form_of(html, base):
    """The first form's action and its hidden fields."""
    m = re.search(r'<form[^>]*action="([^"]+)"', html)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return (urllib.parse.urljoin(base, m.group(1)) if m else None), fields


def provider_walk(b, url, login):
    """Follow the provider from the authorization URL until it sends the
    browser back to heraldd: the callback URL (not fetched), or None."""
    for _ in range(20):
        if url.startswith(BASE + "/auth/callback"):
            return url
        if not url.startswith(ISSUER):
            return None
        r = b.request("GET", url)
        if r.status in (302, 303) and r.header("location"):
            url = urllib.parse.urljoin(url, r.header("location"))
            continue
        if r.status != 200:
            return None
        action, fields = form_of(r.body, url)
        if not action:
            return None
        if fields.get("prompt") == "login":
            fields.update(login=login, password="any")
        r = b.request("POST", action, body=fields)
        if r.status not in (302, 303):
            return None
        url = urllib.parse.urljoin(action, r.header("location"))
    return None


def begin(b, ret="/"):
    """GET /auth/login: the provider's authorization URL."""
    r = b.request("GET", f"{BASE}/auth/login?return={urllib.parse.quote(ret, safe='')}")
    return r.header("location") if r.status == 302 else None


def sign_in(b, login, ret="/", tamper=None):
    """The whole sign-in; the callback's response (and its URL)."""
    auth = begin(b, ret)
    if not auth:
        return None, None
    if tamper:
        auth = tamper(auth)
    cb = provider_walk(b, auth, login)
    if not cb:
        return None, None
    return b.request("GET", cb), cb


def set_param(url, name, value):
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(u.query)
    q = [(k, value if k == name else v) for k, v in q]
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))


class UnixConn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(ADMIN_SOCK)


def admin(method, path, body=None):
    c = UnixConn("localhost")
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data.strip() else None)


# ---- the routes of api_v1.c, each with bob's name where a user goes ----
ROUTES = [
    ("GET", "users/:"), ("DELETE", "users/:"), ("PUT", "users/:/lists/x"),
    ("GET", "users/:/destinations"), ("POST", "users/:/destinations"),
    ("DELETE", "users/:/destinations/1"), ("POST", "users/:/destinations/1/pause"),
    ("POST", "users/:/destinations/1/resume"), ("POST", "users/:/destinations/1/verify"),
    ("GET", "users/:/subscriptions"), ("POST", "users/:/subscriptions"),
    ("GET", "users/:/subscriptions/1"), ("DELETE", "users/:/subscriptions/1"),
    ("POST", "users/:/subscriptions/1/enable"), ("POST", "users/:/subscriptions/1/disable"),
    ("POST", "users/:/explain"), ("GET", "users/:/outbox"), ("GET", "users/:/outbox/1"),
    ("POST", "users/:/outbox/1/retry"), ("DELETE", "users/:/outbox/1"),
    ("GET", "users/:/deadletter"), ("GET", "users/:/deadletter/1"),
    ("POST", "users/:/deadletter/1/retry"), ("DELETE", "users/:/deadletter/1"),
    ("GET", "users/:/delivered"),
    # admin-only, no user in the path
    ("GET", "users"), ("POST", "users"), ("GET", "outbox"), ("GET", "outbox/1"),
    ("POST", "outbox/1/retry"), ("DELETE", "outbox/1"), ("GET", "deadletter"),
    ("GET", "deadletter/1"), ("POST", "deadletter/1/retry"), ("DELETE", "deadletter/1"),
    ("GET", "delivered"), ("GET", "sinks"), ("POST", "sinks/file/resume"), ("GET", "stats"),
]


def cookie_flags(resp):
    c = [h for h in resp.cookies() if h.startswith("herald_session=")]
    if len(c) != 1:
        return set()
    return {p.strip().lower() for p in c[0].split(";")[1:]}


def first_phase():
    b = Browser()
    # create_users = no: an unknown account gets a page and nothing else.
    r, _ = sign_in(b, "carol")
    report(r is not None and r.status == 403 and "not know" in r.body,
           f"carol (unknown, create_users = no) is refused with a page ({r and r.status})")
    report(r is not None and not r.cookies() and b.herald_cookie() is None,
           "and gets no session cookie")
    report(admin("GET", "/v1/users/carol")[0] == 404, "and no user carol was created")

    # alice signs in (a browser of her own: the provider remembers who
    # signed in there last).
    b = Browser()
    auth = begin(b)
    report(auth is not None and auth.startswith(ISSUER + "/auth?"), "GET /auth/login redirects to the provider")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth or "").query))
    report(q.get("code_challenge_method") == "S256" and len(q.get("code_challenge", "")) == 43
           and q.get("state") and q.get("nonce") and q.get("response_type") == "code",
           "the authorization request has PKCE S256, a state and a nonce")
    r, cb = sign_in(b, "alice", "/subscriptions.html?tab=new")
    report(r is not None and r.status == 303 and r.header("location") == BASE + "/subscriptions.html?tab=new",
           f"alice signs in: 303 back to the return path ({r and r.status} {r and r.header('location')})")
    flags = cookie_flags(r) if r else set()
    report({"httponly", "secure", "samesite=lax", "path=/"} <= flags,
           f"the session cookie is HttpOnly, Secure, SameSite=Lax, Path=/ ({sorted(flags)})")
    s = b.request("GET", BASE + "/v1/session")
    sj = s.json() if s.status == 200 else {}
    report(sj.get("user") == "alice" and sj.get("admin") is False and len(sj.get("csrf") or "") == 43
           and sj.get("expires", 0) > 0 and sj.get("dashboard") == "signed-in",
           f"/v1/session names alice, with a CSRF token ({s.body.strip()[:120]})")
    report(s.header("cache-control") == "no-store", "/v1/session is never cached")
    csrf = sj.get("csrf") or ""
    report(b.request("GET", BASE + "/v1/users/alice").status == 200, "alice reads her own user")

    # Replaying the callback URL: the state was used.
    r2 = b.request("GET", cb) if cb else None
    report(r2 is not None and r2.status == 400 and "already used" in r2.body and not r2.cookies(),
           f"the same callback URL a second time is refused ({r2 and r2.status})")

    # CSRF on a state-changing request.
    path = BASE + "/v1/users/alice/lists/extra"
    # (From behind a trusted proxy, for the log line test_signin.sh looks for.)
    r = b.request("PUT", path, body=["a"], headers={"X-Forwarded-For": "192.0.2.1, 198.51.100.7"})
    report(r.status == 403 and r.json().get("error") == "csrf", f"PUT without X-CSRF-Token: 403 csrf ({r.status})")
    r = b.request("PUT", path, body=["a"], headers={"X-CSRF-Token": "x" * 43})
    report(r.status == 403, f"PUT with a wrong token: 403 ({r.status})")
    r = b.request("PUT", path, body=["a"], headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    report(r.status == 403, f"PUT with the right token from a foreign Origin: 403 ({r.status})")
    r = b.request("PUT", path, body=["a"], headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"})
    report(r.status == 403, f"PUT the browser marks cross-site: 403 ({r.status})")
    report("extra" not in (admin("GET", "/v1/users/alice")[1] or {}).get("lists", {}),
           "none of the refused requests changed anything")
    r = b.request("PUT", path, body=["a"], headers={"X-CSRF-Token": csrf, "Origin": ORIGIN})
    report(r.status == 200 and admin("GET", "/v1/users/alice")[1]["lists"].get("extra") == ["a"],
           f"PUT with the right token and our Origin: 200, stored ({r.status})")
    r = b.request("PUT", path, body=["b"], headers={"X-CSRF-Token": csrf})
    report(r.status == 200, f"the right token without an Origin header (older browsers): 200 ({r.status})")

    # alice cannot reach bob's records, nor admin resources, by any route.
    before = admin("GET", "/v1/users/bob")[1]
    bad = []
    for method, pat in ROUTES:
        p = BASE + "/v1/" + pat.replace(":", "bob", 1)
        body = {} if method in ("POST", "PUT") else None
        r = b.request(method, p, body=body, headers={"X-CSRF-Token": csrf, "Origin": ORIGIN})
        if r.status != 403:
            bad.append(f"{method} /v1/{pat} -> {r.status}")
    report(not bad, f"all {len(ROUTES)} /v1 route patterns with bob's name or admin-only: 403 ({bad})")
    report(admin("GET", "/v1/users/bob") == (200, before), "bob's user is unchanged")
    r = b.request("GET", BASE + "/v1/users/alice%2F..%2Fbob")
    report(r.status in (400, 403, 404), f"an encoded slash does not reach bob ({r.status})")

    # Without the cookie: 401; a bearer token is not accepted here.
    anon = Browser()
    r = anon.request("GET", BASE + "/v1/users/alice")
    report(r.status == 401, f"/v1 without a session: 401 ({r.status})")
    r = anon.request("GET", BASE + "/v1/users/alice", headers={"Authorization": "Bearer admin-0123456789abcdef"})
    report(r.status == 401, f"a bearer token is not accepted by the web app: 401 ({r.status})")
    r = anon.request("GET", BASE + "/v1/users/alice", headers={"Cookie": "herald_session=" + "A" * 43})
    report(r.status == 401, f"a made-up session cookie: 401 ({r.status})")
    r = anon.request("GET", BASE + "/events")
    report(r.status == 401, f"/events with dashboard = signed-in and no session: 401 ({r.status})")

    # The return path never leaves the site.
    for ret in ["//evil.example", "https://evil", "/\\evil", "javascript:alert(1)", "/%0d%0aX: y"]:
        rb = Browser()
        r, _ = sign_in(rb, "alice", ret)
        report(r is not None and r.status == 303 and r.header("location") == BASE + "/",
               f"return={ret!r}: back to {BASE}/ ({r and r.header('location')})")

    # Tampered state, tampered nonce, tampered PKCE challenge, provider error.
    tb = Browser()
    auth = begin(tb)
    cb = provider_walk(tb, auth, "alice") if auth else None
    r = tb.request("GET", set_param(cb, "state", "A" * 43)) if cb else None
    report(r is not None and r.status == 400 and not r.cookies(), f"a callback with another state: 400 ({r and r.status})")
    r = tb.request("GET", set_param(cb, "iss", "https://evil.example")) if cb else None
    report(r is not None and r.status == 400 and "another identity provider" in r.body,
           f"a callback naming another issuer (RFC 9207 iss): 400 ({r and r.status})")
    r = tb.request("GET", cb) if cb else None
    report(r is not None and r.status == 303, "(the untampered callback still works once)")
    r, _ = sign_in(Browser(), "alice", tamper=lambda u: set_param(u, "nonce", "N" * 43))
    report(r is not None and r.status == 400 and "nonce" in r.body and not r.cookies(),
           f"an ID token with another nonce: 400 ({r and r.status})")
    r, _ = sign_in(Browser(), "alice", tamper=lambda u: set_param(u, "code_challenge", "C" * 43))
    report(r is not None and r.status == 400 and not r.cookies(),
           f"a code exchanged without the matching PKCE verifier: 400 ({r and r.status})")
    r = Browser().request("GET", BASE + "/auth/callback?error=access_denied&state=x")
    report(r.status == 400 and "access_denied" in r.body, f"the provider's error: 400 page ({r.status})")
    r = Browser().request("GET", BASE + "/auth/callback?code=x")
    report(r.status == 400, f"a callback without state: 400 ({r.status})")

    # Static files and headers.
    anon = Browser()
    r = anon.request("GET", BASE + "/")
    hdr = {k: r.header(k) for k in ("x-content-type-options", "referrer-policy", "x-frame-options")}
    csp = r.header("content-security-policy") or ""
    report(r.status == 200 and "herald test index" in r.body and r.header("content-type").startswith("text/html"),
           "GET / serves index.html")
    report(hdr == {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"},
           f"security headers ({hdr})")
    report("default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
           and "object-src 'none'" in csp and f"form-action 'self' {ISSUER}" in csp and "unsafe-inline" not in csp,
           "a Content-Security-Policy without inline scripts")
    report(r.header("cache-control") == "no-cache", "static files: Cache-Control: no-cache")
    r = anon.request("GET", BASE + "/js/app.js")
    report(r.status == 200 and r.header("content-type").startswith("text/javascript")
           and r.header("content-security-policy"), "a script, with its type and the CSP")
    r = anon.request("GET", BASE + "/css/site.css")
    report(r.status == 200 and r.header("content-type").startswith("text/css"), "a style sheet")
    r = anon.request("GET", BASE + "/nope.html")
    report(r.status == 404 and r.header("x-frame-options") == "DENY", "a missing page: 404, with the headers")
    for raw in ["/../secret.txt", "/css/../../secret.txt", "/%2e%2e/secret.txt", "/css/%2e%2e/%2e%2e/secret.txt",
                "//etc/passwd", "/css/..%2f..%2fsecret.txt", "/.env", "/css/.hidden.css", "/secret.txt",
                "/css", "/css/", "/js/%00.js", "/etc/passwd", "/index.html%00.css"]:
        r = anon.request("GET", BASE + "/", raw_path=raw)
        report(r.status in (400, 404) and "TOPSECRET" not in r.body, f"GET {raw}: {r.status}")
    r = anon.request("POST", BASE + "/index.html", body="x")
    report(r.status == 405, f"POST to a page: 405 ({r.status})")

    # Sign-out: CSRF-checked, then the old cookie is worth nothing.
    old = b.herald_cookie()
    r = b.request("POST", BASE + "/auth/logout")
    report(r.status == 403, f"POST /auth/logout without the CSRF token: 403 ({r.status})")
    r = b.request("POST", BASE + "/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": ORIGIN})
    report(r.status == 303 and r.header("location") == BASE + "/" and any("Max-Age=0" in c for c in r.cookies()),
           f"POST /auth/logout with it: 303 to /, cookie cleared ({r.status})")
    ghost = Browser()
    r = ghost.request("GET", BASE + "/v1/users/alice", headers={"Cookie": f"herald_session={old}"})
    report(r.status == 401, f"the old cookie after sign-out: 401 ({r.status})")
    r = ghost.request("GET", BASE + "/v1/session", headers={"Cookie": f"herald_session={old}"})
    report(r.status == 200 and r.json().get("user") is None, "and /v1/session says nobody")

    # A session for the second phase (across the restart), and an admin.
    b2 = Browser()
    r, _ = sign_in(b2, "alice")
    with open("alice.cookie", "w") as f:
        f.write(b2.herald_cookie() or "")
    ab = Browser()
    sign_in(ab, "boss")
    s = ab.request("GET", BASE + "/v1/session").json()
    report(s.get("admin") is True and ab.request("GET", BASE + "/v1/users").status == 200,
           "boss (in [web] admins) is admin: GET /v1/users 200")


def second_phase():
    cookie = open("alice.cookie").read().strip()
    r = Browser().request("GET", BASE + "/v1/session", headers={"Cookie": f"herald_session={cookie}"})
    report(r.status == 200 and r.json().get("user") == "alice", "a session survives a restart of heraldd (LMDB)")
    b = Browser()
    r, _ = sign_in(b, "dave")
    report(r is not None and r.status == 303 and b.herald_cookie(), "dave (unknown, create_users = yes) signs in")
    report(admin("GET", "/v1/users/dave")[0] == 200, "and the user dave was created")
    report(b.request("GET", BASE + "/v1/users/dave").status == 200, "dave reads his user")
    status, _ = admin("DELETE", "/v1/users/dave")
    r = b.request("GET", BASE + "/v1/session")
    report(status == 200 and r.json().get("user") is None and b.request("GET", BASE + "/v1/users/dave").status == 401,
           "once an administrator deletes dave, his session is over")
    status, _ = admin("POST", "/v1/users", {"name": "dave"})
    report(status == 201 and b.request("GET", BASE + "/v1/users/dave").status == 401,
           "and a new user of the same name does not inherit it")
    r, _ = sign_in(Browser(), "Not A Name!")
    report(r is not None and r.status == 400 and "user name" in r.body and not r.cookies(),
           f"an account name that is not a herald user name: 400 ({r and r.status})")
    status, users = admin("GET", "/v1/users")
    names = [u["name"] if isinstance(u, dict) else u for u in (users if isinstance(users, list) else users.get("users", []))]
    report(status == 200 and set(names) == {"alice", "bob", "boss", "dave"}, f"no other user was created ({names})")


def third_phase():
    b = Browser()
    r, _ = sign_in(b, "alice")
    report(r is not None and r.status == 303 and b.herald_cookie(),
           f"after the provider changed to a new ES256 key, sign-in works: the key set was fetched again ({r and r.status})")


{"first": first_phase, "second": second_phase, "third": third_phase}[PHASE]()
