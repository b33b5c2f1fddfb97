# SPDX-License-Identifier: LGPL-2.1-or-later
"""mdapi: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "mdapi-messages mdapi_messages/tests/test_messages.py"


def messages():
    """mdapi_messages.messages.RepoUpdateV1: summary 'MDAPI updated repo
    NAME with new details for N packages'. Its base class was not
    available, so only the title is compared. The first is the tests'
    DUMMY_UPDATE with its asserted summary; the others vary the repository
    and the packages."""
    cases = [("rawhide", ["kernel", "inkscape"]),
             ("f41-updates", ["python-requests"]),
             ("f42-updates-testing", ["firefox", "thunderbird", "nss"]),
             ("epel9", ["htop", "ncdu", "tmux", "fish"]),
             ("rawhide-source", ["kernel"])]
    for name, packages in cases:
        yield line(PREFIX + "mdapi.repo.update", {"name": name, "packages": packages},
                   "mdapi.repo.update.v1", SRC,
                   f"MDAPI updated repo {name} with new details for {len(packages)} packages")
