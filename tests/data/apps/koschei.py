# SPDX-License-Identifier: LGPL-2.1-or-later
"""koschei: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

WEB = "https://koschei.fedoraproject.org"
SRC = "fedora-infra/koschei-messages tests/test_%s.py"


def messages():
    """koschei_messages: the summaries of tests/test_package.py and
    test_collection.py (a package's summary names the collection by its
    short name, a collection's by its display name; a non-primary Koji
    instance is added in parentheses); packages = [name]; groups = the
    body's; url on koschei.fedoraproject.org; no users, no agent."""
    pkg = {"name": "rust-tokio", "new": "ok", "old": "failing", "collection": "f37",
           "collection_name": "Fedora 37", "groups": ["rust-sig"], "koji_instance": "primary"}
    link = f"{WEB}/package/rust-tokio?collection=f37"
    for new, old, instance, title in [
            ("ok", "ignored", "primary", "rust-tokio added to Koschei in f37"),
            ("failing", "ok", "primary", "rust-tokio's builds started to fail in f37"),
            ("ok", "failing", "primary", "rust-tokio's builds are back to normal in f37"),
            ("ignored", "failing", "primary", "rust-tokio became retired or ignored in f37"),
            ("unresolved", "ok", "primary", "rust-tokio's dependencies failed to resolve in f37"),
            ("ok", "failing", "staging",
             "rust-tokio's builds are back to normal in f37 (staging)")]:
        yield line(PREFIX + "koschei.package.state.change",
                   dict(pkg, new=new, old=old, koji_instance=instance),
                   "koschei.package.state.change", SRC % "package", title,
                   packages=["rust-tokio"], link=link, groups=["rust-sig"])
    coll = {"repo_id": "f37", "collection": "f37", "collection_name": "Fedora 37", "new": "ok",
            "old": "failing", "koji_instance": "primary"}
    for new, old, instance, title in [
            ("ok", "unknown", "primary", "Fedora 37 added to Koschei"),
            ("ok", "unresolved", "primary", "Fedora 37 buildroot was fixed"),
            ("unresolved", "ok", "primary", "Fedora 37 buildroot was broken"),
            ("ok", "failing", "staging", "Fedora 37 buildroot was fixed (staging)")]:
        yield line(PREFIX + "koschei.collection.state.change",
                   dict(coll, new=new, old=old, koji_instance=instance),
                   "koschei.collection.state.change", SRC % "collection", title,
                   link=f"{WEB}/collection/f37")
