# SPDX-License-Identifier: LGPL-2.1-or-later
"""git (fedora-messaging-git-hook: git.receive): see make_apps.py and
tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/fedora-messaging-git-hook-messages tests/test_commit.py"
SCHEMA = "git.receive.v1"
URL = "http://example.com/repo/c/3aa6642b0990d1f6a0e0ce7373c8ad37d2f980ce?branch=main"


def commit(namespace, url=URL):
    """The tests' dummy_commit, its patch and stats trimmed."""
    return {"name": "Dummy User", "email": "dummy@example.com", "username": "dummy",
            "summary": "second commit", "message": "second commit\n",
            "stats": {"files": {"something.txt": {"additions": 0, "deletions": 0, "lines": 0}},
                      "total": {"additions": 0, "deletions": 0, "lines": 0, "files": 1}},
            "rev": "3aa6642b0990d1f6a0e0ce7373c8ad37d2f980ce", "path": "/srv/git/dummyrepo.git",
            "repo": "dummyrepo", "namespace": namespace, "branch": "main",
            "patch": "diff --git a/something.txt b/something.txt\nnew file mode 100644\n",
            "date": "2023-11-30T10:42:31+01:00", "url": url}


def messages():
    """fedora_messaging_git_hook_messages CommitV1: summary 'AGENT pushed to
    [NAMESPACE/]REPO (BRANCH). "SUMMARY"' with the body's agent (the pusher,
    not the commit's author); usernames [agent]; url the commit's url; the
    repository is a package for namespace rpms (a container, module or
    flatpak for the others: test_artifact), nothing without a namespace."""
    title = 'dummy-user pushed to {}dummyrepo (main). "second commit"'
    yield line(PREFIX + "git.receive", {"agent": "dummy-user", "commit": commit("dummyns")},
               SCHEMA, SRC, title.format("dummyns/"), ["dummy-user"], agent="dummy-user",
               link=URL)
    yield line(PREFIX + "git.receive", {"agent": "dummy-user", "commit": commit(None)},
               SCHEMA, SRC, title.format(""), ["dummy-user"], agent="dummy-user", link=URL)
    for ns in ("rpms", "container", "modules", "flatpaks"):
        obj = line(PREFIX + "git.receive", {"agent": "dummy-user", "commit": commit(ns)},
                   SCHEMA, SRC, title.format(ns + "/"), ["dummy-user"],
                   ["dummyrepo"] if ns == "rpms" else (), agent="dummy-user", link=URL)
        # compared although empty: only rpms/ repositories are packages
        obj["expected"].setdefault("packages", [])
        yield obj
    # test_minimal: a commit without a url has none
    yield line(PREFIX + "git.receive", {"agent": "dummy-user", "commit": commit("rpms", None)},
               SCHEMA, SRC, title.format("rpms/"), ["dummy-user"], ["dummyrepo"],
               agent="dummy-user")
