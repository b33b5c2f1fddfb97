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
    yield from distgit()


def distgit():
    """fedorainfra_ansible_messages.distgit_messages.GitReceiveV1, dist-git's
    own hook (src.fedoraproject.org): summary 'USERNAME pushed to REPO
    (BRANCH). "SUMMARY"' (the commit's username, no namespace); usernames
    [commit.agent]; its agent is a property named agent, so agent_name
    stays the base class's None (not compared); no url, no packages."""
    src = "fedora-infra/fedorainfra-ansible-messages fedorainfra_ansible_messages/tests/" \
          "test_distgit_messages.py"
    dummy = {"username": "dudemcpants", "name": "Dude McPants",
             "stats": {"files": {"kernel.spec": {"deletions": 1, "additions": 0, "lines": 1}},
                       "total": {"deletions": 1, "files": 1, "additions": 0, "lines": 1}},
             "rev": "7471f555f01eae34dcf5527f7fa1ad99f7f15ed4", "namespace": "rpms",
             "agent": "dudemcpants", "summary": "Add some Stuff", "repo": "kernel",
             "branch": "f35", "seen": False, "path": "/srv/git/repositories/rpms/kernel.git",
             "message": "Add some Stuff\n", "email": "dudemcpants@email.test"}
    yield line(PREFIX + "git.receive", {"commit": dummy}, "distgit.git.receive.v1", src,
               'dudemcpants pushed to kernel (f35). "Add some Stuff"', ["dudemcpants"])
    # pushed by someone else than the author: usernames name the pusher only
    pushed = dict(dummy, agent="jforbes", branch="rawhide")
    yield line(PREFIX + "git.receive", {"commit": pushed}, "distgit.git.receive.v1", src,
               'dudemcpants pushed to kernel (rawhide). "Add some Stuff"', ["jforbes"])
