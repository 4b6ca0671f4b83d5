"""The console's guard: which Host headers it answers, and when a state-changing request is refused."""

from __future__ import annotations

from emulator.config import Settings
from emulator.console.security import Guard, served_names


def _guard(tmp_path, **kwargs) -> Guard:
    return Guard.for_settings(Settings(data_dir=tmp_path, port=4599, **kwargs))


def test_loopback_names_with_the_port_are_allowed(tmp_path):
    guard = _guard(tmp_path)
    for host in ("127.0.0.1:4599", "localhost:4599", "[::1]:4599", "LOCALHOST:4599"):
        assert guard.host_allowed(host), host


def test_other_hosts_and_ports_are_refused(tmp_path):
    guard = _guard(tmp_path)
    for host in ("evil.example:4599", "127.0.0.1:80", "127.0.0.1", "", None, "localhost.evil.example:4599",
                 "127.0.0.1:4599.evil.example", "127.0.0.2:4599"):
        assert not guard.host_allowed(host), host


def test_the_bind_address_and_configured_names_are_allowed(tmp_path):
    guard = _guard(tmp_path, host="192.0.2.10", console_hosts=("workshop.local",))
    assert guard.host_allowed("192.0.2.10:4599")
    assert guard.host_allowed("workshop.local:4599")
    assert not guard.host_allowed("192.0.2.11:4599")


def test_ipv6_bind_addresses_take_brackets(tmp_path):
    assert "[fd00::1]" in served_names(Settings(data_dir=tmp_path, host="fd00::1"))


def test_port_80_may_be_left_out(tmp_path):
    guard = Guard.for_settings(Settings(data_dir=tmp_path, port=80))
    assert guard.host_allowed("localhost") and guard.host_allowed("localhost:80")


def test_actions_need_the_token(tmp_path):
    guard = _guard(tmp_path)
    host = "127.0.0.1:4599"
    assert guard.refuse_action(host, None, None, guard.token) is None
    assert "token" in guard.refuse_action(host, None, None, None)
    assert "token" in guard.refuse_action(host, None, None, "")
    assert "token" in guard.refuse_action(host, None, None, guard.token + "x")


def test_actions_from_another_origin_are_refused_even_with_the_token(tmp_path):
    guard = _guard(tmp_path)
    host = "127.0.0.1:4599"
    assert guard.refuse_action(host, "http://127.0.0.1:4599", "same-origin", guard.token) is None
    assert "another site" in guard.refuse_action(host, "http://evil.example", None, guard.token)
    assert "another site" in guard.refuse_action(host, "null", None, guard.token)
    assert "another site" in guard.refuse_action(host, "http://localhost:4599", None, guard.token)
    assert "another site" in guard.refuse_action(host, None, "cross-site", guard.token)
    assert "another site" in guard.refuse_action(host, None, "same-site", guard.token)


def test_each_instance_has_its_own_token(tmp_path):
    assert _guard(tmp_path).token != _guard(tmp_path).token
    assert len(_guard(tmp_path).token) >= 40
