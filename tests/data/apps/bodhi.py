# SPDX-License-Identifier: LGPL-2.1-or-later
"""bodhi: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

WEB = "https://bodhi.fedoraproject.org"
SRC = "fedora-infra/bodhi bodhi-messages/tests/test_update.py, test_compose.py"


def _update(alias, nvrs, user, status="testing", request=None, release="F29"):
    """An update as bodhi sends it today (UpdateV1: no `title` any more)."""
    return {"alias": alias, "builds": [{"nvr": n} for n in nvrs], "release": {"name": release},
            "request": request, "status": status, "user": {"name": user}}


def _pkg(nvr):
    return nvr.rsplit("-", 2)[0]


def _builds(upd):
    """UpdateMessage._builds_summary: the NVRs joined by spaces, cut to 40
    characters plus an ellipsis when 40 or longer (bodhi.messages.utils)."""
    s = " ".join(b["nvr"] for b in upd["builds"])
    return s[:40] + "\u2026" if len(s) >= 40 else s


def _update_line(topic, body, title, upd, agent=None, users=(), schema=None):
    """One update.* message: usernames are the agent, the update's owner and
    any extra (mentions); packages from the builds; url from the alias.
    schema: the entry point's name when it is not bodhi.TOPIC.v1."""
    return line(PREFIX + "bodhi." + topic, body, schema or "bodhi." + topic + ".v1", SRC, title,
                [u for u in (agent, upd["user"]["name"], *users) if u],
                [_pkg(b["nvr"]) for b in upd["builds"]], agent=agent,
                link=f"{WEB}/updates/{upd['alias']}")


def _requests():
    """UpdateRequestMessage: '<agent> submitted <owner's|their> update ALIAS
    (BUILDS) to STATUS', or '<agent> <past tense> ...' for unpush, obsolete
    and revoke."""
    gsd = _update("FEDORA-2019-f1ca3c00e5", ["gnome-settings-daemon-3.6.1-1.fc18",
                                             "control-center-3.6.1-1.fc18"],
                  "hadess", "pending", "testing", "F18")
    hdb = _update("FEDORA-2019-d64d0caab3", ["golang-github-SAP-go-hdb-0.14.1-1.fc29"],
                  "eclipseo")
    semver = _update("FEDORA-2019-f1ca3c00e5",
                     ["golang-github-Masterminds-semver-2.0.0-0.1.20190319git3c92f33.fc29"],
                     "eclipseo", "pending", "testing")
    poc = _update("FEDORA-2019-8da6360454", ["python-operator-courier-1.2.0-1.fc28"], "ralph",
                  "unpushed", None, "F28")
    for status, agent, upd, title in [
            ("testing", "lmacken", gsd, "lmacken submitted hadess's update FEDORA-2019-f1ca3c00e5 "
             "(gnome-settings-daemon-3.6.1-1.fc18 contr\u2026) to testing"),
            ("testing", "eclipseo", semver, "eclipseo submitted their update "
             "FEDORA-2019-f1ca3c00e5 (golang-github-Masterminds-semver-2.0.0-0\u2026) to testing"),
            ("unpush", "ralph", poc, "ralph unpushed their update FEDORA-2019-8da6360454 "
             "(python-operator-courier-1.2.0-1.fc28)"),
            ("obsolete", "lmacken", hdb, "lmacken obsoleted eclipseo's update "
             "FEDORA-2019-d64d0caab3 (golang-github-SAP-go-hdb-0.14.1-1.fc29)"),
            ("stable", "lmacken", dict(hdb, request="stable"), "lmacken submitted eclipseo's "
             "update FEDORA-2019-d64d0caab3 (golang-github-SAP-go-hdb-0.14.1-1.fc29) to stable"),
            ("revoke", "lmacken", hdb, "lmacken revoked eclipseo's update "
             "FEDORA-2019-d64d0caab3 (golang-github-SAP-go-hdb-0.14.1-1.fc29)")]:
        yield _update_line("update.request." + status, {"agent": agent, "update": upd}, title,
                           upd, agent)


