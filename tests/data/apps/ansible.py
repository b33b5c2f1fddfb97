# SPDX-License-Identifier: LGPL-2.1-or-later
"""ansible (fedorainfra-ansible-messages' playbook classes): see
make_apps.py and tests/data/SOURCES.md. Its dist-git GitReceiveV1 is in
git.py, with the other git.receive formats."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/fedorainfra-ansible-messages fedorainfra_ansible_messages/tests/" \
      "test_ansible_messages.py"
RESULT = {"ignored": 0, "skipped": 0, "ok": 2, "rescued": 0, "changed": 2, "unreachable": 0,
          "failures": 0}


def start(userid, playbook, check=False):
    return {"playbook_checksum": "4b5eff15ef85a2424024fc963c25fde4809c1fa1", "extra_vars": {},
            "userid": userid, "playbook": playbook, "check": check,
            "inventory": ["/srv/web/infra/ansible/inventory"]}


def messages():
    """AnsiblePlaybookStartV1 / CompleteV1: summaries with the body's
    userid and playbook as given (today relative to the repository);
    agent_name = userid, usernames = [userid]; no url, no packages. The
    first two are the tests' DUMMY_ANSIBLE_START / _COMPLETE; the others
    vary the user, the playbook and the results."""
    ticketkey = "playbooks/update_ticketkey.yml"
    yield line(PREFIX + "ansible.playbook.start", start("dudemcpants", ticketkey),
               "ansible.playbook.start.v1", SRC,
               f"dudemcpants started an ansible run of {ticketkey}", ["dudemcpants"],
               agent="dudemcpants")
    yield line(PREFIX + "ansible.playbook.complete",
               {"userid": "dudemcpants", "playbook": ticketkey,
                "results": {"proxy30.fedoraproject.org": RESULT}},
               "ansible.playbook.complete.v1", SRC,
               f"dudemcpants's {ticketkey} playbook run completed", ["dudemcpants"],
               agent="dudemcpants")
    proxies = "playbooks/groups/proxies.yml"
    yield line(PREFIX + "ansible.playbook.start", start("kevin", proxies, check=True),
               "ansible.playbook.start.v1", SRC,
               f"kevin started an ansible run of {proxies}", ["kevin"], agent="kevin")
    yield line(PREFIX + "ansible.playbook.complete",
               {"userid": "kevin", "playbook": proxies,
                "results": {"proxy01.fedoraproject.org": dict(RESULT, failures=1),
                            "proxy30.fedoraproject.org": RESULT}},
               "ansible.playbook.complete.v1", SRC,
               f"kevin's {proxies} playbook run completed", ["kevin"], agent="kevin")
    manual = "playbooks/manual/update-packages.yml"
    yield line(PREFIX + "ansible.playbook.complete",
               {"userid": "zlopez", "playbook": manual, "results": {}},
               "ansible.playbook.complete.v1", SRC,
               f"zlopez's {manual} playbook run completed", ["zlopez"], agent="zlopez")
