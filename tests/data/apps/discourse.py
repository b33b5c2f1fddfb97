# SPDX-License-Identifier: LGPL-2.1-or-later
"""discourse: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/webhook-to-fedora-messaging-messages tests/test_discourse/"
SCHEMA = "discourse.v1"
ASK = "https://ask.fedoraproject.org"
DISCUSSION = "https://discussion.fedoraproject.org"


def body(kind, event, instance, contents):
    """The body the relay publishes: the webhook's JSON and five of its
    headers (webhook_to_fedora_messaging/endpoints/parser/discourse.py)."""
    return {"webhook_body": {kind: contents},
            "webhook_headers": {"X-Discourse-Event": event, "X-Discourse-Event-Id": "83528",
                                "X-Discourse-Event-Signature": "sha256=0",
                                "X-Discourse-Event-Type": kind,
                                "X-Discourse-Instance": instance}}


def post(username, title, slug, topic_id, number, category="english"):
    return {"username": username, "topic_title": title, "topic_slug": slug,
            "topic_id": topic_id, "post_number": number, "category_slug": category}


def topic(username, title, slug, topic_id):
    return {"title": title, "slug": slug, "id": topic_id, "category_id": 97,
            "created_by": {"username": username}}


def messages():
    """discourse.v1 (webhook_to_fedora_messaging_messages/discourse/v1.py,
    which replaced discourse2fedmsg_messages): summaries per event type and
    event; agent_name is the post's author, the liker, the topic's creator,
    and none for a solution; usernames only for likes (the liked post's
    author, not the liker) and solutions (the solution's author): the class
    starts from the base Message's empty list. No url."""
    topic_prefix = PREFIX + "discourse."
    posts = [("post_created", DISCUSSION, "New Post on Fedora Discussion: darknao posted in "
              "'Docs meeting agenda: 2023-02-08'",
              post("darknao", "Docs meeting agenda: 2023-02-08",
                   "docs-meeting-agenda-2023-02-08", 46582, 3, "project")),
             ("post_edited", ASK, "Post Edited on Ask Fedora: johnnee8's post on "
              "'Problems upgrading via terminal from F35 to F37'",
              post("johnnee8", "Problems upgrading via terminal from F35 to F37",
                   "problems-upgrading-via-terminal-from-f35-to-f37", 31544, 38)),
             ("post_recovered", DISCUSSION, "Post Recovered on Fedora Discussion: "
              "hankuoffroad's post on 'QuickDocs - Manage images'",
              post("hankuoffroad", "QuickDocs - Manage images", "quickdocs-manage-images",
                   46225, 3, "project")),
             ("post_destroyed", ASK, "Post Destroyed on Ask Fedora: pnietzsche's post on "
              "'Name Resolution Failure'",
              post("pnietzsche", "Name Resolution Failure", "name-resolution-failure",
                   31274, 1))]
    for event, site, title, contents in posts:
        yield line(topic_prefix + "post." + event, body("post", event, site, contents), SCHEMA,
                   SRC + "test_post.py", title, agent=contents["username"])
    mattdm = post("mattdm", "Theory of Change: how we plan (and explain our plans!)",
                  "theory-of-change-how-we-plan-and-explain-our-plans", 46632, 1, "project")
    like = {"post": mattdm, "user": {"id": 1605, "name": "Akashdeep Dhar",
                                     "username": "t0xic0der"}}
    yield line(topic_prefix + "like.post_liked", body("like", "post_liked", DISCUSSION, like),
               SCHEMA, SRC + "test_like.py",
               "Post Liked on Fedora Discussion: t0xic0der liked mattdm's post on "
               "'Theory of Change: how we plan (and explain our plans!)'",
               ["mattdm"], agent="t0xic0der")
    solution = post("isudoajl", "Error 0x800f0922 updating Windows 10 in KVM/libvirt/qemu stack",
                    "error-0x800f0922-updating-windows-10-in-kvm-libvirt-qemu-stack", 31703, 3)
    title = ("Accepted Solution on Ask Fedora: isudoajl's post on topic 'Error 0x800f0922 "
             "updating Windows 10 in KVM/libvirt/qemu stack' marked as the solution.")
    # the test's topic, and the one the relay builds from the event type
    for kind in ("like", "solved"):
        yield line(topic_prefix + kind + ".accepted_solution",
                   body("solved", "accepted_solution", ASK, solution), SCHEMA,
                   SRC + "test_solved.py", title, ["isudoajl"])
    silverblue = topic("awarda", "No updates published for f37 Silverblue since Feb 9th?",
                       "no-updates-published-for-f37-silverblue-since-feb-9th", 31739)
    topics = [("topic_created", "New Topic on Ask Fedora: awarda created the topic "
               "'No updates published for f37 Silverblue since Feb 9th?'", silverblue),
              ("topic_edited", "Topic Edited on Ask Fedora: awarda's topic "
               "'No updates published for f37 Silverblue since Feb 9th?'", silverblue),
              ("topic_destroyed", "Topic Destroyed on Ask Fedora: pnietzsche's topic "
               "'Name Resolution Failure'",
               topic("pnietzsche", "Name Resolution Failure", "name-resolution-failure", 31274)),
              ("topic_recovered", "Topic Recovered on Ask Fedora: draakzward's topic "
               "'Two bluetooth adapters and a manager'",
               topic("draakzward", "Two bluetooth adapters and a manager",
                     "two-bluetooth-adapters-and-a-manager", 31714))]
    for event, title, contents in topics:
        yield line(topic_prefix + "topic." + event, body("topic", event, ASK, contents), SCHEMA,
                   SRC + "test_topic.py", title, agent=contents["created_by"]["username"])
    # events the class has no wording for get "INSTANCE: TYPE.EVENT"
    yield line(topic_prefix + "topic.topic_closed_status_updated",
               body("topic", "topic_closed_status_updated", ASK, silverblue), SCHEMA,
               SRC + "test_topic.py", "Ask Fedora: topic.topic_closed_status_updated")
    yield line(topic_prefix + "post.post_hidden", body("post", "post_hidden", DISCUSSION, mattdm),
               SCHEMA, SRC + "test_post.py", "Fedora Discussion: post.post_hidden")