def _updates():
    """The other update.* classes (summaries asserted in test_update.py)."""
    xs = _update("FEDORA-2019-2b055f8870", ["xstream-1.4.11.1-2.fc30"], "mbooth", release="F30")
    yield _update_line("update.eject", {"agent": "mohanboddu", "update": xs, "reason": "some reason",
                                        "repo": "test_repo", "request": "testing"},
                       "mbooth's xstream-1.4.11.1-2.fc30 bodhi update was ejected from the "
                       "test_repo mash. Reason: \"some reason\"", xs, "mohanboddu")
    hdb2 = _update("FEDORA-2019-d64d0caab3", ["golang-github-SAP-go-hdb-0.14.1-1.fc29",
                                              "texworks-0.6.3-1.fc29"], "eclipseo")
    for status in ("stable", "testing"):
        upd = dict(hdb2, status=status)
        yield _update_line("update.complete." + status, {"update": upd, "agent": "mohanboddu"},
                           f"eclipseo's {_builds(upd)} bodhi update completed push to {status}",
                           upd, "mohanboddu")
    semver = _update("FEDORA-2019-f1ca3c00e5",
                     ["golang-github-Masterminds-semver-2.0.0-0.1.20190319git3c92f33.fc29"],
                     "eclipseo", "pending", "testing")
    yield _update_line("update.requirements_met.stable", {"update": semver},
                       "eclipseo's golang-github-Masterminds-semver-2.0.0-0\u2026 bodhi update "
                       "has met stable testing requirements", semver)
    tz = _update("FEDORA-2019-7dbbb74a13", ["tzdata-2014i-1.fc19"], "ralph", "pending", "testing",
                 "F19")
    yield _update_line("update.edit", {"new_bugs": [1708925, 1706626], "agent": "ralph",
                                       "new_builds": ["tzdata-2014i-1.fc19"],
                                       "removed_builds": ["tzdata-2014h-1.fc19"], "update": tz},
                       "ralph edited their update FEDORA-2019-7dbbb74a13 (tzdata-2014i-1.fc19)",
                       tz, "ralph")
    tzk = dict(tz, alias="FEDORA-EPEL-2015-0238")
    yield _update_line("update.karma.threshold.reach", {"status": "stable", "update": tzk},
                       "ralph's tzdata-2014i-1.fc19 bodhi update has reached the stable karma "
                       "threshold", tzk, schema="bodhi.update.karma.threshold.v1")
    abrt = _update("FEDORA-EPEL-2019-f2d195dada", ["abrt-addon-python3-2.1.11-50.el7",
                                                   "asciinema-1.4.0-2.el7"], "tdawson",
                   "pending", "testing")
    text = ("Can you believe how much testing we're doing? /cc @codeblock.\n"
            "Nothing from this e-mail should match the regex: test@example.com")
    for key, version in (("karma", "v1"), ("feedback", "v2")):
        comment = {key: -1, "text": text, "timestamp": "2019-03-18 16:54:48", "update": abrt,
                   "user": {"name": "ralph"}}
        yield _update_line("update.comment", {"comment": comment},
                           f"ralph commented on update {_builds(abrt)} ({key}: -1)", abrt,
                           "ralph", ["codeblock"], "bodhi.update.comment." + version)
    # UpdateReadyForTestingV3: the update's owner and builds.
    sel = _update("FEDORA-2019-d64d0caab3", ["libselinux-2.8-6.fc29.x86_64",
                                             "libsepol-2.8-3.fc29.x86_64"], "plautrba")
    art = {"type": "koji-build-group", "builds": [
        {"type": "koji-build", "id": 14546275, "task_id": 14546276,
         "nvr": "libselinux-2.8-6.fc29.x86_64"},
        {"type": "koji-build", "id": 14546278, "task_id": None,
         "nvr": "libsepol-2.8-3.fc29.x86_64"}]}
    yield _update_line("update.status.testing.koji-build-group.build.complete",
                       {"artifact": art, "update": sel, "agent": "mohanboddu"},
                       f"plautrba's {_builds(sel)} bodhi update is ready for testing", sel,
                       "mohanboddu", schema="bodhi.update.status.testing.v3")


