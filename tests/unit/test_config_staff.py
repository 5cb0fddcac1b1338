"""[staff] and [workflow]: what mailer check says about them."""

from __future__ import annotations

from pathlib import Path

from mailer.config.load import check_settings
from tests.unit.test_config import config_text, write


def problems(tmp_path: Path, extra: str) -> list[str]:
    _, found = check_settings(write(tmp_path, config_text(extra=extra)))
    return [str(p) for p in found]


def test_staff_without_authserv_id_warns_that_from_can_be_forged(tmp_path: Path) -> None:
    found = problems(tmp_path, '[staff]\naddresses = ["staff@example.test"]\ndomains = []\n')
    assert any("warning: [staff] addresses" in p and "forge" in p for p in found)


def test_staff_with_authserv_id_is_quiet_and_lower_cased(tmp_path: Path) -> None:
    extra = '[staff]\naddresses = ["Staff@Example.test"]\nauthserv_id = "MX.example.test"\n'
    settings, found = check_settings(write(tmp_path, config_text(extra=extra)))
    assert settings is not None and not [p for p in found if "[staff]" in str(p)]
    assert settings.staff.addresses == ("staff@example.test",)
    assert settings.staff.authserv_id == "mx.example.test"


def test_staff_keys_are_checked(tmp_path: Path) -> None:
    extra = '[staff]\naddresses = ["not an address"]\nauthserv_id = "a b"\nadmins = []\n'
    found = problems(tmp_path, extra)
    assert any("[staff] addresses: item 1" in p for p in found)
    assert any("[staff] authserv_id" in p for p in found)
    assert any("[staff] admins: unknown key" in p for p in found)


def test_keyword_mistakes_are_reported_on_the_line_written(tmp_path: Path) -> None:
    extra = (
        "[workflow]\nreopen_days = 7\n[workflow.keywords]\n"
        'resolved = ["#resolved", "#take"]\ninternal = ["#interno", "#interno"]\n'
        'waiting = ["#12"]\nbogus = ["#x"]\n'
    )
    found = problems(tmp_path, extra)
    assert any("resolved: '#take' is also a keyword of take" in p for p in found)
    assert any("internal: '#interno' is twice in this list" in p for p in found)
    assert any('waiting: item 1: expected a keyword like "#resolved"' in p for p in found)
    assert any("bogus: unknown key" in p for p in found)


def test_workflow_settings_are_read(tmp_path: Path) -> None:
    extra = (
        '[workflow]\nreopen_days = 30\nforward_attachments = true\nstatus_headers = ["Stato"]\n'
        '[workflow.keywords]\nresolved = ["#done", "#fatto"]\n'
    )
    settings, _ = check_settings(write(tmp_path, config_text(extra=extra)))
    assert settings is not None
    workflow = settings.workflow
    assert (workflow.reopen_days, workflow.forward_attachments) == (30, True)
    assert workflow.status_headers == ("Stato",)
    assert dict(workflow.keywords)["resolved"] == ("#done", "#fatto")
    assert dict(workflow.keywords)["take"] == ("#take", "#prendo")


def test_store_defaults_to_systemds_state_directory(tmp_path: Path) -> None:
    text = config_text(store="").replace("[store]\n", "")
    settings, _ = check_settings(
        write(tmp_path, text), environ={"STATE_DIRECTORY": "/var/lib/mailer"}
    )
    assert settings is not None
    assert settings.store.path == Path("/var/lib/mailer/mailer.sqlite3")
    _, found = check_settings(write(tmp_path, text), environ={})
    assert any("[store]" in str(p) or "store" in str(p) for p in found)


def test_retention_days_is_read(tmp_path: Path) -> None:
    store = 'path = "mailer.sqlite3"\nretention_days = 365\n'
    settings, _ = check_settings(write(tmp_path, config_text(store=store)))
    assert settings is not None and settings.store.retention_days == 365


def test_metrics_listen_is_checked(tmp_path: Path) -> None:
    settings, _ = check_settings(
        write(tmp_path, config_text(extra='[metrics]\nlisten = "127.0.0.1:9101"\n'))
    )
    assert settings is not None and settings.metrics.listen == "127.0.0.1:9101"
    _, found = check_settings(write(tmp_path, config_text(extra='[metrics]\nlisten = "9101"\n')))
    assert any("[metrics] listen" in str(p) for p in found)
