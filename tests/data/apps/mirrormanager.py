# SPDX-License-Identifier: LGPL-2.1-or-later
"""mirrormanager: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/mirrormanager-messages tests/test_host.py, tests/test_site.py"
HOST = {"id": 1, "name": "dummy-host", "country": "US", "bandwidth": 1, "asn": 42}
SITE = {"id": 1, "name": "dummy-site", "org_url": None}


def messages():
    """mirrormanager_messages: agent_name is the body's agent; usernames the
    agent (host messages: plus the site's admins); url the host's url when
    the body has one (none for sites); the deprecated v1 topics carry ids
    only and name nobody."""
    v2 = {"agent": "dummy-user", "host": HOST, "site": SITE}
    for verb, text in (("added", "Host dummy-host has been added to site dummy-site by dummy-user"),
                       ("updated", "Host dummy-host in site dummy-site has been updated by dummy-user"),
                       ("deleted", "Host dummy-host has been deleted from site dummy-site by dummy-user")):
        yield line(PREFIX + f"mirrormanager.host.{verb}.v2", v2,
                   f"mirrormanager.host.{verb}.v2", SRC, text, ["dummy-user"], agent="dummy-user")
    yield line(PREFIX + "mirrormanager.site.deleted.v2", {"agent": "dummy-user", "site": SITE},
               "mirrormanager.site.deleted.v2", SRC,
               "Site dummy-site (1) has been deleted by dummy-user", ["dummy-user"],
               agent="dummy-user")
    # The crawler's message: the test body above with the fields its schema
    # requires (crawled_at, logs_url, reason), a host url and site admins.
    host = dict(HOST, url="https://admin.fedoraproject.org/mirrormanager/host/1")
    yield line(PREFIX + "mirrormanager.crawler.host.disabled.v1",
               {"host": host, "site": dict(SITE, admins=["mirroradmin", "dummy-user"]),
                "crawled_at": "2024-05-06T07:08:09+00:00",
                "logs_url": "https://mirrors.fedoraproject.org/crawler/dummy-host.log",
                "reason": "Host has been up to date for too long"},
               "mirrormanager.crawler.host.disabled.v1",
               "fedora-infra/mirrormanager-messages mirrormanager_messages/host.py",
               "Host dummy-host has been disabled by MirrorManager's crawler",
               ["dummy-user", "mirroradmin"], link=host["url"])
    v1 = {"host_id": 1, "site_id": 1, "bandwidth": 0, "asn": 0}
    for verb in ("added", "updated", "deleted"):
        yield line(PREFIX + f"mirrormanager.host.{verb}", v1, f"mirrormanager.host.{verb}", SRC,
                   f"Host on site 1 has been {verb}")
    yield line(PREFIX + "mirrormanager.site.deleted",
               {"site_id": 1, "site_name": "dummy-site", "org_url": None},
               "mirrormanager.site.deleted", SRC, "Site dummy-site (1) has been deleted")
