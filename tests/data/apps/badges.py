# SPDX-License-Identifier: LGPL-2.1-or-later
"""badges (Tahrir, badges.fedoraproject.org): see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/tahrir-messages tahrir_messages/__init__.py (classes); tests/utils.py " \
      "(DUMMY_USER, DUMMY_BADGE, DUMMY_PERSON) and tests/test_messages.py (asserted summaries)"


def user(name, uid):
    return {"username": name, "badges_user_id": uid}


def award(name, badge):
    """BadgeAwardV1: agent and only user is user.username; url is None."""
    return line(PREFIX + "badges.badge.award", {"user": user(name, 123456), "badge": badge},
                "tahrir.BadgeAwardV1", SRC,
                f"{name} was awarded the badge `{badge['name']}`", [name], agent=name)


def messages():
    white_hat = {"badge_id": "white-hat",
                 "description": "You submitted a bodhi update with type security",
                 "image_url": "https://badges.fedoraproject.org/pngs/white-hat.png",
                 "name": "White Hat"}
    cookie = {"badge_id": "riddle-me-this",
              "description": "You gave a cookie to someone in IRC",
              "image_url": "https://badges.fedoraproject.org/pngs/riddle-me-this.png",
              "name": "Riddle Me This"}
    yield award("dudemcpants", white_hat)
    yield award("ralph", cookie)
    yield line(PREFIX + "badges.person.login.first", {"user": user("dudemcpants", 123456)},
               "tahrir.PersonLoginFirstV1", SRC,
               "dudemcpants logged into badges for the first time", ["dudemcpants"],
               agent="dudemcpants")
    person = {"bio": None, "email": "aaronhale@fedoraproject.org", "id": 1234,
              "nickname": "aaronhale", "rank": 1, "website": None}
    yield line(PREFIX + "badges.person.rank.advance", {"old_rank": 2, "person": person},
               "tahrir.PersonRankAdvanceV1", SRC, "aaronhale's Badges rank changed from 2 to 1",
               ["aaronhale"], agent="aaronhale")
    yield line(PREFIX + "badges.person.rank.advance",
               {"old_rank": None, "person": dict(person, nickname="kevin", rank=1402)},
               "tahrir.PersonRankAdvanceV1", SRC, "kevin's Badges rank changed from None to 1402",
               ["kevin"], agent="kevin")
