# SPDX-License-Identifier: LGPL-2.1-or-later
"""mediawiki (the Fedora wiki): see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/mediawiki-messages tests/utils.py, tests/test_article.py"
BASE = {"diff_url": "https://fedoraproject.org/w/index.php?title=Changes/Telemetry&diff=1&oldid=0",
        "minor_edit": False, "page_url": "https://fedoraproject.org/wiki/Changes/Telemetry",
        "summary": "This is a change", "title": "Changes/Telemetry", "user": "dummy-user"}


def edit(**kw):
    return dict(BASE, **kw)


def messages():
    """mediawiki_messages.ArticleEditV1 (the package's only class): summary
    'Wiki page TITLE was edited by USER', agent_name the body's user,
    usernames the user plus, for a page 'User:NAME', NAME lowercased; url
    the diff_url. The wiki.upload.complete topic has no class."""
    topic, schema = PREFIX + "wiki.article.edit", "mediawiki.article.edit.v1"
    yield line(topic, BASE, schema, SRC, "Wiki page Changes/Telemetry was edited by dummy-user",
               ["dummy-user"], agent="dummy-user", link=BASE["diff_url"])
    yield line(topic, edit(diff_url="http://localhost/wiki/diff"), schema, SRC,
               "Wiki page Changes/Telemetry was edited by dummy-user",
               ["dummy-user"], agent="dummy-user", link="http://localhost/wiki/diff")
    yield line(topic, edit(diff_url="https://localhost/wiki/diff", page_url="https://localhost/wiki/page",
                           title="User:SomeUser"), schema, SRC,
               "Wiki page User:SomeUser was edited by dummy-user",
               ["dummy-user", "someuser"], agent="dummy-user", link="https://localhost/wiki/diff")
    # Variants: a minor edit, the editor's own user page, a talk page (not
    # "User:", so nobody else is named).
    diff = "https://fedoraproject.org/w/index.php?title=Infrastructure/Meetings&diff=720001&oldid=720000"
    yield line(topic, edit(minor_edit=True, title="Infrastructure/Meetings", diff_url=diff,
                           page_url="https://fedoraproject.org/wiki/Infrastructure/Meetings",
                           user="kevin", summary="typo"), schema, SRC,
               "Wiki page Infrastructure/Meetings was edited by kevin", ["kevin"], agent="kevin",
               link=diff)
    diff = "https://fedoraproject.org/w/index.php?title=User:Kevin&diff=720002&oldid=720001"
    yield line(topic, edit(title="User:Kevin", diff_url=diff, user="kevin",
                           page_url="https://fedoraproject.org/wiki/User:Kevin"), schema, SRC,
               "Wiki page User:Kevin was edited by kevin", ["kevin"], agent="kevin", link=diff)
    diff = "https://fedoraproject.org/w/index.php?title=User_talk:Kevin&diff=720003&oldid=720002"
    yield line(topic, edit(title="User talk:Kevin", diff_url=diff,
                           page_url="https://fedoraproject.org/wiki/User_talk:Kevin"), schema, SRC,
               "Wiki page User talk:Kevin was edited by dummy-user", ["dummy-user"],
               agent="dummy-user", link=diff)
