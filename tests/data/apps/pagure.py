# SPDX-License-Identifier: LGPL-2.1-or-later
"""pagure (pagure.io) and dist-git's pagure (src.fedoraproject.org): see
make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

IO = "io.pagure.prod."
SRC = "Pagure/pagure-messages pagure_messages/tests/utils.py and the classes in pagure_messages/"


def user(name, fullname):
    return {"fullname": fullname, "name": name, "url_path": "user/" + name,
            "full_url": "http://localhost.localdomain/user/" + name}


PINGOU = user("pingou", "Pierre-YvesChibon")
KEVIN = user("kevin", "Kevin Fenzi")

# tests/utils.py PROJECT, FORK (its parent), ISSUE and PULL_REQUEST, trimmed
# of the fields no class reads (access lists, boards, milestones, comments'
# bodies, priorities, custom keys).
PROJECT = {"id": 8820, "name": "fedocal-messages", "namespace": "fedora-infra",
           "fullname": "fedora-infra/fedocal-messages", "url_path": "fedora-infra/fedocal-messages",
           "full_url": "http://localhost.localdomain/fedora-infra/fedocal-messages",
           "description": "Fedora-messaging schemas for fedocal", "parent": None,
           "date_created": "1602658714", "date_modified": "1602658714", "user": PINGOU,
           "tags": [], "close_status": [], "milestones": {}}
PAGURE = {"id": 10, "name": "pagure", "namespace": None, "fullname": "pagure", "url_path": "pagure",
          "full_url": "http://localhost.localdomain/pagure", "description": "A git centered forge",
          "parent": None, "date_created": "1431549490", "date_modified": "1590422384",
          "user": PINGOU, "tags": ["pagure", "fedmsg"], "close_status": ["Fixed"], "milestones": {}}
FORK = dict(PAGURE, id=8813, fullname="forks/jjames/pagure", url_path="fork/jjames/pagure",
            full_url="http://localhost.localdomain/fork/jjames/pagure", parent=PAGURE,
            user=user("jjames", "Jerry James"), tags=[])
ISSUE = {"id": 9311, "title": "aws: fedora-ci access to s3 bucket request",
         "full_url": "http://localhost.localdomain/test/issue/9311", "status": "Open",
         "content": "Good day.", "close_status": None, "date_created": "1599751343",
         "last_updated": "1602574891", "closed_at": "1602535496", "private": False,
         "user": user("astepano", "Andrei Stepanov"), "assignee": None, "closed_by": KEVIN,
         "tags": ["medium-gain", "medium-trouble", "ops"], "depends": [], "blocks": [],
         "milestone": None, "custom_fields": [], "related_prs": [],
         "comments": [{"id": 677658, "comment": "This is related to the previous ticket",
                       "user": user("astepano", "Andrei Stepanov")},
                      {"id": 677717, "comment": "**Metadata Update from @kevin**", "user": KEVIN}]}
PULL_REQUEST = {"id": 5014, "uid": "f763d8f1254440c782a7cde84ae5f422",
                "title": "Reverse out of order instructions for new repos",
                "full_url": "http://localhost.localdomain/pagure/pull-request/5014",
                "branch": "master", "branch_from": "master", "project": PAGURE, "repo_from": FORK,
                "remote_git": None, "date_created": "1602543367", "updated_on": "1602575128",
                "last_updated": "1602575128", "closed_at": "1602575128",
                "user": user("jjames", "Jerry James"), "assignee": None, "status": "Merged",
                "commit_start": "2e8db9ce332cae0747f6b38e414bb99634f9b662",
                "commit_stop": "2e8db9ce332cae0747f6b38e414bb99634f9b662", "closed_by": PINGOU,
                "initial_comment": "I just created a new project on pagure.io.",
                "cached_merge_status": "unknown", "threshold_reached": None, "tags": [],
                "comments": [{"id": 133903, "comment": "Good catch, thanks!", "user": PINGOU},
                             {"id": 133905, "comment": "Pull-Request has been merged by pingou",
                              "user": PINGOU}]}
FLAG = {"commit_hash": "2e8db9ce332cae0747f6b38e414bb99634f9b662", "username": "Zuul",
        "comment": "Jobs result is success", "status": "success",
        "url": "https://fedora.softwarefactory-project.io/zuul/buildset/1",
        "date_created": "1602575000", "date_updated": "1602575000", "user": PINGOU}
# A dist-git repository as src.fedoraproject.org sends it.
RPM = dict(PROJECT, id=3310, name="python-requests", namespace="rpms",
           fullname="rpms/python-requests", url_path="rpms/python-requests",
           full_url="https://src.fedoraproject.org/rpms/python-requests",
           description="The python-requests rpms")
AGENT = "dummy-user"


def project_messages():
    """ProjectMessage classes: usernames = [agent], url = project's full_url."""
    name = PROJECT["fullname"]
    yield ("project.forked", {"project": FORK},
           f'{AGENT} forked project "pagure" to forks/jjames/pagure', FORK["full_url"])
    group, user = {"new_group": "infra"}, {"new_user": "kevin"}
    for topic, extra, says in (
            ("new", {}, "created project"),
            ("edit", {"fields": ["description", "url"]},
             "edited the fields description, url of project"),
            ("deleted", {}, "deleted project"),
            ("group.added", dict(group, access="commit"),
             "added the group infra to the project \"{}\" at the commit level"),
            ("group.removed", dict(group, access="commit", removed_groups=["infra"]),
             "removed the group infra (with commit level)  from the project"),
            ("group.access.updated", dict(group, new_access="admin"),
             "updated the access of group infra to admin on the project"),
            ("tag.edited", {"old_tag": "easyfix", "new_tag": "easy"},
             "edited the tag easy on the project"),
            ("tag.removed", {"tags": ["easyfix", "infra"]},
             "removed the tag(s) easyfix, infra of project"),
            ("user.access.updated", dict(user, new_access="commit"),
             "updated the access of kevin to commit on the project"),
            ("user.added", dict(user, access="commit"), "added the kevin to the project"),
            ("user.removed", {"removed_user": "kevin"}, "removed the kevin from the project")):
        quoted = f'"{name}"'
        title = says.format(name) if "{}" in says else f"{says} {quoted}"
        yield ("project." + topic, dict({"project": PROJECT}, **extra), f"{AGENT} {title}",
               PROJECT["full_url"])


