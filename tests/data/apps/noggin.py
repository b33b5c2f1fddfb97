# SPDX-License-Identifier: LGPL-2.1-or-later
"""noggin: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401


def messages():
    """noggin_messages: usernames = sorted([agent, user]), agent_name = agent,
    groups = [group] for sponsoring; summaries as in the classes (the
    sponsor one really has no space before the group's name)."""
    src = "fedora-infra/noggin-messages noggin_messages/tests/test_schemas.py"
    yield line(PREFIX + "fas.group.member.sponsor",
               {"msg": {"agent": "dudemcpants", "user": "testuser", "group": "developers"}},
               "noggin.group.member.sponsor.v1", src,
               "Sponsor dudemcpants added testuser to the groupdevelopers",
               ["dudemcpants", "testuser"], agent="dudemcpants", groups=["developers"])
    yield line(PREFIX + "fas.user.create", {"msg": {"agent": "dudemcpants", "user": "testuser"}},
               "noggin.user.create.v1", src,
               "dudemcpants created a new Fedora Account for testuser",
               ["dudemcpants", "testuser"], agent="dudemcpants")
    yield line(PREFIX + "fas.user.create",
               {"msg": {"agent": "dudemcpants", "user": "dudemcpants"}},
               "noggin.user.create.v1", src, "dudemcpants created a new Fedora Account",
               ["dudemcpants"], agent="dudemcpants")
    yield line(PREFIX + "fas.user.update",
               {"msg": {"agent": "dudemcpants", "user": "testuser",
                        "fields": ["firstname", "lastname", "gpgkeyid"]}},
               "noggin.user.update.v1", src,
               "dudemcpants edited 3 details of testuser's Fedora Account",
               ["dudemcpants", "testuser"], agent="dudemcpants")
    yield line(PREFIX + "fas.user.update",
               {"msg": {"agent": "dudemcpants", "user": "dudemcpants",
                        "fields": ["firstname", "lastname"]}},
               "noggin.user.update.v1", src,
               "dudemcpants edited 2 details of their Fedora Account",
               ["dudemcpants"], agent="dudemcpants")
