# SPDX-License-Identifier: LGPL-2.1-or-later
"""anitya: see make_apps.py and tests/data/SOURCES.md."""
import json

from make_apps import PREFIX, line  # noqa: F401

CORPUS = "../fedmsg-messages.jsonl"
FIXTURES = "fedora-infra/anitya anitya_schema/anitya_schema/tests/fixtures/" \
           "org.release-monitoring.prod.anitya.*.json (corpus lines 750-809, SOURCES.md source 3)"


def title(topic, body):
    """The summary anitya_schema's class for the topic computes (distro_messages.py,
    project_messages.py); None for a topic without a class."""
    m, name = body["message"], (body.get("project") or {}).get("name")
    kind = topic.split(".anitya.", 1)[1]
    return {
        "distro.add": lambda: f"A new distribution, {(body['distro'] or {}).get('name')}, "
                              "was added to release-monitoring.",
        "distro.edit": lambda: f"The name of the {m['old']} distribution changed to {m['new']}.",
        "distro.remove": lambda: f"The {m['distro']} distribution was removed from "
                                 "release-monitoring.",
        "project.add": lambda: f"A new project, {name}, was added to release-monitoring.",
        "project.edit": lambda: f"A project, {name}, was edited in release-monitoring.",
        "project.remove": lambda: f"A project, {name}, was deleted in release-monitoring.",
        "project.flag": lambda: f"A flag was created on project {name} in release-monitoring.",
        "project.flag.set": lambda: f"A flag '{m['flag']}' was {m['state']} in "
                                    "release-monitoring.",
        "project.map.update": lambda: f"A mapping for project {name} was edited in "
                                      "release-monitoring.",
        "project.map.remove": lambda: f"A mapping for project {name} was deleted in "
                                      "release-monitoring.",
        "project.version.update": lambda: f"A new version '{m['upstream_version']}' was found "
                                          f"for project {name} in release-monitoring.",
        "project.version.update.v2": lambda: "A new versions '{}' were found for project {} in "
                                             "release-monitoring.".format(
                                                 ", ".join(m["upstream_versions"]), name),
        "project.version.remove": lambda: f"A version '{m['version']}' was deleted in project "
                                          f"{name} in release-monitoring.",
    }.get(kind, lambda: None)()


def v2(body):
    """version.update.v2 as anitya sends it since the v1 topic was deprecated:
    upstream_versions (a list) and stable_versions instead of upstream_version
    and odd_change; derived from a v1 fixture, as the-new-hotness's tests
    show the v2 shape."""
    msg = {k: v for k, v in body["message"].items() if k not in ("upstream_version", "odd_change")}
    msg["upstream_versions"] = [body["message"]["upstream_version"]]
    msg["stable_versions"] = [body["message"]["upstream_version"]]
    return dict(body, message=msg)


def corpus_fixtures(per_topic=2):
    """The first per_topic fixtures of every topic but map.new (below), then
    v2 bodies made from the version.update ones."""
    taken = {}
    with open(CORPUS) as f:
        for n, raw in enumerate(f):
            env = json.loads(raw)
            topic = env["topic"]
            if not (750 <= n <= 809) or topic.endswith(".map.new"):
                continue
            if taken.get(topic, 0) < per_topic:
                taken[topic] = taken.get(topic, 0) + 1
                yield topic, env["msg"]
                if topic.endswith(".version.update"):
                    yield topic + ".v2", v2(env["msg"])


def messages():
    """anitya_schema: every class's summary names the project (or distro,
    flag); no class defines usernames, packages, agent_name or url (only
    .agent and project_url), so titles alone are compared."""
    src = "fedora-infra/anitya anitya_schema/anitya_schema/tests/fixtures/" \
          "org.release-monitoring.prod.anitya.project.map.new.json"
    fixtures = [("praiskup", "pg-semver", "pg-semver", "GitHub", 18163),
                ("qulogic", "R-gdtools", "gdtools", "CRAN (R)", 18070),
                ("qulogic", "R-gdata", "gdata", "CRAN (R)", 18069),
                ("qulogic", "R-gamlss.dist", "gamlss.dist", "CRAN (R)", 18068),
                ("qulogic", "R-future", "future", "CRAN (R)", 18067)]
    for agent, new, proj, backend, pid in fixtures:
        body = {"distro": {"name": "Fedora"},
                "message": {"agent": agent, "distro": "Fedora", "new": new, "project": proj},
                "project": {"backend": backend, "id": pid, "name": proj, "regex": None,
                            "version": None, "version_url": None, "versions": []}}
        yield line("org.release-monitoring.prod.anitya.project.map.new", body,
                   "anitya.project.map.new", src,
                   f"A new mapping was created for project {proj} in release-monitoring.")
    for topic, body in corpus_fixtures():
        yield line(topic, body, topic.split(".prod.", 1)[1], FIXTURES, title(topic, body))
