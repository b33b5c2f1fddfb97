#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write tests/data/apps/APP.jsonl: messages in today's fedora-messaging
formats, each with the AMQP headers fedora-messaging would send and the
values the app's own schema class computes (see tests/data/SOURCES.md for
where each body comes from).

The expected values are worked out here by hand from each schema class's
code (summary, usernames, packages, agent_name, url), not by running it.
A field the class leaves empty (None, [] or the base Message's default) is
left out of "expected": herald may know more than the class, and is not
judged on it. Headers follow fedora_messaging.message.Message._filter_headers:
one fedora_messaging_user_NAME / _rpm_NAME / _group_NAME: true per name.

Each APP.py defines messages(), a generator of lines made with line().
Run: python3 tests/data/apps/make_apps.py (rewrites every APP.jsonl)
"""
import json

PREFIX = "org.fedoraproject.prod."


def headers(schema, usernames=(), packages=(), groups=(), severity=20):
    h = {"fedora_messaging_schema": schema, "fedora_messaging_severity": severity,
         "sent-at": "2024-05-06T07:08:09+00:00"}
    for kind, names in (("user", usernames), ("rpm", packages), ("group", groups)):
        for n in names:
            h[f"fedora_messaging_{kind}_{n}"] = True
    return h


def line(topic, body, schema, source, title, usernames=(), packages=(), agent=None,
         link=None, groups=()):
    exp = {"title": title}
    if usernames:
        exp["usernames"] = sorted(set(usernames))
    if packages:
        exp["packages"] = sorted(set(packages))
    if agent:
        exp["agent"] = agent
    if link:
        exp["link"] = link
    return {"topic": topic, "msg": body, "source": source,
            "headers": headers(schema, usernames, packages, groups), "expected": exp}


def main():
    """Every APP.py here but this one defines messages(): write APP.jsonl."""
    import glob
    import importlib
    import os
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    for path in sorted(glob.glob("*.py")):
        app = path[:-3]
        if app == "make_apps":
            continue
        mod = importlib.import_module(app)
        with open(app + ".jsonl", "w") as f:
            for obj in mod.messages():
                f.write(json.dumps(obj, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
