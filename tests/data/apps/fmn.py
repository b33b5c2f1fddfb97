# SPDX-License-Identifier: LGPL-2.1-or-later
"""fmn (Fedora Notifications, FMN 3): see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/fmn fmn-messages/fmn_messages/rule.py (RuleCreateV1, RuleUpdateV1, " \
      "RuleDeleteV1; base BaseMessage); tests/messages/test_base.py (bodies)"


def rule(action, rule_id, name, user):
    """The classes define no summary, usernames, agent_name or url: the
    summary is fedora-messaging's default (the topic), which says nothing
    herald should copy, so nothing is compared but the body shape (herald
    names the user and the rule; see the rule file)."""
    obj = line(PREFIX + f"fmn.rule.{action}.v1", {"rule": {"id": rule_id, "name": name},
                                                  "user": {"name": user}},
               f"fmn.rule.{action}.v1", SRC, "")
    del obj["expected"]["title"]
    return obj


def messages():
    yield rule("create", 1, None, "dummy")
    yield rule("create", 42, "my packages", "nirik")
    yield rule("update", 42, "my packages", "nirik")
    yield rule("update", 7, None, "kevin")
    yield rule("delete", 42, "my packages", "nirik")
