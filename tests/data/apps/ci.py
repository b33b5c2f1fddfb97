# SPDX-License-Identifier: LGPL-2.1-or-later
"""ci (CI Messages, python-ci_messages): see make_apps.py and
tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "pagure.io/fedora-ci/messages python-ci_messages ci_messages/tests/test_schema.py"
SCHEMA = "ci_messages.v1"
CONTACT = {"name": "Fedora CI", "team": "Fedora CI", "email": "ci@lists.fedoraproject.org",
           "docs": "https://docs.fedoraproject.org/en-US/ci/"}


def koji_build(nvr, component, issuer, task_id):
    return {"type": "koji-build", "id": task_id, "nvr": nvr, "component": component,
            "issuer": issuer, "scratch": False, "source": "git+https://src.fedoraproject.org/"
            f"rpms/{component}.git#3f0c2b7"}


def messages():
    """ci_messages.schema.CIMessageV1: the last three topic words are
    (artifact, event, status); summary "CI: EVENT of ARTIFACT ID STATUS",
    EVENT "promotion" for promote and "TYPE test" for a test with a
    test.type, STATUS was queued / started / finished / failed, ID the
    artifact's descriptor, nvr, alias or id (first that is set); url
    run.url, else artifact.url, else "" (not compared). No usernames,
    packages or agent_name. The first five are the package's own examples
    with its asserted summaries and urls."""
    compose = {"type": "productmd-compose", "id": "RHEL-ALT-7-20180101.n.0",
               "compose_type": "nightly"}
    rtt = ("https://rtt.somewhere.com/job/compose-RHEL-ALT-7-nightly-tier2-acceptance/"
           "arch=aarch64,variant=Server/1/")
    yield line(PREFIX + "ci.productmd-compose.test.complete",
               {"artifact": compose, "contact": CONTACT, "version": "0.2.1",
                "run": {"url": rtt, "log": rtt + "console"},
                "test": {"type": "acceptance", "category": "functional",
                         "namespace": "rtt", "result": "passed"}},
               SCHEMA, SRC, "CI: acceptance test of productmd-compose RHEL-ALT-7-20180101.n.0 "
               "finished", link=rtt)
    yield line(PREFIX + "ci.brew-build.promote.queued",
               {"artifact": {"type": "brew-build", "id": 14546276, "nvr": "setup-2.8.71-7.el7_4",
                             "component": "setup", "issuer": "someone", "scratch": False},
                "contact": CONTACT, "version": "0.2.1"},
               SCHEMA, SRC, "CI: promotion of brew-build setup-2.8.71-7.el7_4 was queued")
    hot_dog = {"type": "uncontrolled-build", "nvr": "plymouth-theme-hot-dog-0.4-1.fc16",
               "url": "https://wwoods.fedorapeople.org/hot-dog/"
                      "plymouth-theme-hot-dog-0.4-1.fc16.noarch.rpm"}
    yield line(PREFIX + "ci.uncontrolled-build.build.complete",
               {"artifact": hot_dog, "contact": CONTACT, "version": "0.2.1"},
               SCHEMA, SRC, "CI: build of uncontrolled-build plymouth-theme-hot-dog-0.4-1.fc16 "
               "finished", link=hot_dog["url"])
    yield line(PREFIX + "ci.uncontrolled-build.test.complete",
               {"artifact": hot_dog, "contact": CONTACT, "version": "0.2.1",
                "run": {"url": "http://wizard.zone/job/hot-dog/1337",
                        "log": "http://wizard.zone/job/hot-dog/1337/console"},
                "test": {"type": "tier1", "category": "functional", "namespace": "wizard",
                         "result": "passed"}},
               SCHEMA, SRC, "CI: tier1 test of uncontrolled-build "
               "plymouth-theme-hot-dog-0.4-1.fc16 finished",
               link="http://wizard.zone/job/hot-dog/1337")
    openqa = "https://openqa.stg.fedoraproject.org/tests/583271"
    ttype = "install_default_update_live uefi updates-workstation-live-iso x86_64"
    yield line(PREFIX + "ci.fedora-update.test.complete",
               {"artifact": {"type": "fedora-update", "id": "FEDORA-2019-6bda4c81f4",
                             "alias": "FEDORA-2019-6bda4c81f4", "release": "f31"},
                "contact": CONTACT, "version": "0.2.1",
                "run": {"url": openqa, "log": openqa + "/file/autoinst-log.txt"},
                "test": {"type": ttype, "category": "validation", "namespace": "openqa",
                         "result": "passed"}},
               SCHEMA, SRC, f"CI: {ttype} test of fedora-update FEDORA-2019-6bda4c81f4 finished",
               link=openqa)
    # Fedora CI's koji-build tests through their life (worked out from the code)
    build = koji_build("python-requests-2.32.3-1.fc42", "python-requests", "churchyard",
                       126455821)
    run = {"url": "https://artifacts.dev.testing-farm.io/5d3c0f0a",
           "log": "https://artifacts.dev.testing-farm.io/5d3c0f0a/pipeline.log"}
    wording = {"queued": "was queued", "running": "started", "complete": "finished",
               "error": "failed"}
    for status, said in wording.items():
        test = {"type": "installability", "category": "functional",
                "namespace": "fedora-ci.koji-build"}
        body = {"artifact": build, "contact": CONTACT, "version": "1.0.0", "run": run,
                "test": test, "pipeline": {"id": "5d3c0f0a", "name": "installability"}}
        if status == "complete":
            test["result"] = "failed"
        if status == "error":
            body["error"] = {"reason": "Testing Farm request failed"}
        yield line(PREFIX + "ci.koji-build.test." + status, body, SCHEMA,
                   SRC.replace("tests/test_schema.py", "schema.py"),
                   f"CI: installability test of koji-build python-requests-2.32.3-1.fc42 {said}",
                   link=run["url"])
    # no test.type: the event word stays "test"
    yield line(PREFIX + "ci.koji-build.test.queued",
               {"artifact": build, "contact": CONTACT, "version": "1.0.0", "run": run,
                "test": {"category": "functional", "namespace": "fedora-ci.koji-build"}},
               SCHEMA, SRC.replace("tests/test_schema.py", "schema.py"),
               "CI: test of koji-build python-requests-2.32.3-1.fc42 was queued",
               link=run["url"])
