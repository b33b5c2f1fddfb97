# SPDX-License-Identifier: LGPL-2.1-or-later
"""planet (fedoraplanet.org): see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora_planet_messages (PyPI fedora-planet-messages) post_messages.py and " \
      "build_messages.py (classes), tests/test_post_messages.py; bodies shaped as " \
      "fedora-infra/fedora-planet build.py publishes them"


def post(user, blog, title, url):
    """PostNew: agent and only user is username; the class gives no url
    (herald links the post's url, not compared)."""
    body = {"username": user, "face": "https://fedoraplanet.org/images-v2/heads/default.png",
            "name": blog, "post": {"title": title, "url": url}}
    return line(PREFIX + "planet.post.new", body, "planet.post.new", SRC,
                f"A new post '{title}' was published on planet by '{user}'.", [user], agent=user)


def messages():
    yield post("Khorne", "Best blog in the world", "Blood for the blood god",
               "https://khorne.example.org/2024/05/blood.html")
    yield post("jflory7", "Justin W. Flory", "Fedora at FOSDEM 2024",
               "https://jwf.io/2024/02/fedora-fosdem/")
    yield post("mattdm", "Matthew Miller", "Fedora Linux 40 is here",
               "https://mattdm.org/fedora/2024/04/f40/")
    users = {"fedoramagazine": {"name": "Fedora Magazine", "link": "https://fedoramagazine.org",
                                "feed": "https://fedoramagazine.org/?feed=rss2",
                                "avatar": "https://fedoraplanet.org/images-v2/heads/m.png",
                                "author": "admin"}}
    yield line(PREFIX + "planet.build",
               {"title": "Fedora People", "url": "https://fedoraplanet.org", "Users": users},
               "planet.build", SRC, "Fedora People has been rebuilt")
    yield line(PREFIX + "planet.build", {"url": "https://fedoraplanet.org", "Users": users},
               "planet.build", SRC, "The planet has been rebuilt")