def issue_messages():
    """IssueMessage classes: usernames = agent, the issue's author and its
    assignee; url = the issue's full_url (comments: #comment-ID of the last
    one; drop: the project's issue list)."""
    url, name, n = ISSUE["full_url"], PROJECT["fullname"] + "#9311", ISSUE["title"]
    assigned = dict(ISSUE, assignee=KEVIN)
    yield ("issue.assigned.added", {"project": PROJECT, "issue": assigned},
           f"{AGENT} assigned issue {name} to kevin", url, ["kevin"])
    yield ("issue.assigned.reset", {"project": PROJECT, "issue": ISSUE},
           f"{AGENT} reset the assignee on issue {name}", url)
    yield ("issue.comment.added", {"project": PROJECT, "issue": ISSUE},
           f"{AGENT} commented on the issue {name}", url + "#comment-677717")
    yield ("issue.dependency.added", {"project": PROJECT, "issue": ISSUE, "added_dependency": 9300},
           f"{AGENT} set the issue {name} as depending on #9300", url)
    yield ("issue.dependency.removed", {"project": PROJECT, "issue": ISSUE,
                                        "removed_dependency": [9300, 9301]},
           f"{AGENT} removed the dependency on #9300, #9301 on the issue {name}", url)
    yield ("issue.drop", {"project": PROJECT, "issue": ISSUE},
           f"{AGENT} deleted issue {name}: {n}", PROJECT["full_url"] + "/issues")
    yield ("issue.edit", {"project": PROJECT, "issue": ISSUE, "fields": ["status", "close_status"]},
           f"{AGENT} edited fields status, close_status of issue {name}: {n}", url)
    yield ("issue.new", {"project": PROJECT, "issue": ISSUE},
           f"{AGENT} created issue {name}: {n}", url)
    yield ("issue.tag.added", {"project": PROJECT, "issue": ISSUE, "tags": ["ops", "medium-gain"]},
           f"{AGENT} tagged the issue {name} with: ops, medium-gain", url)
    yield ("issue.tag.removed", {"project": PROJECT, "issue": ISSUE, "tags": ["ops"]},
           f"{AGENT} removed tags ops from issue {name}", url)


