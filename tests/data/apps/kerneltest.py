# SPDX-License-Identifier: LGPL-2.1-or-later
"""kerneltest: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/kerneltest-messages "
DUMMY_TEST = {"arch": "aarch64", "authenticated": True, "failed_tests": "None",
              "fedora_version": 41,
              "kernel_version": "6.9.0-0.rc0.20240314git480e035fc4c7.5.fc41.aarch64",
              "release": "Fedora release 38 (Thirty Eight)", "result": "PASS",
              "testdate": "Wed Mar 27 06:26:06 PM EDT 2024", "tester": "dummy-user",
              "testset": "default"}


def messages():
    """kerneltest_messages: agent_name = body["agent"]; usernames [] and no
    url (not compared); summaries 'AGENT uploaded new kernel test results
    for VERSION', 'AGENT created a new release N with status S', 'AGENT
    edited release N with status S'. The first is tests/test_upload.py's
    DUMMY_TEST with its asserted summary; the rest follow the code."""
    version = DUMMY_TEST["kernel_version"]
    yield line(PREFIX + "kerneltest.upload.new", {"agent": "dummy-user", "test": DUMMY_TEST},
               "kerneltest.upload.new.v1", SRC + "tests/test_upload.py",
               f"dummy-user uploaded new kernel test results for {version}", agent="dummy-user")
    failed = dict(DUMMY_TEST, result="FAIL", failed_tests="memfd, stackprot", arch="x86_64",
                  kernel_version="6.9.0-0.rc0.20240314git480e035fc4c7.5.fc41.x86_64",
                  tester="jforbes")
    yield line(PREFIX + "kerneltest.upload.new", {"agent": "jforbes", "test": failed},
               "kerneltest.upload.new.v1", SRC + "tests/test_upload.py",
               "jforbes uploaded new kernel test results for "
               "6.9.0-0.rc0.20240314git480e035fc4c7.5.fc41.x86_64", agent="jforbes")
    classes = SRC + "kerneltest_messages/__init__.py"
    yield line(PREFIX + "kerneltest.release.new",
               {"agent": "jforbes", "release": {"releasenum": 42, "support": "RAWHIDE"}},
               "kerneltest.release.new.v1", classes,
               "jforbes created a new release 42 with status RAWHIDE", agent="jforbes")
    yield line(PREFIX + "kerneltest.release.edit",
               {"agent": "jforbes", "release": {"releasenum": 41, "support": "RELEASE"}},
               "kerneltest.release.edit.v1", classes,
               "jforbes edited release 41 with status RELEASE", agent="jforbes")
    yield line(PREFIX + "kerneltest.release.edit",
               {"agent": "jforbes", "release": {"releasenum": 39, "support": "RETIRED"}},
               "kerneltest.release.edit.v1", classes,
               "jforbes edited release 39 with status RETIRED", agent="jforbes")
