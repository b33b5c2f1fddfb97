# SPDX-License-Identifier: LGPL-2.1-or-later
"""bugzilla: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/bugzilla2fedmsg tests/fixtures/"
SCHEMA = "bugzilla2fedmsg.messageV1BZ4"
LINK = "https://bugzilla.redhat.com/show_bug.cgi?id="
SMPLAYER = "[abrt] smplayer: qt_message_fatal(): smplayer killed by SIGABRT"


def bug(bid, summary, component, reporter, assignee):
    """The bug dict as the relay publishes it with bz4compat on (production):
    assigned_to, component and product flattened to strings, creator and
    weburl added, reporter kept as an object."""
    return {"id": bid, "summary": summary, "component": component, "product": "Fedora",
            "assigned_to": assignee, "reporter": {"login": reporter}, "creator": reporter,
            "cc": [], "classification": "Fedora", "op_sys": "Unspecified",
            "status": {"id": 1, "name": "NEW"}, "weburl": LINK + str(bid)}


def event(action, target, who, changes=None):
    ev = {"action": action, "target": target, "routing_key": f"{target}.{action}",
          "user": {"login": who}, "who": who}
    if changes is not None:
        ev["changes"] = [dict(c, field_name=c["field"]) for c in changes]
    return ev


def messages():
    """bugzilla2fedmsg_schema.schema.BaseMessage: summary from
    event.user.login (a @fedoraproject.org address shortened to the account),
    the bug's summary cut to 40 characters plus "...", and comma_join of the
    changed fields; usernames = the FAS accounts among the event's user, the
    reporter, the assignee, added CCs and needinfo targets (other addresses
    are not accounts: usernames [] is not compared); packages = the component
    unless it is one of the non-package ones (distribution, LiveCD*, Package
    Review); url = show_bug.cgi; no agent_name. Topic bug.new for bug.create,
    bug.update for everything else (relay.py)."""
    smp = bug(2436734, SMPLAYER, "smplayer", "dgunchev@gmail.com", "lvrabec@redhat.com")
    cut = "'[abrt] smplayer: qt_message_fatal(): smp...'"
    yield line(PREFIX + "bugzilla.bug.new",
               {"bug": smp, "event": event("create", "bug", "dgunchev@gmail.com")},
               SCHEMA, SRC + "bug-create-1.json",
               f"dgunchev@gmail.com filed a new bug RHBZ#2436734 {cut}",
               packages=["smplayer"], link=LINK + "2436734")
    # bz4compat off (MessageV1): Bugzilla 5's objects as they come
    v1 = {"id": 2436734, "summary": SMPLAYER, "component": {"id": 207913, "name": "smplayer"},
          "product": {"id": 49, "name": "Fedora"}, "reporter": {"login": "dgunchev@gmail.com"},
          "assigned_to": {"login": "lvrabec@redhat.com"}, "status": {"id": 1, "name": "NEW"}}
    yield line(PREFIX + "bugzilla.bug.new",
               {"bug": v1, "event": {"action": "create", "target": "bug", "routing_key":
                                     "bug.create", "user": {"login": "dgunchev@gmail.com"}}},
               "bugzilla2fedmsg.messageV1", SRC + "bug-create-1.json",
               f"dgunchev@gmail.com filed a new bug RHBZ#2436734 {cut}",
               packages=["smplayer"], link=LINK + "2436734")
    for comp in ("Package Review", "distribution"):
        # test_component_not_package_schema: such components are no package
        body = {"bug": dict(smp, component=comp),
                "event": event("create", "bug", "dgunchev@gmail.com")}
        obj = line(PREFIX + "bugzilla.bug.new", body, SCHEMA, SRC + "bug-create-1.json",
                   f"dgunchev@gmail.com filed a new bug RHBZ#2436734 {cut}",
                   link=LINK + "2436734")
        # compared although empty: naming the component here is the bug
        obj["expected"]["packages"] = []
        yield obj
    urm = bug(2436734, SMPLAYER, "smplayer", "upstream-release-monitoring@fedoraproject.org",
              "davide@cavalca.name")
    cc = [{"field": "cc", "removed": "", "added": "awilliam@redhat.com"}]
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": urm, "event": event("modify", "bug", "mhroncok@redhat.com", cc)},
               SCHEMA, SRC + "bug-modify-1.json",
               f"mhroncok@redhat.com updated 'cc' on RHBZ#2436734 {cut}",
               ["upstream-release-monitoring"], ["smplayer"], link=LINK + "2436734")
    # test_bug_modify_no_changes_schema: a modify event without 'changes'
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": urm, "event": event("modify", "bug", "mhroncok@redhat.com")},
               SCHEMA, SRC + "bug-modify-1.json",
               f"mhroncok@redhat.com updated something unknown on RHBZ#2436734 {cut}",
               ["upstream-release-monitoring"], ["smplayer"], link=LINK + "2436734")
    rjlb = bug(2436734, SMPLAYER, "smplayer", "8ru2u4gz@rokejulianlockhart.addy.io",
               "davide@cavalca.name")
    four = [{"field": "assigned_to", "removed": "nobody@fedoraproject.org",
             "added": "zebob.m@gmail.com"},
            {"field": "bug_status", "removed": "NEW", "added": "POST"},
            {"field": "cc", "removed": "", "added": "zebob.m@gmail.com"},
            {"field": "flag.needinfo", "removed": "", "added": "? (rob@boberts.com)"}]
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": rjlb, "event": event("modify", "bug", "zebob.m@gmail.com", four)},
               SCHEMA, SRC + "bug-modify-2.json",
               "zebob.m@gmail.com updated 'assigned_to', 'bug_status', 'cc', and "
               f"'flag.needinfo' on RHBZ#2436734 {cut}",
               packages=["smplayer"], link=LINK + "2436734")
    # test_bug_modify_two_changes_schema: the first two changes only
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": rjlb, "event": event("modify", "bug", "zebob.m@gmail.com", four[:2])},
               SCHEMA, SRC + "bug-modify-2.json",
               f"zebob.m@gmail.com updated 'assigned_to' and 'bug_status' on RHBZ#2436734 {cut}",
               packages=["smplayer"], link=LINK + "2436734")
    # a needinfo on a Fedora account and a CC of one: both are usernames
    fas = [{"field": "cc", "removed": "", "added": "decathorpe@fedoraproject.org"},
           {"field": "flag.needinfo", "removed": "", "added": "? (churchyard@fedoraproject.org)"},
           {"field": "bug_status", "removed": "NEW", "added": "ASSIGNED"}]
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": rjlb, "event": event("modify", "bug", "zebob@fedoraproject.org", fas)},
               SCHEMA, SRC + "bug-modify-2.json",
               "zebob updated 'cc', 'flag.needinfo', and 'bug_status' on RHBZ#2436734 " + cut,
               ["churchyard", "decathorpe", "zebob"], ["smplayer"], link=LINK + "2436734")
    guestfs = bug(2436732, "libguestfs appliance fails to auto-assemble mdraid arrays with "
                  "non-v1.2 metadata (inside container)", "libguestfs", "kkoukiou@redhat.com",
                  "awilliam@redhat.com")
    comment = {"id": 2436732, "is_private": False, "number": 1, "author": "rjones@redhat.com",
               "body": "Unclear, does it work outside a container and the problem is something",
               "creation_time": "2026-02-04T15:12:53"}
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": guestfs, "comment": comment,
                "event": event("create", "comment", "rjones@redhat.com")},
               SCHEMA, SRC + "comment-create-1.json",
               "rjones@redhat.com added comment on RHBZ#2436732 "
               "'libguestfs appliance fails to auto-assem...'",
               packages=["libguestfs"], link=LINK + "2436732")
    attachment = {"content_type": "text/plain", "description": "File: maps",
                  "file_name": "maps", "flags": [], "id": 2128167, "is_obsolete": False,
                  "is_patch": False, "is_private": False}
    obsolete = [{"field": "isobsolete", "removed": "0", "added": "1"}]
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": rjlb, "attachment": attachment,
                "event": event("modify", "attachment", "joequant@gmail.com", obsolete)},
               SCHEMA, SRC + "attachment-modify-1.json",
               f"joequant@gmail.com updated 'isobsolete' for attachment on RHBZ#2436734 {cut}",
               packages=["smplayer"], link=LINK + "2436734")
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": rjlb, "attachment": attachment,
                "event": event("modify", "attachment", "joequant@gmail.com")},
               SCHEMA, SRC + "attachment-modify-1.json",
               "joequant@gmail.com updated something unknown for attachment on "
               f"RHBZ#2436734 {cut}", packages=["smplayer"], link=LINK + "2436734")
    yield line(PREFIX + "bugzilla.bug.update",
               {"bug": rjlb, "attachment": attachment,
                "event": event("create", "attachment", "peter@sonniger-tag.eu")},
               SCHEMA, SRC + "attachment-create-1.json",
               f"peter@sonniger-tag.eu added attachment on RHBZ#2436734 {cut}",
               packages=["smplayer"], link=LINK + "2436734")
