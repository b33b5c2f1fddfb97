# SPDX-License-Identifier: LGPL-2.1-or-later
"""copr: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-copr/copr messaging/copr_messaging/tests/test_schema.py"


def body(user, owner, copr, build, chroot, pkg, version, status):
    """The fedmsg-era body copr's backend still sends (the fixture's "msg")."""
    what = f"build: user:{user} copr:{copr} pkg:{pkg} build:{build}"
    return {"status": status, "what": what, "chroot": chroot, "ip": "172.25.93.20",
            "user": user, "who": "backend.worker-23551-PC", "pid": 3762, "copr": copr,
            "version": version, "build": build, "owner": owner, "pkg": pkg}


def messages():
    """copr_messaging.schema: summary is 'Copr Message in project "OWNER/COPR":
    build ID: chroot "CHROOT" started.' (or 'ended as "STATUS".', STATUS the
    copr_common StatusEnum name of the number); agent_name is the submitter
    (msg.user, None when namespaced like github.com:NAME) for the starts and
    None for build.end; usernames are the submitter and the owner, groups
    (@NAME) left out; packages and url are the base Message's (empty)."""
    yield line(PREFIX + "copr.build.start",
               body("churchyard", "@python", "python3.8", 945012, "fedora-rawhide-x86_64",
                    "python-hypothesis", "4.23.8-1.fc31", 3),
               "copr.build.start", SRC,
               'Copr Message in project "@python/python3.8": build 945012: '
               'chroot "fedora-rawhide-x86_64" started.',
               ["churchyard"], agent="churchyard")
    yield line(PREFIX + "copr.build.end",
               body("kbaig", "kbaig", "test", 942697, "fedora-29-x86_64", "tkn",
                    "0.1.2-1.fc30", 0),
               "copr.build.end", SRC,
               'Copr Message in project "kbaig/test": build 942697: '
               'chroot "fedora-29-x86_64" ended as "failed".',
               ["kbaig"])
    yield line(PREFIX + "copr.chroot.start",
               body("praiskup", "praiskup", "ping", 945056, "fedora-29-aarch64", "dummy-pkg",
                    "10:20190626_1356-0", 3),
               "copr.chroot.start", SRC,
               'Copr Message in project "praiskup/ping": build 945056: '
               'chroot "fedora-29-aarch64" started.',
               ["praiskup"], agent="praiskup")
    # Variants of the fixtures above: another status, a group owner, a
    # submitter other than the owner, a namespaced submitter.
    yield line(PREFIX + "copr.build.end",
               body("frostyx", "@copr", "copr-dev", 7215801, "srpm-builds", "copr-cli",
                    "1.110-1", 1),
               "copr.build.end", SRC,
               'Copr Message in project "@copr/copr-dev": build 7215801: '
               'chroot "srpm-builds" ended as "succeeded".',
               ["frostyx"])
    yield line(PREFIX + "copr.build.end",
               body("praiskup", "ttomecek", "packit", 7215802, "fedora-40-x86_64", "ogr",
                    "0.50.0-1.fc40", 2),
               "copr.build.end", SRC,
               'Copr Message in project "ttomecek/packit": build 7215802: '
               'chroot "fedora-40-x86_64" ended as "canceled".',
               ["praiskup", "ttomecek"])
    yield line(PREFIX + "copr.build.start",
               body("github.com:octocat", "packit", "octocat-hello", 7215803,
                    "fedora-rawhide-aarch64", "hello", "2.12-1.fc41", 3),
               "copr.build.start", SRC,
               'Copr Message in project "packit/octocat-hello": build 7215803: '
               'chroot "fedora-rawhide-aarch64" started.',
               ["packit"])
