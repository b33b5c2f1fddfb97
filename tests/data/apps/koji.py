# SPDX-License-Identifier: LGPL-2.1-or-later
"""koji: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/koji-fedoramessaging-messages tests/test_%s.py"
STATES = ["BUILDING", "COMPLETE", "DELETED", "FAILED", "CANCELED"]


CLASSES = {"build.state.change": "build.BuildStateChangeV1", "tag": "tag.TagV1",
           "untag": "tag.UntagV1", "task.state.change": "task.TaskStateChangeV1",
           "rpm.sign": "rpm.SignV1", "package.list.change": "package.ListChangeV1",
           "repo.done": "repo.DoneV1", "repo.init": "repo.InitV1"}


def _koji(topic, body, title, test, usernames=(), packages=(), agent=None, link=None):
    obj = line(PREFIX + "buildsys." + topic, body, "koji_fedoramessaging." + CLASSES[topic],
               SRC % test, title, usernames, packages, agent=agent, link=link)
    if title is None:
        # The repo classes define no summary: fedora-messaging's default is "".
        del obj["expected"]["title"]
    return obj


def _builds():
    """BuildStateChangeV1: 'Build STATE: OWNER's N-V-R'; agent and usernames
    the owner; packages [name]; url is body["url"] (koji-web)."""
    body = {"build_id": 1478312, "old": 0, "name": "chromium", "task_id": None, "task": None,
            "attribute": "state",
            "request": ["git+https://src.fedoraproject.org/rpms/chromium.git#"
                        "5f8f367e482fe8e30711aea49bf2ecfd163d278f", "rawhide", {}],
            "instance": "primary", "epoch": None, "version": "80.0.3987.132", "owner": "spot",
            "new": 1, "release": "1.fc33", "creation_time": "2023-06-09T07:16:27.818161+00:00",
            "completion_time": "2023-06-09T07:35:14.682273+00:00",
            "url": "https://koji.fedoraproject.org/koji/buildinfo?taskID=1478312"}
    for old, new in ((0, 1), (None, 0), (0, 3), (0, 4)):
        b = dict(body, old=old, new=new)
        yield _koji("build.state.change", b,
                    f"Build {STATES[new]}: spot's chromium-80.0.3987.132-1.fc33", "build",
                    ["spot"], ["chromium"], agent="spot", link=b["url"])


def _tags():
    """TagV1/UntagV1: 'N-V-R was tagged into TAG by USER'; agent the user;
    usernames user and owner; packages [name]; no url."""
    for topic, verb, body in [
            ("tag", "tagged into", {"build_id": 1457909, "name": "http-parser", "tag_id": 6446,
                                    "instance": "primary", "tag": "f31-updates-pending",
                                    "user": "bodhi", "version": "2.9.3", "owner": "sgallagh",
                                    "release": "1.fc31"}),
            ("untag", "untagged from", {"build_id": 1478431, "name": "python-twisted",
                                        "tag_id": 10321, "instance": "primary",
                                        "tag": "epel8-signing-pending", "user": "autopen",
                                        "version": "19.10.0", "owner": "eclipseo",
                                        "release": "2.el8"})]:
        nvr = "{name}-{version}-{release}".format(**body)
        yield _koji(topic, body, f"{nvr} was {verb} {body['tag']} by {body['user']}", "tag",
                    [body["user"], body["owner"]], [body["name"]], agent=body["user"])


def _task():
    """TaskStateChangeV1: 'Task NEW -- METHOD (SRPM ARCH)'; agent the owner;
    url info.url; no packages (the base class's []). Sub-tasks trimmed."""
    info = {"parent": None, "completion_time": 1584475720.0, "start_time": 1584475492.0,
            "request": ["../packages/libfreehand/0.1.2/6.fc32/src/libfreehand-0.1.2-6.fc32.src.rpm",
                        "f33", {"scratch": True, "arch_override": "ppc64le x86_64 aarch64"}],
            "waiting": False, "awaited": None, "id": 42569071, "priority": 50, "channel_id": 1,
            "state": 2, "create_time": 1584475491.0, "owner": 3199, "host_id": 303,
            "host_name": "buildvm-armv7-16.arm.fedoraproject.org", "method": "build",
            "label": None, "arch": "noarch",
            "url": "https://koji.stg.fedoraproject.org/koji/taskinfo?taskID=42569071",
            "result": None, "children": []}
    body = {"info": info, "old": "OPEN", "attribute": "state", "id": 42569071,
            "instance": "primary", "owner": "koschei", "new": "CLOSED",
            "srpm": "libfreehand-0.1.2-6.fc32.src.rpm", "method": "build",
            "base_url": "https://koji.stg.fedoraproject.org",
            "files_base_url": "http://files.example.com/work"}
    for old, new in (("OPEN", "CLOSED"), ("FREE", "OPEN"), ("OPEN", "FAILED")):
        yield _koji("task.state.change", dict(body, old=old, new=new),
                    f"Task {new} -- build (libfreehand-0.1.2-6.fc32.src.rpm noarch)", "task",
                    ["koschei"], agent="koschei", link=info["url"])


def _others():
    """rpm.sign (the summary names the signed RPM, packages the build's
    package), package.list.change and the repo messages (no summary)."""
    rpm = {"build_id": 1478177, "name": "wine-opencl-debuginfo", "extra": None, "arch": "aarch64",
           "buildtime": 1584471339, "id": 20905366, "epoch": None, "version": "5.4",
           "metadata_only": False, "external_repo_id": 0, "release": "1.fc32", "size": 39178,
           "buildroot_id": 19890121, "external_repo_name": "INTERNAL",
           "payloadhash": "61affc5b3f9600cd0ade2126779abf62"}
    build = {"cg_id": None, "package_name": "wine", "creation_time": 1584471219.0,
             "completion_time": 1584473659.0, "package_id": 4106, "cg_name": None,
             "id": 1478177, "build_id": 1478177, "epoch": None,
             "source": "git+https://src.fedoraproject.org/rpms/wine.git"
                       "#f83582e8bcf2cbd1eaf693356cfc24731ab85e3f",
             "state": 1, "version": "5.4", "owner_id": 895, "owner_name": "mooninite",
             "nvr": "wine-5.4-1.fc32", "start_time": 1584471219.0, "creation_event_id": 53216169,
             "volume_id": 0, "creation_ts": 1584471219.82997, "name": "wine",
             "task_id": 42567650, "volume_name": "DEFAULT", "release": "1.fc32"}
    sign = {"instance": "primary", "sigkey": "12c944d0", "rpm": rpm,
            "sighash": "a1957f36d34d29c105f16aae79b19e85"}
    title = "rpm wine-opencl-debuginfo-5.4-1.fc32 was signed"
    yield _koji("rpm.sign", dict(sign, build=build), title, "rpm", ["mooninite"], ["wine"],
                agent="mooninite")
    yield _koji("rpm.sign", sign, title, "rpm")
    yield _koji("package.list.change",
                {"force": True, "instance": "primary", "extra_arches": "",
                 "package": "rust-dua-cli", "update": False, "owner": "releng",
                 "tag": "f31-build-side-20267", "action": "add", "block": False},
                "Package list change for rust-dua-cli:  f31-build-side-20267", "package",
                ["releng"], ["rust-dua-cli"], agent="releng")
    yield _koji("package.list.change",
                {"force": None, "instance": "primary", "extra_arches": None,
                 "package": "rust-ripgrep", "update": None, "owner": None, "tag": "f31",
                 "action": "unblock", "block": None},
                "Package list change for rust-ripgrep:  f31", "package", (), ["rust-ripgrep"])
    yield _koji("repo.done", {"instance": "primary", "repo_id": 1409150,
                              "tag": "module-jmc-latest-3220200311144307-089fddd9-build",
                              "tag_id": 20164}, None, "repo")
    yield _koji("repo.init", {"instance": "primary", "repo_id": 1410901, "tag": "f33-build",
                              "tag_id": 18677}, None, "repo")


def messages():
    """koji_fedoramessaging_messages: agent_name = the owner (the tagging
    user for tag/untag, build.owner_name for rpm.sign), usernames = [agent]
    (and the owner for tag/untag), packages = the build's name."""
    yield from _builds()
    yield from _tags()
    yield from _task()
    yield from _others()
