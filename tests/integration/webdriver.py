#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The browser half of tests/integration/test_web.sh: Debian's chromium,
headless, through chromium-driver and python3-selenium, uses herald's web
pages the way a person would, against a real heraldd, a real OpenID
provider, a webhook receiver and an SMTP server, all on 127.0.0.1.

    webdriver.py --base URL --out SCREENS --work DIR --smtp DIR --hook DIR
                 --user NAME --admin NAME --hook-url URL

Publishing goes through the command in $PUBLISH (a herald publish command
line without --topic/--json). Each check prints one line, "ok - WHAT" or
"not ok - WHAT: why"; test_web.sh turns them into TAP. A screenshot of each
page goes to SCREENS/NN-name.png. A step that fails takes a screenshot too
and the run goes on where later steps do not depend on it.

Not for the server side's own checks (CSRF, scopes, the OIDC exchange):
those are test_signin.sh and the unit tests.
"""
import argparse
import email
import email.policy
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
WAIT = 30


class Fail(Exception):
    pass


class Run:
    def __init__(self, a):
        self.a = a
        self.shot_n = 0
        self.failed = 0
        os.makedirs(a.out, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--no-first-run", "--disable-extensions",
                    "--user-data-dir=" + os.path.join(a.work, "chromium-profile")):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver",
                                                  log_path=os.path.join(a.work, "chromedriver.log")),
                                  options=opts)
        self.d.set_page_load_timeout(WAIT)

    # ---- reporting ----
    def ok(self, what):
        print("ok - " + what, flush=True)

    def step(self, what, fn, *args):
        """Run one check; a failure is reported, screenshotted, and returns None."""
        try:
            r = fn(*args)
            self.ok(what)
            return r if r is not None else True
        except Exception as e:  # noqa: BLE001 - every failure is a test result
            self.failed += 1
            detail = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
            print("not ok - %s: %s" % (what, detail), flush=True)
            for line in traceback.format_exc().splitlines()[-6:]:
                print("#   " + line, flush=True)
            self.shot("FAILED-" + re.sub(r"\W+", "-", what)[:40])
            return None

    def shot(self, name):
        self.shot_n += 1
        path = os.path.join(self.a.out, "%02d-%s.png" % (self.shot_n, name))
        try:
            # the whole page, not just the window: as tall as the document
            w, h = self.d.get_window_size()["width"], self.d.get_window_size()["height"]
            full = self.d.execute_script("return document.documentElement.scrollHeight")
            if full > h:
                self.d.set_window_size(w, min(full + 140, 8000))
            self.d.save_screenshot(path)
            if full > h:
                self.d.set_window_size(w, h)
        except WebDriverException:
            pass
        return path

    # ---- browser helpers ----
    def url(self, page):
        return self.a.base.rstrip("/") + "/" + page

    def get(self, page):
        self.d.get(self.url(page))
        self.until(lambda: self.d.execute_script("return document.readyState") == "complete", "page load")

    def until(self, cond, what, timeout=WAIT):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                r = cond()
                if r:
                    return r
            except WebDriverException as e:
                last = e
            except (FileNotFoundError, ValueError, KeyError, IndexError) as e:
                last = e
            time.sleep(0.2)
        raise Fail("timed out waiting for %s%s" % (what, " (%s)" % str(last).splitlines()[0][:200] if last else ""))

    def by_id(self, id_):
        return self.d.find_element(By.ID, id_)

    def text(self, id_):
        return self.by_id(id_).text

    def visible_text(self):
        return self.d.find_element(By.TAG_NAME, "body").text

    def signed_in_as(self, user):
        self.until(lambda: self.d.find_elements(By.ID, "whoami") and self.text("whoami") == user,
                   "the header to name " + user)

    def inert(self, where):
        """The hostile title is on the page as text, and nothing ran or was made of it."""
        self.until(lambda: HOSTILE in self.visible_text(), "the hostile title shown literally on " + where)
        pwned = self.d.execute_script("return window.__pwned")
        tags = self.d.execute_script(
            "return document.querySelectorAll('main script, main img, main iframe, main [onerror]').length")
        if pwned is not None or tags:
            raise Fail("on %s: window.__pwned=%r, %d script/img elements made from data" % (where, pwned, tags))
        if self.d.title.startswith("pwn"):
            raise Fail("the title changed")
        self.csp_clean(where)  # a blocked inline handler is an attempt that must not happen

    def csp_clean(self, where):
        """No Content-Security-Policy report in the console: no inline script or style."""
        try:
            logs = self.d.get_log("browser")
        except WebDriverException:
            return
        bad = [l["message"] for l in logs if "Content Security Policy" in l.get("message", "")]
        if bad:
            raise Fail("CSP violations on %s: %s" % (where, bad[0][:300]))

    # ---- the servers' records ----
    def mails_to(self, rcpt):
        out = []
        log = os.path.join(self.a.smtp, "log.jsonl")
        if not os.path.exists(log):
            return out
        for line in open(log):
            e = json.loads(line)
            if rcpt in e["rcpt"]:
                raw = open(os.path.join(self.a.smtp, e["file"]), "rb").read()
                out.append(email.message_from_bytes(raw, policy=email.policy.default))
        return out

    def hooks(self):
        log = os.path.join(self.a.hook, "log.jsonl")
        return [json.loads(l) for l in open(log)] if os.path.exists(log) else []

    def hook_has(self, path, text):
        """Some POST to PATH at the receiver whose JSON body holds a string containing text."""
        def strings(v):
            if isinstance(v, str):
                yield v
            elif isinstance(v, dict):
                for x in v.values():
                    yield from strings(x)
            elif isinstance(v, list):
                for x in v:
                    yield from strings(x)
        for h in self.hooks():
            if h["method"] == "POST" and h["path"] == path:
                try:
                    if any(text in s for s in strings(json.loads(h["body"]))):
                        return True
                except ValueError:
                    pass
        return False

    def publish(self, topic, body):
        cmd = shlex.split(os.environ["PUBLISH"]) + ["--topic", topic, "--json", json.dumps(body)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def anitya(self, name, pid):
        self.publish("org.release-monitoring.prod.anitya.project.add",
                     {"project": {"id": pid, "name": name}, "message": {"agent": self.a.user}})


# ---- the flow ----
def sign_in(r, user, shots=True):
    r.get("")
    if shots:
        r.shot("landing")
    r.until(lambda: r.by_id("signin-big").is_displayed(), "the Sign in button")
    r.by_id("signin-big").click()
    r.until(lambda: r.d.find_elements(By.NAME, "login"), "the provider's login form")
    r.d.find_element(By.NAME, "login").send_keys(user)
    r.d.find_element(By.NAME, "password").send_keys("any password")
    if shots:
        r.shot("provider-login")
    r.d.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    # oidc-provider's dev interactions may ask for consent: press on until home.
    end = time.time() + WAIT
    while not r.d.current_url.startswith(r.a.base) and time.time() < end:
        buttons = r.d.find_elements(By.CSS_SELECTOR, "form [type=submit]")
        if buttons and not r.d.find_elements(By.NAME, "login"):
            buttons[0].click()
        time.sleep(0.3)
    if not r.d.current_url.startswith(r.a.base):
        raise Fail("still at the provider: " + r.d.current_url)
    r.signed_in_as(user)


def cookie_flags(r):
    c = [c for c in r.d.get_cookies() if c["name"] == "herald_session"]
    if len(c) != 1:
        raise Fail("no herald_session cookie: %r" % [x["name"] for x in r.d.get_cookies()])
    c = c[0]
    if not (c.get("httpOnly") and c.get("secure") and c.get("sameSite") == "Lax"):
        raise Fail("cookie flags %r" % c)
    if r.d.execute_script("return document.cookie").find("herald_session") >= 0:
        raise Fail("the session cookie is readable from script")


def add_destination(r, kind, address):
    Select(r.by_id("kind")).select_by_value(kind)
    r.by_id("address").clear()
    r.by_id("address").send_keys(address)
    r.d.find_element(By.CSS_SELECTOR, "#add [type=submit]").click()
    r.until(lambda: address in r.text("dests"), address + " in the list")


def code_from_mail(r, rcpt):
    def code():
        for m in reversed(r.mails_to(rcpt)):  # the newest code
            body = m.get_body(("plain",)).get_content()
            found = re.search(r"confirmation code is (\S+?)\.\s", body)
            if found:
                return found.group(1)
        return None
    return r.until(code, "the verification mail to " + rcpt)


def dead_url(r):
    """A webhook the receiver always answers 400: its notifications become dead letters."""
    return r.a.hook_url.rsplit("/hook/", 1)[0] + "/s/400/" + r.a.user


def destinations(r):
    r.get("destinations.html")
    add_destination(r, "webhook", r.a.hook_url)
    add_destination(r, "webhook", dead_url(r))
    add_destination(r, "email", r.a.user + "@example.org")
    r.until(lambda: r.by_id("verify-box").is_displayed(), "the code step")
    r.shot("destination-code")
    code = code_from_mail(r, r.a.user + "@example.org")
    r.by_id("code").send_keys(code)
    r.d.find_element(By.CSS_SELECTOR, "#verify [type=submit]").click()
    r.until(lambda: "Verified" in r.text("add-status"), "the code accepted")
    rows = r.d.find_elements(By.CSS_SELECTOR, "#dests tbody tr")
    states = [row.find_elements(By.TAG_NAME, "td")[2].text for row in rows]
    if len(rows) != 3 or not all(st == "active" for st in states):
        raise Fail("destinations: %r" % states)
    r.shot("destinations")
    r.csp_clean("destinations.html")


def live_validation(r):
    r.get("subscriptions.html")
    f = r.by_id("filter")
    f.send_keys('usernames has me and topic ~ "*.anitya.*" and severity >= warn')
    r.until(lambda: re.search(r"Line 1, column \d+: unknown severity 'warn'", r.text("filter-check")),
            "a line:col error while typing")
    if r.by_id("filter").get_attribute("aria-invalid") != "true":
        raise Fail("the field is not marked invalid")
    r.shot("subscriptions-filter-error")
    f.send_keys("ing")
    r.until(lambda: "valid" in r.text("filter-check") and "Line" not in r.text("filter-check"),
            "the error to clear once fixed")


def preset(r):
    r.get("subscriptions.html")
    r.by_id("p-me").click()
    r.until(lambda: r.by_id("filter").get_attribute("value") == "usernames has me", "the preset's filter")
    r.until(lambda: r.text("filter-check") == "The filter is valid.", "the preset filter checked valid")
    r.by_id("name").send_keys("mentions")
    for box in r.d.find_elements(By.CSS_SELECTOR, "#dest-list input"):
        if not box.is_selected():
            box.click()


def preview(r):
    def previewed():
        r.by_id("preview-btn").click()
        time.sleep(0.3)
        return "first-project" in r.text("preview-list")
    r.until(previewed, "the preview to list the earlier message")
    s = r.text("preview-summary")
    if not re.search(r"would have matched [1-9]\d* of the last [1-9]\d* bus messages", s):
        raise Fail("preview summary %r" % s)
    r.shot("subscriptions-preview")


def save(r):
    r.d.find_element(By.CSS_SELECTOR, "#sub [type=submit]").click()
    r.until(lambda: "Saved subscription mentions" in r.text("save-status"), "the subscription saved")
    r.until(lambda: "mentions" in r.text("subs"), "the subscription listed")
    r.shot("subscriptions")
    r.csp_clean("subscriptions.html")


def hostile_name(r):
    """A subscription named with markup: shown as text, then deleted through the page."""
    r.get("subscriptions.html")
    r.by_id("name").send_keys(HOSTILE)
    r.by_id("filter").send_keys('topic == "org.test.never"')
    r.until(lambda: r.text("filter-check") == "The filter is valid.", "the filter checked")
    for box in r.d.find_elements(By.CSS_SELECTOR, "#dest-list input"):
        if not box.is_selected():
            box.click()
    r.d.find_element(By.CSS_SELECTOR, "#sub [type=submit]").click()
    r.until(lambda: HOSTILE in r.text("subs"), "the subscription listed")
    r.inert("the subscriptions page")
    r.d.execute_script("window.confirm = () => true")
    card = [c for c in r.d.find_elements(By.CSS_SELECTOR, "#subs article") if HOSTILE in c.text][0]
    [b for b in card.find_elements(By.TAG_NAME, "button") if b.text == "Delete"][0].click()
    r.until(lambda: HOSTILE not in r.text("subs"), "the subscription deleted")


def dashboard_live(r):
    r.get("dashboard.html")
    try:
        r.until(lambda: "connected" in r.text("conn") or "Live" in r.text("conn"), "the event stream open")
    finally:  # the later steps need the message even when the dashboard fails
        r.anitya(HOSTILE, 4242)
    r.until(lambda: HOSTILE in r.text("messages"), "the message on the dashboard, live")
    r.inert("the dashboard")
    r.shot("dashboard")
    r.csp_clean("dashboard.html")


def delivered(r):
    rcpt = r.a.user + "@example.org"
    r.until(lambda: any(HOSTILE in str(m["Subject"]) for m in r.mails_to(rcpt)), "the mail at the SMTP server")
    path = "/" + r.a.hook_url.split("/", 3)[3]
    r.until(lambda: r.hook_has(path, HOSTILE), "the POST at the webhook receiver")


def history(r):
    r.get("history.html")

    def ready():
        r.d.refresh()
        time.sleep(0.5)
        return (len(r.d.find_elements(By.CSS_SELECTOR, "#delivered tbody tr")) >= 2
                and HOSTILE in r.text("dead"))
    r.until(ready, "two deliveries and the 400's dead letter in the history")
    r.inert("the history")
    r.shot("history")
    r.csp_clean("history.html")
    hrefs = [a.get_attribute("href") for a in r.d.find_elements(By.CSS_SELECTOR, "#delivered tbody tr a")]
    if len(hrefs) < 2 or not all(re.search(r"/why\.html\?id=[0-9a-f]{32}$", h) for h in hrefs):
        raise Fail("why links %r" % hrefs)
    if "400" not in r.text("dead"):
        raise Fail("the dead letter's reason does not name the 400: %r" % r.text("dead"))
    retry = [b for b in r.d.find_elements(By.CSS_SELECTOR, "#dead tbody tr button") if b.text == "Retry"][0]
    retry.click()
    r.until(lambda: "Back in the queue" in r.text("action-status"), "the dead letter retried")


def why(r):
    r.get("history.html")
    r.until(lambda: r.d.find_elements(By.CSS_SELECTOR, "#delivered tbody tr a"), "a why link")
    r.d.find_element(By.CSS_SELECTOR, "#delivered tbody tr a").click()
    r.until(lambda: "why.html?id=" in r.d.current_url and r.text("why"), "the why page")
    r.until(lambda: "mentions" in r.text("subscription"), "the subscription named")
    if "usernames has me" not in r.text("sub-filter") or "usernames" not in r.text("why"):
        raise Fail("why page: filter %r, why %r" % (r.text("sub-filter"), r.text("why")))
    r.inert("the why page")
    r.shot("why")
    r.csp_clean("why.html")


def preview_inert(r):
    r.get("subscriptions.html")
    r.by_id("p-me").click()
    r.until(lambda: r.by_id("filter").get_attribute("value") == "usernames has me", "the preset")
    r.by_id("preview-btn").click()
    r.inert("the preview")


def unsubscribe(r):
    rcpt = r.a.user + "@example.org"
    m = [m for m in r.mails_to(rcpt) if HOSTILE in str(m["Subject"])][0]
    lu = str(m["List-Unsubscribe"] or "")
    found = re.search(r"<(https?://[^>]+)>", lu)
    if not found:
        raise Fail("no List-Unsubscribe URL in the mail: %r" % lu)
    url = found.group(1)
    if not url.startswith(r.a.base):
        raise Fail("unsubscribe URL %s is not under %s" % (url, r.a.base))
    r.d.get(url)
    r.until(lambda: r.d.find_elements(By.CSS_SELECTOR, "form [type=submit]"), "the confirmation page")
    r.shot("unsubscribe-confirm")
    r.get("subscriptions.html")
    r.until(lambda: "mentions" in r.text("subs"), "the subscription still there after the GET")
    r.d.get(url)
    r.until(lambda: r.d.find_elements(By.CSS_SELECTOR, "form [type=submit]"), "the confirmation page")
    r.d.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    time.sleep(0.5)
    r.shot("unsubscribed")
    r.get("subscriptions.html")

    def gone():
        r.d.refresh()
        time.sleep(0.5)
        subs = r.text("subs")
        return "mentions" not in subs or "disabled" in subs
    r.until(gone, "the subscription gone (or disabled) after confirming")


def tokens(r):
    r.get("tokens.html")
    r.by_id("tname").send_keys("laptop")
    r.d.find_element(By.CSS_SELECTOR, "#create [type=submit]").click()
    r.until(lambda: r.by_id("fresh").is_displayed(), "the new token shown")
    tok = r.text("fresh-token")
    if not re.fullmatch(r"hrl_[A-Za-z0-9_-]{43}", tok):
        raise Fail("token %r" % tok)
    r.until(lambda: "laptop" in r.text("tokens"), "the token listed")
    if tok in r.text("tokens"):
        raise Fail("the list shows the whole token")
    r.shot("tokens")
    r.csp_clean("tokens.html")
    r.d.execute_script("window.confirm = () => true")
    r.d.find_element(By.CSS_SELECTOR, "#tokens tbody tr button").click()
    r.until(lambda: "laptop" not in r.text("tokens") or not r.by_id("tokens").is_displayed(), "the token revoked")


def phone(r):
    r.d.set_window_size(390, 844)
    try:
        for page in ("subscriptions.html", "history.html", "destinations.html"):
            r.get(page)
            r.until(lambda: r.by_id("page").is_displayed(), page)
            over = r.d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            r.shot("phone-" + page.split(".")[0])
            if over > 1:
                raise Fail("%s is %dpx wider than a phone's screen" % (page, over))
    finally:
        r.d.set_window_size(1280, 1000)


def sign_out(r):
    r.get("destinations.html")
    r.by_id("signout").click()
    r.until(lambda: r.d.find_elements(By.ID, "signin-big") and r.by_id("signin-big").is_displayed(),
            "the landing page after signing out")
    r.get("destinations.html")
    r.until(lambda: "Sign in to see this page" in r.text("gate"), "the pages closed again")


def admin(r):
    r.get("admin.html")
    r.until(lambda: "webhook" in r.text("sinks") and "email" in r.text("sinks"), "the sinks listed")
    r.until(lambda: r.a.user in r.text("users"), "the users listed")
    r.until(lambda: HOSTILE in r.text("dead"), "the dead letter (dead again after its retry)")
    r.inert("the admin page")
    r.shot("admin")
    r.csp_clean("admin.html")


def not_admin(r):
    r.get("admin.html")
    r.until(lambda: "for administrators" in r.text("gate"), "the admin page refused")
    if r.by_id("page").is_displayed() or "Admin" in r.text("nav"):
        raise Fail("admin content shown to a user")


def main():
    ap = argparse.ArgumentParser()
    for k in ("base", "out", "work", "smtp", "hook", "user", "admin", "hook-url"):
        ap.add_argument("--" + k, required=True)
    a = ap.parse_args()
    r = Run(a)
    try:
        if not r.step("sign in as %s through the provider's login form" % a.user, sign_in, r, a.user):
            return 1
        r.step("the session cookie is HttpOnly, Secure, SameSite=Lax", cookie_flags, r)
        r.step("a user does not see the admin page", not_admin, r)
        r.step("destinations: two webhooks, and an email verified with the code from the mail", destinations, r)
        r.anitya("first-project", 4241)
        r.step("the raw filter is checked as it is typed (line:col errors)", live_validation, r)
        if r.step("a subscription built from the preset 'events that mention me'", preset, r):
            r.step("its preview lists the earlier matching message of the recent ones", preview, r)
            r.step("the subscription saved", save, r)
        r.step("a subscription named <script>/<img onerror> is shown inert, and deleted", hostile_name, r)
        r.step("the dashboard shows a message live, its <script>/<img onerror> title inert", dashboard_live, r)
        r.step("the message reaches the SMTP server and the webhook receiver", delivered, r)
        r.step("the history: both deliveries with their why links, the dead letter (title inert) retried", history, r)
        r.step("the why page names the subscription, filter and clauses, title inert", why, r)
        r.step("the preview shows the hostile title inert", preview_inert, r)
        r.step("the mail's unsubscribe link: GET confirms only, POST unsubscribes", unsubscribe, r)
        r.step("tokens: create (shown once), list (prefix), revoke", tokens, r)
        r.step("the pages fit a phone's width", phone, r)
        r.step("sign out", sign_out, r)
        r.d.delete_all_cookies()  # the provider's own session too (same host): a fresh sign-in
        if r.step("sign in as the admin %s" % a.admin, sign_in, r, a.admin, False):
            r.step("the admin page: sinks, outbox, users, the dead letter (title inert)", admin, r)
    finally:
        print("# screenshots in " + a.out, flush=True)
        r.d.quit()
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
