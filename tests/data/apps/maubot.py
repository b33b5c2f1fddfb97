# SPDX-License-Identifier: LGPL-2.1-or-later
"""maubot (maubot-fedora, the Matrix bot): see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/maubot-fedora-messages maubot_fedora_messages/cookie.py (GiveCookieV1, " \
      "the package's only class); tests/conftest.py (dummy_cookie), tests/test_cookie.py"


def cookie(sender, recipient, release, total, in_release):
    """GiveCookieV1: agent is sender, usernames [sender, recipient]; no url."""
    body = {"sender": sender, "recipient": recipient, "fedora_release": release,
            "total": total, "count_by_release": {release: in_release}}
    return line(PREFIX + "maubot.cookie.give.v1", body, "maubot.cookie.give.v1", SRC,
                f"{sender} gave a cookie to {recipient}", [sender, recipient], agent=sender)


def messages():
    yield cookie("dummy-user", "foobar", "39", 1, 1)
    yield cookie("nirik", "kevin", "40", 212, 17)
    yield cookie("adamw", "kparal", "40", 88, 9)
    yield cookie("jflory7", "bcotton", "41", 300, 2)
    yield cookie("mattdm", "dummy-user", "41", 2, 1)
