"""The preview refuses to start outside local use: non-loopback, production, real Meta."""
from __future__ import annotations

import pytest

from preview import cli
from preview.guard import PreviewRefused, check_environment, check_host, is_loopback_host

LOCAL = {"BLAUPAUSE_ENV": "local", "WHATSAPP_API_BASE_URL": "http://127.0.0.1:8765", "WHATSAPP_APP_SECRET": "s"}
WEBHOOK = "http://127.0.0.1:5005/webhooks/whatsapp/webhook"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_hosts_are_allowed(host):
    check_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org", ""])
def test_a_non_loopback_host_is_refused(host):
    assert not is_loopback_host(host)
    with pytest.raises(PreviewRefused, match="loopback"):
        check_host(host)


def test_a_local_setup_passes():
    check_environment(LOCAL, webhook_url=WEBHOOK, access_token="0123abcd")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}, "not a loopback URL"),
        ({"WHATSAPP_API_BASE_URL": ""}, "unset"),
        ({"BLAUPAUSE_ENV": "production"}, "BLAUPAUSE_ENV=local"),
        ({"BLAUPAUSE_ENV": ""}, "BLAUPAUSE_ENV=local"),
    ],
)
def test_production_or_real_meta_settings_are_refused(change, match):
    with pytest.raises(PreviewRefused, match=match):
        check_environment({**LOCAL, **change}, webhook_url=WEBHOOK)


def test_a_remote_webhook_or_a_meta_token_is_refused():
    with pytest.raises(PreviewRefused, match="webhook URL"):
        check_environment(LOCAL, webhook_url="https://bot.example.org/webhooks/whatsapp/webhook")
    with pytest.raises(PreviewRefused, match="real Meta token"):
        check_environment(LOCAL, webhook_url=WEBHOOK, access_token="EAAGm0PX4ZCpsBAFAKE")


@pytest.mark.parametrize(
    ("argv", "change"),
    [
        (["--host", "0.0.0.0"], {}),
        ([], {"WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}),
        ([], {"BLAUPAUSE_ENV": "production"}),
    ],
)
def test_the_cli_exits_2_with_a_clear_message(argv, change, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv, {**LOCAL, **change})

    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("preview: refusing to start:") and "graph.facebook.com" not in error
