# SPDX-License-Identifier: LGPL-2.1-or-later
"""meetbot: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/meetbot-messages meetbot_messages/meeting.py (classes); tests/test_meeting.py " \
      "(MEETING_START, MEETING_COMPLETE and the asserted summaries, agents and usernames)"
RAW = "https://meetbot-raw.test/fedora-meeting_matrix_fedoraproject-org/2023-08-12/"


def start(user, location, name):
    """MeetingStartV1: agent and only user is start_user; url is None (the
    body has none)."""
    body = {"start_time": "2011-08-12T20:17:46+0000", "start_user": user,
            "location": location, "meeting_name": name}
    return line(PREFIX + "meetbot.meeting.start", body, "meetbot.meeting.start", SRC,
                f"Meeting '{name}' started in {location}", [user], agent=user)


def complete(end_user, location, name, attendees, chairs, stem):
    """MeetingCompleteV1: agent is end_user; usernames are the chairs, the
    agent and the attendees' names (attendees are objects: their field names
    are not users); url is the body's url, as sent."""
    url = RAW + stem
    body = {"start_time": "2023-08-12T20:17:46+0000", "start_user": "dummy-user",
            "end_time": "2023-08-12T20:45:59+0000", "end_user": end_user,
            "location": location, "meeting_name": name, "url": url,
            "attendees": [{"name": n, "lines_said": k} for n, k in attendees],
            "logs": [{"log_type": t, "log_url": url + ext}
                     for t, ext in (("HTML Minutes", ".html"), ("HTML Full Log", ".log.html"),
                                    ("Text Minutes", ".txt"), ("Text Full Log", ".log.txt"))],
            "chairs": chairs}
    users = chairs + [end_user] + [n for n, _ in attendees]
    return line(PREFIX + "meetbot.meeting.complete", body, "meetbot.meeting.complete", SRC,
                f"Meeting '{name}' in {location} finished", users, agent=end_user, link=url)


def messages():
    """The test bodies as they are, then the same shapes with other rooms,
    names and people (the package's tests have one body per class)."""
    room = "#fedora-meeting:fedoraproject.org"
    yield start("dummy-user", room, "epel")
    yield start("nirik", "#fedora-meeting-1:fedoraproject.org", "Infrastructure (2024-05-06)")
    yield complete("dudemcpants", room, "epel",
                   [("dummy-user", 23), ("dudemcpants", 3), ("stevebrown", 213)],
                   ["dummy-user", "dudemcpants", "joansmith"], "epel.2023-08-12-20.17")
    yield complete("nirik", "#fedora-meeting-1:fedoraproject.org", "fesco",
                   [("nirik", 40), ("zbyszek", 12)], ["nirik"], "fesco.2023-08-12-20.17")
    yield complete("jflory7", room, "council",
                   [("jflory7", 5), ("bcotton", 1)], ["jflory7", "amoloney"],
                   "council.2023-08-12-20.17")
