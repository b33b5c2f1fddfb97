# SPDX-License-Identifier: LGPL-2.1-or-later
"""the-new-hotness: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/the-new-hotness-messages hotness_schema/tests/test_messages.py"
FIX = "fedora-infra/the-new-hotness hotness_schema/hotness_schema/tests/fixtures/" \
      "org.fedoraproject.prod.hotness.update.bug.file.json"


def version_update(project, packages):
    """anitya's project.version.update body as hotness passes it on in
    "trigger" (trimmed to the fields the classes read)."""
    return {"topic": "org.release-monitoring.prod.anitya.project.version.update",
            "msg": {"distro": None,
                    "message": {"agent": "anitya", "project": {"name": project},
                                "packages": [{"distro": d, "package_name": p}
                                             for d, p in packages]},
                    "project": {"name": project}}}


def version_update_v2(project, packages):
    """What hotness consumes today (its hotness_consumer.py): anitya's
    project.version.update.v2 body, passed on as trigger {"msg", "topic"}."""
    proj = {"name": project, "id": 10804, "homepage": "https://pypi.org/project/" + project}
    return {"topic": "org.release-monitoring.prod.anitya.project.version.update.v2",
            "msg": {"distro": None, "project": proj,
                    "message": {"agent": "anitya", "old_version": "1.2.2", "project": proj,
                                "packages": [{"distro": d, "package_name": p}
                                             for d, p in packages],
                                "upstream_versions": ["1.3.0"], "versions": ["1.3.0", "1.2.2"],
                                "stable_versions": ["1.3.0", "1.2.2"]}}}


def messages():
    """hotness_schema: UpdateBugFile names the Fedora packages of the trigger
    (or the new mapping's name), links https://bugzilla.redhat.com/ID and
    names no user; UpdateDrop words the summary by reason, names the
    package of the trigger (none for reason anitya) and the body's
    agent_name as agent and only user."""
    yield line(PREFIX + "hotness.update.bug.file",
               {"bug": {"bug_id": 1444479}, "package": "python-ripe-atlas-sagan",
                "trigger": version_update("ripe.atlas.sagan",
                                          [("Fedora", "python-ripe-atlas-sagan")])},
               "hotness.update.bug.file", FIX,
               "the-new-hotness filed a bug on 'python-ripe-atlas-sagan'",
               packages=["python-ripe-atlas-sagan"],
               link="https://bugzilla.redhat.com/1444479")
    yield line(PREFIX + "hotness.update.bug.file",
               {"bug": {"bug_id": 1667929}, "package": "pdns-recursor",
                "trigger": version_update("pdns-recursor", [("Fedora", "pdns-recursor"),
                                                            ("Alpine", "pdns-recursor")])},
               "hotness.update.bug.file", FIX,
               "the-new-hotness filed a bug on 'pdns-recursor'",
               packages=["pdns-recursor"], link="https://bugzilla.redhat.com/1667929")
    yield line(PREFIX + "hotness.update.bug.file",
               {"bug": {"bug_id": 42},
                "trigger": version_update("Dummy", [("Fedora", "Dummy"),
                                                    ("Fedora", "Ordo Hereticus")])},
               "hotness.update.bug.file", SRC,
               "the-new-hotness filed a bug on 'Dummy, Ordo Hereticus'",
               packages=["Dummy", "Ordo Hereticus"], link="https://bugzilla.redhat.com/42")
    yield line(PREFIX + "hotness.update.bug.file",
               {"bug": {"bug_id": 43},
                "trigger": {"msg": {"message": {"new": "dummy"}},
                            "topic": "org.release-monitoring.prod.anitya.project.map.new"}},
               "hotness.update.bug.file", SRC,
               "the-new-hotness filed a bug on 'dummy'",
               packages=["dummy"], link="https://bugzilla.redhat.com/43")
    # Today's shape (the-new-hotness hotness/hotness_consumer.py publishes
    # {"trigger", "bug", "package"} and {"trigger", "reason"}); the drop's
    # class finds no package in such a trigger and says ''.
    hc = "fedora-infra/the-new-hotness hotness/hotness_consumer.py"
    yield line(PREFIX + "hotness.update.bug.file",
               {"bug": {"bug_id": 2277001}, "package": "python-ripe-atlas-sagan",
                "trigger": version_update_v2("ripe.atlas.sagan",
                                             [("Fedora", "python-ripe-atlas-sagan"),
                                              ("Ubuntu", "ripe-atlas-sagan")])},
               "hotness.update.bug.file", hc,
               "the-new-hotness filed a bug on 'python-ripe-atlas-sagan'",
               packages=["python-ripe-atlas-sagan"], link="https://bugzilla.redhat.com/2277001")
    yield line(PREFIX + "hotness.update.drop",
               {"reason": "retired",
                "trigger": version_update_v2("ripe.atlas.sagan",
                                             [("Fedora", "python-ripe-atlas-sagan")])},
               "hotness.update.drop", hc,
               "the-new-hotness saw an update for '', but it got dropped for reason: 'retired'")
    dummy = {"msg": {"package": {"name": "Dummy"}}, "topic": "anitya.project.version.update"}
    saw = "the-new-hotness saw an update for 'Dummy', but "
    yield drop({"reason": "anitya", "name": "dummy",
                "trigger": {"msg": {"message": {"new": "Dummy"}},
                            "topic": "anitya.project.map.new"}},
               "the-new-hotness saw an update for '', but release-monitoring.org "
               "doesn't know what that project is called in Fedora land", [])
    yield drop({"reason": "rawhide", "agent_name": "dummy-user", "trigger": dummy},
               saw + "no rawhide version of the package could be found yet", ["Dummy"],
               ["dummy-user"], agent="dummy-user")
    yield drop({"reason": "pkgdb",
                "trigger": {"msg": {"package_listing": {"package": {"name": "Dummy"}}},
                            "topic": "pkgdb.package.new"}},
               saw + "pkgdb says the maintainers are not interested in bugs being filed", ["Dummy"])
    yield drop({"reason": "bugzilla", "trigger": dummy},
               saw + "the bugzilla issue couldn't be updated", ["Dummy"])
    yield drop({"reason": "Dummy",
                "trigger": {"msg": {"name": "Dummy"}, "topic": "buildsys.build.task.change"}},
               saw + "it got dropped for reason: 'Dummy'", ["Dummy"])


def drop(body, title, packages, usernames=(), agent=None):
    """An update.drop line from hotness-messages' tests."""
    return line(PREFIX + "hotness.update.drop", body, "hotness.update.drop", SRC, title,
                usernames, packages, agent=agent)
