# SPDX-License-Identifier: LGPL-2.1-or-later
"""elections (fedora_elections): see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora_elections_messages (PyPI fedora-elections-messages) base.py, election_new.py, " \
      "candidate_new.py, candidate_delete.py (classes); bodies follow ELECTION_SCHEMA and " \
      "CANDIDATE_SCHEMA"


def election(alias, shortdesc):
    return {"shortdesc": shortdesc, "alias": alias, "description": shortdesc + ", the vote",
            "url": f"https://fedoraproject.org/wiki/Elections#{alias}",
            "start_date": "2024-05-20 00:00:00", "end_date": "2024-05-31 23:59:59",
            "embargoed": 1, "voting_type": "range"}


def candidate(topic, verb, agent, elec, name, fas=None):
    """CandidateMessage: usernames sorted [agent, candidate.fas_name if any];
    url is election.url; the class names no agent_name (only .agent)."""
    cand = {"name": name, "url": f"https://fedoraproject.org/wiki/User:{fas or 'x'}"}
    who = f" ({fas})" if fas else ""
    users = [agent]
    if fas:
        cand["fas_name"] = fas
        users.append(fas)
    return line(PREFIX + "fedora_elections.candidate." + topic,
                {"agent": agent, "election": elec, "candidate": cand},
                "fedora_elections.candidate." + topic, SRC,
                f'{agent} {verb} candidate "{name}"{who} for election '
                f'"{elec["shortdesc"]}" ({elec["alias"]})', users, link=elec["url"])


def messages():
    f40 = election("f40-fesco", "Fedora 40 FESCo elections")
    council = election("f40-council", "Fedora 40 Council elections")
    for elec in (f40, council):
        yield line(PREFIX + "fedora_elections.election.new", {"agent": "bcotton", "election": elec},
                   "fedora_elections.election.new", SRC,
                   f'bcotton created election "{elec["shortdesc"]}" ({elec["alias"]})',
                   ["bcotton"], link=elec["url"])
    yield candidate("new", "added", "bcotton", f40, "Kevin Fenzi", "kevin")
    yield candidate("new", "added", "bcotton", council, "Someone Without An Account")
    yield candidate("delete", "deleted", "jflory7", f40, "Zbigniew Jędrzejewski-Szmek", "zbyszek")
    yield candidate("delete", "deleted", "jflory7", council, "Write-in")