def pull_request_messages():
    """PullRequestMessage classes: usernames = agent, the PR's author and
    its assignee; url = the PR's full_url (comments: #comment-ID of the
    last one)."""
    url, name = PULL_REQUEST["full_url"], "pagure#5014"
    pr = PULL_REQUEST
    assigned = dict(pr, assignee=user("foobar", "Foo bar"))
    yield ("pull-request.assigned.added", {"pullrequest": assigned, "project": PAGURE},
           f"{AGENT} assigned the pull-request {name} to foobar", url, ["foobar"])
    yield ("pull-request.closed", {"pullrequest": dict(pr, status="Closed"), "merged": False},
           f"{AGENT} closed without merging the pull-request {name}", url)
    yield ("pull-request.flag.added", {"pullrequest": pr, "flag": FLAG},
           f"Pull-request {name} was flagged as success by Zuul", url)
    yield ("pull-request.flag.updated", {"pullrequest": pr, "flag": FLAG},
           f"Zuul updated flag on pull-request {name} to success", url)
    yield ("pull-request.new", {"pullrequest": pr},
           f"{AGENT} opened a pull-request {name}: {pr['title']}", url)
    tagged = {"project": PAGURE, "tags": ["easyfix"]}
    # (topic, extra body fields, what the agent did, the link's fragment)
    for topic, extra, did, fragment in (
            ("assigned.added", {"project": PAGURE}, "assigned the pull-request {} to someone", ""),
            ("assigned.reset", {"project": PAGURE}, "reset the assignee of the pull-request", ""),
            ("closed", {"merged": True}, "merged the pull-request", ""),
            ("comment.added", {}, "commented on the pull-request", "#comment-133905"),
            ("comment.edited", {}, "edited comment on the pull-request", "#comment-133905"),
            ("initial_comment.edited", {"project": PAGURE},
             "has edited the description of the pull-request", ""),
            ("rebased", {}, "rebased the pull-request", ""),
            ("reopened", {}, "re-opened the pull-request", ""),
            ("tag.added", tagged, "tagged the pull-request {} with easyfix", ""),
            ("tag.removed", tagged, "un-tagged the pull-request {} with: easyfix", ""),
            ("updated", {}, "updated the pull-request", "")):
        title = did.format(name) if "{}" in did else f"{did} {name}"
        yield ("pull-request." + topic, dict({"pullrequest": pr}, **extra),
               f"{AGENT} {title}", url + fragment)


def git_body(repo, **kw):
    authors = [{"fullname": AGENT, "url_path": "user/" + AGENT, "name": AGENT, "email": None}]
    return dict({"repo": repo, "authors": authors}, **kw)