def _ready_v1_v2():
    """UpdateReadyForTestingV1 and V2: the artifact's builds give the users
    (issuers, and the agent) and packages (components), its id the url. V1
    has no update and names the testing team; V2 names the update's owner."""
    builds = [{"type": "koji-build", "id": 14546275, "task_id": 14546276, "issuer": "plautrba",
               "component": "libselinux", "nvr": "libselinux-2.8-6.fc29.x86_64", "scratch": False},
              {"type": "koji-build", "id": 14546278, "task_id": None, "issuer": "plautrba",
               "component": "libsepol", "nvr": "libsepol-2.8-3.fc29.x86_64", "scratch": False}]
    body = {"contact": {"name": "BaseOS CI", "team": "BaseOS", "docs": "https://somewhere.com/doc",
                        "email": "baseos-ci@somewhere.com"},
            "artifact": {"type": "koji-build-group", "id": "FEDORA-2019-d64d0caab3",
                         "repository": "https://bodhi.fp.o/updates/FEDORA-2019-d64d0caab3",
                         "builds": builds, "release": "f29"},
            "generated_at": "2019-10-22 13:08:10.222602", "version": "0.2.2",
            "agent": "mohanboddu"}
    upd = _update("FEDORA-2019-d64d0caab3", [b["nvr"] for b in builds], "plautrba")
    topic = "update.status.testing.koji-build-group.build.complete"
    for version, b, who in (("v1", body, "BaseOS CI"), ("v2", dict(body, update=upd), "plautrba")):
        yield line(PREFIX + "bodhi." + topic, b, "bodhi.update.status.testing." + version, SRC,
                   f"{who}'s libselinux-2.8-6.fc29.x86_64 libsepol-2.\u2026 bodhi update is ready "
                   "for testing", ["mohanboddu", "plautrba"], ["libselinux", "libsepol"],
                   agent="mohanboddu", link=f"{WEB}/updates/FEDORA-2019-d64d0caab3")


def _others():
    """Errata (agent: the update's owner), buildroot overrides and the
    composer's messages (no url, no packages; usernames = [agent])."""
    tz = _update("FEDORA-2019-4cc36fafbb", ["tzdata-2014i-1.fc19"], "test_submitter", "pending",
                 "testing", "F19")
    yield line(PREFIX + "bodhi.errata.publish",
               {"subject": "This is the subject of the errata email",
                "body": "This is the body of the errata email", "update": tz},
               "bodhi.errata.publish.v1", "fedora-infra/bodhi bodhi-messages/tests/test_errata.py",
               "This is the subject of the errata email", ["test_submitter"], ["tzdata"],
               agent="test_submitter", link=f"{WEB}/updates/FEDORA-2019-4cc36fafbb")
    for topic, verb in (("tag", "submitted"), ("untag", "expired")):
        nvr = "libxcrypt-4.4.4-2.fc28"
        yield line(PREFIX + "bodhi.buildroot_override." + topic,
                   {"override": {"nvr": nvr, "submitter": {"name": "lmacken"}}},
                   f"bodhi.buildroot_override.{topic}.v1",
                   "fedora-infra/bodhi bodhi-messages/tests/test_buildroot_override.py",
                   f"lmacken {verb} a buildroot override for {nvr}", ["lmacken"],
                   ["libxcrypt"], agent="lmacken", link=f"{WEB}/overrides/{nvr}")
    for topic, body, title in [
            ("compose.start", {"agent": "mohanboddu"}, "bodhi composer started a push"),
            ("compose.composing", {"agent": "mohanboddu", "repo": "test_repo",
                                   "updates": ["monitorix-3.11.0-1.el6"]},
             "bodhi composer started composing test_repo"),
            ("compose.complete", {"agent": "mohanboddu", "success": False, "repo": "test_repo",
                                  "ctype": "container"},
             "bodhi composer failed to compose test_repo"),
            ("compose.complete", {"agent": "mohanboddu", "success": True, "repo": "test_repo",
                                  "ctype": "container"},
             "bodhi composer successfully composed test_repo"),
            ("compose.sync.wait", {"agent": "mohanboddu", "repo": "test_repo"},
             "bodhi composer is waiting for test_repo to hit the master mirror"),
            ("compose.sync.done", {"agent": "mohanboddu", "repo": "test_repo"},
             "bodhi composer finished waiting for test_repo to hit the master mirror"),
            ("repo.done", {"agent": "mohanboddu", "repo": "test_repo", "path": "/some/path"},
             "bodhi composer is finished building test_repo")]:
        yield line(PREFIX + "bodhi." + topic, body, f"bodhi.{topic}.v1",
                   "fedora-infra/bodhi bodhi-messages/tests/test_compose.py", title,
                   ["mohanboddu"], agent="mohanboddu")


def messages():
    """bodhi-messages (bodhi/messages/schemas/*.py): agent_name = body.agent
    (the comment's author for comments, the update's owner for errata);
    usernames = agent, @mentions in a comment and the update's owner;
    packages = the builds' names; url = /updates/ALIAS (/overrides/NVR)."""
    yield from _requests()
    yield from _updates()
    yield from _ready_v1_v2()
    yield from _others()
