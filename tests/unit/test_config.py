from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from titan.config import (
    Secret, TitanConfig, credentials_from_env, load_config, missing_credentials, parse_config,
    policy_hash,
)
from titan.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid_and_equals_defaults_policy():
    cfg = load_config(ROOT / "config.toml")
    assert policy_hash(cfg) == policy_hash(TitanConfig())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[brain]\nmax_total_leverage = 500\n", "x.toml: $.brain.max_total_leverage: expected <= 125, got 500"),
        ("[brain]\nbogus = 1\n", "x.toml: $.brain.bogus: unknown field"),
        ("[phases.hunter]\nleverage = 2\nleverage_min = 3\n", "x.toml: $.phases.hunter.leverage: expected >= leverage_min (3), got 2"),
        ("[titan]\nmode = \"yolo\"\n", "x.toml: $.titan.mode: expected one of"),
        ("[brain\n", "x.toml: invalid TOML"),
    ],
)
def test_errors_are_one_line_with_file_and_path(text, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="x.toml")
    msg = str(info.value)
    assert msg.startswith(expected) and "\n" not in msg


def test_secret_in_file_points_to_environment():
    with pytest.raises(ConfigError, match="TITAN_BYBIT_API_KEY"):
        parse_config('[venues.bybit]\napi_secret = "x"\n')


def test_partial_phase_section_keeps_phase_defaults():
    cfg = parse_config("[phases.hunter]\nleverage = 4\n")
    assert cfg.phases.hunter.equity_min == 2500 and cfg.phases.hunter.leverage == 4


def test_precedence_brain_caps_beat_phase_and_strategy():
    cfg = parse_config(
        "[brain]\nmax_total_leverage = 10\n"
        "[[strategies]]\npath = \"s.py:S\"\nphase = \"scavenger\"\nleverage = 50\nmax_position_pct = 0.9\n"
    )
    assert cfg.phase_limits("scavenger").leverage == 10
    lim = cfg.strategy_limits(cfg.strategies[0])
    assert lim.leverage == 10 and lim.max_position_pct == 0.5
    loose = parse_config("[[strategies]]\npath = \"s.py:S\"\nphase = \"hunter\"\nleverage = 2\n")
    assert loose.strategy_limits(loose.strategies[0]).leverage == 2


def test_policy_hash_changes_with_risk_numbers_only():
    base = policy_hash(TitanConfig())
    assert policy_hash(parse_config("[brain]\nmax_total_leverage = 49\n")) != base
    assert policy_hash(parse_config("[operator]\nport = 9999\n")) == base


def test_secrets_from_env_never_print():
    env = {"TITAN_BYBIT_API_KEY": "key-123456", "TITAN_BYBIT_API_SECRET": "sec-abcdef"}
    creds = credentials_from_env("bybit", env)
    assert creds is not None and creds.secret.reveal() == "sec-abcdef"
    for text in (repr(creds), str(creds.secret), f"{creds.api_key}", repr(creds.api_key)):
        assert "sec-abcdef" not in text and "key-123456" not in text
    assert missing_credentials("binance", env) == ["TITAN_BINANCE_API_KEY", "TITAN_BINANCE_API_SECRET"]
    assert credentials_from_env("binance", env) is None
    with pytest.raises(TypeError):
        __import__("pickle").dumps(Secret("x"))


def test_config_roundtrip_through_builtins():
    cfg = load_config(ROOT / "config.toml")
    again = msgspec.convert(msgspec.to_builtins(cfg), TitanConfig)
    assert again == cfg


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "titan", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_check_bad_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text("[brain]\nmax_total_leverage = 500\n")
    out = run_cli("check", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("$.brain.max_total_leverage: expected <= 125, got 500")
    unknown = tmp_path / "u.toml"
    unknown.write_text("[brain]\nfoo = 1\n")
    out = run_cli("check", str(unknown))
    assert out.returncode == 2 and "$.brain.foo: unknown field" in out.stderr


def test_cli_check_good_file_prints_hash_and_schema():
    out = run_cli("check", str(ROOT / "config.toml"))
    assert out.returncode == 0
    assert f"policy hash: {policy_hash(load_config(ROOT / 'config.toml'))}" in out.stdout
    schema = run_cli("check", "--schema")
    assert schema.returncode == 0 and '"TitanConfig"' in schema.stdout


def test_cli_version_and_bad_argument():
    assert run_cli("--version").stdout.startswith("titan ")
    out = run_cli("check", "--no-such-flag")
    assert out.returncode == 2
