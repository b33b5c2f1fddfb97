# SPDX-License-Identifier: LGPL-2.1-or-later
"""ipa (journal-to-fedora-messaging: ipa.*.v1): see make_apps.py and
tests/data/SOURCES.md."""
import json

from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-infra/journal-to-fedora-messaging-messages tests/test_ipa.py"


def journal(actor, command, params):
    """The journal entry IPA's audit log writes, trimmed to the fields the
    schema requires; IPA_API_PARAMS is JSON text, as IPA writes it (the
    class redacts the "mail" list out of it)."""
    text = json.dumps(params)
    return {"MESSAGE": f"[IPA.API] {actor}: {command}: SUCCESS [ldap2_140525848914048] {text}",
            "IPA_API_ACTOR": actor, "IPA_API_COMMAND": command, "IPA_API_PARAMS": text,
            "IPA_API_RESULT": "SUCCESS", "PRIORITY": "5", "SYSLOG_IDENTIFIER": "/mod_wsgi",
            "_HOSTNAME": "ipa.example.com", "_SYSTEMD_UNIT": "httpd.service",
            "__REALTIME_TIMESTAMP": "1742430579781629"}


def messages():
    """journal_to_fedora_messaging_messages.ipa: agent_name = IPA_API_ACTOR
    before "@"; user_add: 'AGENT created user "UID"', usernames [uid,
    agent]; group_add_member / group_remove_member: one user 'User "U" has
    been added to (removed from) group "G" by AGENT', several 'The following
    users were added to (removed from) group "G" by AGENT: U1, U2',
    usernames [agent, *users], groups [G]. No url, no packages. The first
    is the test's fixture; the group ones follow the code."""
    params = {"uid": "dummy", "givenname": "Dummy", "sn": "User", "cn": "Dummy User",
              "krbprincipalname": ["dummy@FEDORAPROJECT.ORG"], "fasstatusnote": "active",
              "all": True, "raw": False, "version": "2.253", "no_members": False}
    yield line(PREFIX + "ipa.user_add.v1", journal("noggin@FEDORAPROJECT.ORG", "user_add", params),
               "journal.ipa.user_add.v1", SRC, 'noggin created user "dummy"',
               ["dummy", "noggin"], agent="noggin")
    for command, verb in (("group_add_member", "added to"),
                          ("group_remove_member", "removed from")):
        topic = PREFIX + "ipa." + command + ".v1"
        for users in (["dummy"], ["dummy", "otheruser"]):
            body = journal("sponsor@FEDORAPROJECT.ORG", command,
                           {"cn": "packager", "all": False, "raw": False, "no_members": False,
                            "user": users, "version": "2.253"})
            if len(users) > 1:
                title = (f'The following users were {verb} group "packager" by sponsor: '
                         + ", ".join(users))
            else:
                title = f'User "{users[0]}" has been {verb} group "packager" by sponsor'
            yield line(topic, body, "journal.ipa." + command + ".v1",
                       SRC.replace("tests/test_ipa.py", "journal_to_fedora_messaging_messages/"
                                   "ipa.py"), title, ["sponsor", *users], agent="sponsor",
                       groups=["packager"])
