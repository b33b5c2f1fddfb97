# SPDX-License-Identifier: LGPL-2.1-or-later
"""fedocal: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401


def messages():
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
