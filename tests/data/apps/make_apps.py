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

Run from this directory: python3 make_apps.py
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


def anitya():
    """anitya_schema ProjectMapCreated: summary names the project; the class
    defines no usernames, packages, agent_name or url."""
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


def noggin():
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


def fedocal():
    """fedocal_messages: summary = str(); usernames = [agent]; url is
    body["thing"]["url"] (absent here); no agent_name (it defines `agent`)."""
    src = "fedora-infra/fedocal-messages fedocal_messages/tests/utils.py and test_*.py"
    cal = {"calendar_name": "test_calendar", "calendar_contact": "foo@example.com",
           "calendar_description": "A test calendar", "calendar_editor_group": None,
           "calendar_admin_group": "syadmin", "calendar_status": "active"}
    meeting = {"meeting_time_start": "12:00:00", "meeting_name": "wat", "meeting_id": 42,
               "meeting_time_stop": "12:00:00", "calendar_name": "awesome",
               "meeting_location": None, "meeting_date_end": "2013-09-21",
               "meeting_timezone": "UTC", "meeting_manager": "ralph,",
               "meeting_date": "2013-09-20", "meeting_information": "awesome",
               "meeting_region": None}
    m = {"agent": "dummy_user", "calendar": cal, "meeting": meeting}
    c = {"agent": "dummy_user", "calendar": cal}
    for topic, body, title in [
            ("meeting.new", m, "dummy_user has created a new meeting wat in calendar test_calendar"),
            ("meeting.update", m, "dummy_user has updated meeting wat in calendar test_calendar"),
            ("meeting.deleted", m,
             "dummy_user has deleted the meeting wat from the calendar test_calendar"),
            ("calendar.new", c, "dummy_user has created a new calendar test_calendar"),
            ("calendar.update", c, "dummy_user has updated a calendar test_calendar"),
            ("calendar.upload", c,
             "dummy_user has uploaded meetings in the calendar test_calendar"),
            ("calendar.delete", c, "dummy_user has deleted the calendar test_calendar"),
            ("calendar.clear", c, "dummy_user has cleared the calendar test_calendar")]:
        yield line(PREFIX + "fedocal." + topic, body, "fedocal." + topic, src, title,
                   ["dummy_user"])


for app, gen in (("anitya", anitya), ("noggin", noggin), ("fedocal", fedocal)):
    with open(app + ".jsonl", "w") as f:
        for obj in gen():
            f.write(json.dumps(obj, sort_keys=True) + "\n")