def git_messages(repo):
    """GitMessage classes: usernames = [agent], packages = [repo name] for
    the rpms namespace; url = https://pagure.io/URL_PATH/... (the class
    builds it on pagure.io whatever the instance: see messages())."""
    base = "https://pagure.io/" + repo["url_path"]
    name = repo["fullname"]
    push = dict(forced=False, old_commit="hash_commit_old", total_commits=42,
                start_commit="hash_commit_start", end_commit="hash_commit_stop")
    yield ("git.receive", git_body(repo, branch="develop", **push),
           f"{AGENT} pushed 42 commits on {name} (branch: develop)", base + "/tree/develop")
    yield ("git.receive", git_body(repo, branch="refs/heads/develop", **push),
           f"{AGENT} pushed 42 commits on {name} (branch: refs/heads/develop)",
           base + "/tree/develop")
    yield ("git.branch.creation", git_body(repo, branch="refs/heads/f40", rev="abc123"),
           f"{AGENT} created the branch refs/heads/f40 on {name}", base + "/tree/f40")
    yield ("git.branch.deletion", git_body(repo, branch="f38", rev="abc123"),
           f"{AGENT} deleted the branch f38 on {name}", base)
    yield ("git.tag.creation", git_body(repo, tag="v1.0", rev="abc123"),
           f"{AGENT} tagged the commit abc123 on {name} as v1.0", base + "/commits/v1.0")
    yield ("git.tag.deletion", git_body(repo, tag="v1.0", rev="abc123"),
           f"{AGENT} deleted the tag v1.0 of commit abc123 on {name}", base + "/releases")


def misc_messages():
    """misc_schema: commit flags (url the repo's full_url/c/HASH), group
    edits (url the group's full_url)."""
    url = PROJECT["full_url"] + "/c/" + FLAG["commit_hash"]
    name = PROJECT["fullname"]
    yield ("commit.flag.added", {"repo": PROJECT, "flag": FLAG},
           f"Commit {FLAG['commit_hash']} of project {name} was flagged as success by Zuul", url)
    yield ("commit.flag.updated", {"repo": PROJECT, "flag": FLAG},
           f"Zuul updated flag on commit {FLAG['commit_hash']} of project {name} to success", url)
    group = {"name": "infra", "display_name": "Infrastructure", "description": "Infra folks",
             "creator": PINGOU, "members": ["pingou", "kevin"], "date_created": "1602575000",
             "group_type": "user", "full_url": "http://localhost.localdomain/group/infra"}
    yield ("group.edit", {"group": group, "fields": ["display_name", "description"]},
           f"{AGENT} edited the fields display_name, description of the group infra",
           group["full_url"])


def messages():
    """Every class of pagure_messages (issue.comment.edited has none), on
    pagure.io (io.pagure.prod.pagure.*); a few again on dist-git
    (org.fedoraproject.prod.pagure.*), where the repository's rpms namespace
    gives the package. The classes' get_base_url() is pagure.io for any
    topic, so for dist-git's git.* messages their url names the wrong forge:
    herald links src.fedoraproject.org there, and those links are left out."""
    def emit(prefix, kind, topic, body, title, link, more_users=(), packages=(), dist_git=False):
        users = [AGENT, *more_users]
        obj = body.get("issue") or body.get("pullrequest")
        if obj:
            users.append(obj["user"]["name"])
        return line(prefix + "pagure." + topic, dict({"agent": AGENT}, **body), "pagure." + topic,
                    SRC, title, users, packages, agent=AGENT,
                    link=None if dist_git and kind == "git" else link)

    for kind, gen in (("project", project_messages), ("issue", issue_messages),
                      ("pr", pull_request_messages), ("git", lambda: git_messages(PROJECT)),
                      ("misc", misc_messages)):
        for topic, body, title, link, *more in gen():
            yield emit(IO, kind, topic, body, title, link, *more)
    for topic, body, title, link in git_messages(RPM):
        yield emit(PREFIX, "git", topic, body, title, link, packages=["python-requests"],
                   dist_git=True)
    pr = dict(PULL_REQUEST, project=RPM, full_url=RPM["full_url"] + "/pull-request/12", id=12)
    yield emit(PREFIX, "pr", "pull-request.new", {"pullrequest": pr},
               f"{AGENT} opened a pull-request rpms/python-requests#12: {pr['title']}",
               pr["full_url"])
    yield line(IO + "pagure.Test.notification", {"content": "Test notification"},
               "pagure.Test.notification", SRC, "Test notification", link="https://pagure.io")
