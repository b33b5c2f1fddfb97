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
    in_project = 'Copr Message in project "{}/{}": build {}: chroot "{}" '
    # (topic, user, owner, copr, build, chroot, pkg, version, status, ending,
    # usernames, agent): the three test bodies, then variants of them for
    # another status, a group owner, a submitter other than the owner and a
    # namespaced submitter.
    table = [
        ("build.start", "churchyard", "@python", "python3.8", 945012, "fedora-rawhide-x86_64",
         "python-hypothesis", "4.23.8-1.fc31", 3, "started.", ["churchyard"], "churchyard"),
        ("build.end", "kbaig", "kbaig", "test", 942697, "fedora-29-x86_64", "tkn",
         "0.1.2-1.fc30", 0, 'ended as "failed".', ["kbaig"], None),
        ("chroot.start", "praiskup", "praiskup", "ping", 945056, "fedora-29-aarch64", "dummy-pkg",
         "10:20190626_1356-0", 3, "started.", ["praiskup"], "praiskup"),
        ("build.end", "frostyx", "@copr", "copr-dev", 7215801, "srpm-builds", "copr-cli",
         "1.110-1", 1, 'ended as "succeeded".', ["frostyx"], None),
        ("build.end", "praiskup", "ttomecek", "packit", 7215802, "fedora-40-x86_64", "ogr",
         "0.50.0-1.fc40", 2, 'ended as "canceled".', ["praiskup", "ttomecek"], None),
        ("build.start", "github.com:octocat", "packit", "octocat-hello", 7215803,
         "fedora-rawhide-aarch64", "hello", "2.12-1.fc41", 3, "started.", ["packit"], None),
    ]
    for topic, user, owner, copr, build, chroot, pkg, version, status, ending, users, agent \
            in table:
        yield line(PREFIX + "copr." + topic,
                   body(user, owner, copr, build, chroot, pkg, version, status),
                   "copr." + topic, SRC, in_project.format(owner, copr, build, chroot) + ending,
                   users, agent=agent)
