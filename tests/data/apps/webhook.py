# SPDX-License-Identifier: LGPL-2.1-or-later
"""webhook (webhook-to-fedora-messaging: github.*, gitlab.*, forgejo.*,
pretix.*): see
make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/webhook-to-fedora-messaging-messages tests/test_"
AGENT = "testuser-w2fm"


def wrap(payload, headers):
    """The relay's body: the forge's JSON, its headers, and the Fedora
    account it found for the sender (endpoints/parser/base.py); the tests
    use testuser-w2fm."""
    return {"body": payload, "headers": headers, "agent": AGENT}


def issue_events(issue, comment_url):
    """The issues and issue_comment payloads (GitHub's shape, which Forgejo
    copies) for one issue."""
    comment = {"body": "Test comment", "user": {"login": "gridhead"}, "html_url": comment_url}
    return {"issues": {"action": "opened", "issue": issue},
            "issue_comment": {"action": "created", "issue": issue, "comment": comment}}


def github():
    repo = {"name": "test-repo", "full_name": "gridhead/test-repo",
            "html_url": "https://github.com/gridhead/test-repo"}
    sender = {"login": "gridhead"}
    issue = {"number": 1, "title": "Test issue", "user": {"login": "gridhead"}, "labels": [],
             "html_url": "https://github.com/gridhead/test-repo/issues/1"}
    events = {
        "push": {"ref": "refs/heads/flsk", "pusher": {"name": "gridhead"},
                 "compare": "https://github.com/gridhead/test-repo/compare/3c1a...bb79",
                 "commits": [{"message": "Add simple webhook receiver service",
                              "author": {"name": "Akashdeep Dhar"},
                              "url": "https://github.com/gridhead/test-repo/commit/"
                                     "bb793868750af565b35f79e756dc4fac1b444672"}]},
        "fork": {"forkee": {"name": "test-repo", "full_name": "t0xic0der/test-repo",
                            "html_url": "https://github.com/t0xic0der/test-repo",
                            "owner": {"login": "t0xic0der"}}},
        **issue_events(issue, "https://github.com/gridhead/test-repo/issues/1#issuecomment-2"),
        "pull_request": {"action": "opened", "number": 2,
                         "pull_request": {"title": "Test PR", "user": {"login": "gridhead"},
                                          "html_url": "https://github.com/gridhead/test-repo/"
                                                      "pull/2",
                                          "head": {"ref": "flsk"}, "base": {"ref": "main"},
                                          "requested_reviewers": []}},
        "misc": {},
    }
    for event, extra in events.items():
        headers = {"x-github-event": event, "x-github-delivery": "6f0b2a1e",
                   "x-github-hook-installation-target-id": "826014963",
                   "x-github-hook-installation-target-type": "repository",
                   "x-hub-signature": "sha1=0", "x-hub-signature-256": "sha256=0"}
        payload = dict(extra, repository=repo, sender=sender)
        yield line(PREFIX + "github." + event, wrap(payload, headers), "github.v1",
                   SRC + "github/results/" + event + ".py",
                   f"{AGENT} created {event} on gridhead/test-repo", [AGENT], agent=AGENT)
    # test_repo_name_none: no " on REPO"
    payload = dict(events["push"], repository=dict(repo, full_name=None), sender=sender)
    headers = {"x-github-event": "push", "x-github-delivery": "6f0b2a1e",
               "x-github-hook-installation-target-type": "repository"}
    yield line(PREFIX + "github.push", wrap(payload, headers), "github.v1",
               SRC + "github/test_github.py", f"{AGENT} created push", [AGENT], agent=AGENT)


def gitlab():
    project = {"name": "w2fm-test", "web_url": "https://gitlab.com/sdglitched/w2fm-test"}
    repo = {"name": "w2fm-test", "homepage": "https://gitlab.com/sdglitched/w2fm-test"}
    user = {"username": "sdglitched", "name": "Shounak Dey"}
    mr_url = "https://gitlab.com/sdglitched/w2fm-test/-/merge_requests/1"
    events = [
        ("Push Hook", "push", {"object_kind": "push", "user_username": "sdglitched",
                               "ref": "refs/heads/main", "commits": []}),
        ("Merge Request Hook", "merge_request",
         {"object_kind": "merge_request", "user": user,
          "object_attributes": {"title": "Test merge request", "url": mr_url,
                                "action": "open", "source_branch": "test-branch",
                                "target_branch": "main"}}),
        ("Issue Hook", "issue",
         {"object_kind": "issue", "user": user,
          "object_attributes": {"title": "Test issue", "action": "open",
                                "url": "https://gitlab.com/sdglitched/w2fm-test/-/issues/1"}}),
        ("Note Hook", "note",
         {"object_kind": "note", "user": user, "merge_request": {"title": "Test merge request"},
          "object_attributes": {"note": "Test comment", "noteable_type": "MergeRequest",
                                "url": mr_url + "#note_2"}}),
        ("Pipeline Hook", "pipeline", {"object_kind": "pipeline", "user": user}),
    ]
    for header, event, extra in events:
        headers = {"x-gitlab-event": header, "x-gitlab-webhook-uuid": "3c5d0e8a",
                   "x-gitlab-event-uuid": "9b1f4c2d"}
        payload = dict(extra, project=project, repository=repo)
        yield line(PREFIX + "gitlab." + event, wrap(payload, headers), "gitlab.v1",
                   SRC + "gitlab/test_gitlab.py",
                   f"{AGENT} created {event} on w2fm-test", [AGENT], agent=AGENT)


def forgejo():
    repo = {"id": 29466, "name": "w2fm-test", "full_name": "fedora/w2fm-test",
            "html_url": "https://codeberg.org/fedora/w2fm-test"}
    sender = {"login": "gridhead"}
    issue = {"number": 3, "title": "Test issue", "user": {"login": "gridhead"}, "labels": [],
             "html_url": "https://codeberg.org/fedora/w2fm-test/issues/3"}
    run = {"status": "success", "trigger_user": {"login": "gridhead"},
           "html_url": "https://codeberg.org/fedora/w2fm-test/actions/runs/4"}
    events = {
        "push": {"ref": "refs/heads/pull", "pusher": {"login": "gridhead"},
                 "compare_url": "https://codeberg.org/fedora/w2fm-test/compare/2b7e...1c5c",
                 "commits": []},
        **issue_events(issue, "https://codeberg.org/fedora/w2fm-test/issues/3#issuecomment-5"),
        "pull_request": {"action": "opened", "number": 4,
                         "pull_request": {"title": "Test PR",
                                          "html_url": "https://codeberg.org/fedora/w2fm-test/"
                                                      "pulls/4"}},
        "action_run_success": {"run": run},
        "action_run_failure": {"run": dict(run, status="failure")},
    }
    for event, extra in events.items():
        headers = {"x-forgejo-event": event, "x-forgejo-delivery": "a1b2c3d4"}
        payload = dict(extra, repository=repo, sender=sender)
        yield line(PREFIX + "forgejo." + event, wrap(payload, headers), "forgejo.v1",
                   SRC + "forgejo/results/" + event + ".py",
                   f"{AGENT} created {event} on fedora/w2fm-test", [AGENT], agent=AGENT)


def pretix():
    """tests/test_pretix/test_pretix.py's cases: the relay adds instance_url
    and the attendee's name, and the attendee's Fedora account as agent
    when it finds one; the topic is the body's action."""
    src = SRC + "pretix/test_pretix.py"
    base = {"notification_id": 10514, "organizer": "community", "event": "flock-2026",
            "code": "YTSDG", "action": "pretix.event.checkin", "orderposition_id": 905,
            "orderposition_positionid": 1, "checkin_list": 15, "first_checkin": None}
    cases = [("entry", "Test User", "https://example.com", None,
              "Test User entered flock-2026 on Pretix"),
             ("entry", "Test User", "https://example.com", "testuser",
              "Test User (testuser) entered flock-2026 on Pretix"),
             ("entry", None, "https://example.com", None, "A user entered flock-2026 on Pretix"),
             ("exit", None, "https://example.com", None, "A user exited flock-2026 on Pretix"),
             ("entry", None, "https://rsvp.fedoraproject.org", None,
              "A user entered flock-2026 on Fedora ticket system"),
             ("entry", None, "https://rsvp.stg.fedoraproject.org", None,
              "A user entered flock-2026 on Fedora ticket system (staging)")]
    for kind, name, instance, agent, title in cases:
        payload = dict(base, type=kind, attendee_name=name, instance_url=instance)
        yield line(PREFIX + "pretix.event.checkin",
                   {"body": payload, "headers": {}, "agent": agent}, "pretix.v1", src, title,
                   [agent] if agent else (), agent=agent)
    # test_pretix_unknown_action
    payload = {k: base[k] for k in ("notification_id", "organizer", "event", "code")}
    payload.update(action="pretix.event.dummy", attendee_name=None,
                   instance_url="https://example.com")
    yield line(PREFIX + "pretix.event.dummy", {"body": payload, "headers": {}, "agent": None},
               "pretix.v1", src, "A user caused event.dummy in flock-2026 on Pretix")


def messages():
    """Webhook2FedMsgBase: agent_name = body["agent"], usernames = [agent];
    no packages, no url. Summaries: "AGENT created EVENT on REPO", EVENT
    being the x-github-event / x-forgejo-event header, or x-gitlab-event
    without " Hook", spaces as "_", lowercased (GitLab: the topic's last
    word too); REPO the repository's full_name (GitLab: its name), and no
    " on REPO" when that is null. Topics: github.EVENT, gitlab.EVENT,
    forgejo.EVENT (webhook-to-fedora-messaging endpoints/parser/*.py)."""
    yield from github()
    yield from gitlab()
    yield from forgejo()
    yield from pretix()
