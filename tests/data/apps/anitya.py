# SPDX-License-Identifier: LGPL-2.1-or-later
"""anitya: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401


def messages():
    """anitya_schema ProjectMapCreated: summary names the project; the class
    defines no usernames, packages, agent_name or url."""
    src = "fedora-infra/anitya anitya_schema/anitya_schema/tests/fixtures/" \
          "org.release-monitoring.prod.anitya.project.map.new.json"
    fixtures = [("praiskup", "pg-semver", "pg-semver", "GitHub", 18163),
                ("qulogic", "R-gdtools", "gdtools", "CRAN (R)", 18070),
                ("qulogic", "R-gdata", "gdata", "CRAN (R)", 18069),
                ("qulogic", "R-gamlss.dist", "gamlss.dist", "CRAN (R)", 18068),
                ("qulogic", "R-future", "future", "CRAN (R)", 18067)]
    for agent, new, proj, backend, pid in fixtures:
        body = {"distro": {"name": "Fedora"},
                "message": {"agent": agent, "distro": "Fedora", "new": new, "project": proj},
                "project": {"backend": backend, "id": pid, "name": proj, "regex": None,
                            "version": None, "version_url": None, "versions": []}}
        yield line("org.release-monitoring.prod.anitya.project.map.new", body,
                   "anitya.project.map.new", src,
                   f"A new mapping was created for project {proj} in release-monitoring.")
