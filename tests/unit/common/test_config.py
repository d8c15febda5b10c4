"""Unit tests of pocketstack.common.config: the sectioned TOML file, the older flat file,
precedence default < file < environment < flag in every section, clear errors for a key in
the wrong section or an unknown one, and ``--help`` grouped by section."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from pocketstack import cli
from pocketstack.common.config import DEFAULT, OPTIONS, SECTIONS, Config

SAMPLE = Path(__file__).parents[3] / "docs" / "pocketstack.sample.toml"


@pytest.fixture(autouse=True)
def _isolate(monkeypatch):
    """``cli.main`` reads ``POCKETSTACK_*`` and sets the process umask: clear the first, give
    the tests after these their umask back."""
    for opt in OPTIONS:
        monkeypatch.delenv(opt.env, raising=False)
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


def _load(tmp_path: Path, text: str, flags=None, environ=None) -> Config:
    path = tmp_path / "pocketstack.toml"
    path.write_text(text)
    return Config.load(
        {"state_dir": str(tmp_path), "config": str(path), **(flags or {})}, environ or {}
    )


def test_every_option_has_a_known_section():
    for opt in OPTIONS:
        assert opt.section in SECTIONS, opt.name


def test_the_general_section_holds_only_general_options():
    """A new option names its service's section; [DEFAULT] is for what all of them share."""
    general = {o.name for o in OPTIONS if o.section == DEFAULT}
    shared = {"state_dir", "config", "hostname", "netns", "periodic_interval", "write_user_clouds"}
    assert general <= shared


def test_no_option_shadows_a_config_attribute():
    for opt in OPTIONS:
        assert opt.name not in vars(Config) and opt.name not in ("sources", "notices"), opt.name


def test_keys_are_unique_in_their_section():
    keys = [(o.section, o.key) for o in OPTIONS]
    assert len(keys) == len(set(keys))


def test_sectioned_file(tmp_path):
    conf = _load(
        tmp_path,
        """
        hostname = "node1"
        [api]
        port = 8774
        [compute]
        compute_driver = "fake"
        cpu_allocation_ratio = 2
        shutdown_instances = true
        [database]
        connection = "postgresql://ps@127.0.0.1/ps"
        [transport]
        url = "amqp://guest:guest@127.0.0.1:5672//"
        [identity]
        token_expiration = 600
        [image]
        image_upload_lease = 30
        [logging]
        log_level = "DEBUG"
        """,
    )
    assert (conf.hostname, conf.port, conf.compute_driver) == ("node1", 8774, "fake")
    assert conf.cpu_allocation_ratio == 2.0 and isinstance(conf.cpu_allocation_ratio, float)
    assert conf.shutdown_instances is True
    assert conf.database == "postgresql://ps@127.0.0.1/ps"
    assert conf.transport == "amqp://guest:guest@127.0.0.1:5672//"
    assert (conf.token_expiration, conf.image_upload_lease, conf.log_level) == (600, 30.0, "DEBUG")
    assert conf.public_url == "http://127.0.0.1:8774"
    assert conf.notices == ()
    assert conf.section("compute")["compute_driver"] == "fake"
    assert conf.section("api")["port"] == 8774
    assert "port" not in conf.section("compute")


def test_a_default_table_is_the_top_level(tmp_path):
    conf = _load(tmp_path, '[DEFAULT]\nhostname = "node2"\n[api]\nport = 1234\n')
    assert (conf.hostname, conf.port) == ("node2", 1234)


def test_the_older_flat_file_still_loads_with_a_notice(tmp_path):
    conf = _load(
        tmp_path,
        'port = 8774\ncompute_driver = "fake"\ndatabase = "sqlite:////x.db"\n'
        'transport = "memory://"\nhostname = "h"\n',
    )
    assert (conf.port, conf.compute_driver, conf.database) == (8774, "fake", "sqlite:////x.db")
    assert conf.hostname == "h"
    notices = "\n".join(conf.notices)
    assert len(conf.notices) == 4  # hostname is a top-level option: no notice
    assert "'port' at the top level is deprecated; write it as [api] port" in notices
    assert "[database] connection" in notices and "[transport] url" in notices
    assert str(tmp_path / "pocketstack.toml") in notices


def test_the_cli_prints_the_deprecation(tmp_path, capsys):
    (tmp_path / "pocketstack.toml").write_text("port = 8774\n")
    cli.main(["config", "show", "--state-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert "warning:" in err and "write it as [api] port" in err
    assert "port = 8774" in out


@pytest.mark.parametrize(
    ("option", "section", "key", "file_value", "env_value", "flag_value", "expect"),
    [
        ("port", "api", "port", "1001", "1002", "1003", (8780, 1001, 1002, 1003)),
        ("compute_driver", "compute", "compute_driver", '"f"', "e", "c", ("qemu", "f", "e", "c")),
        ("network_driver", "network", "network_driver", '"f"', "e", "c", ("noop", "f", "e", "c")),
        ("image_size_cap", "image", "image_size_cap", "1", "2", "3", (1 << 40, 1, 2, 3)),
        ("token_expiration", "identity", "token_expiration", "1", "2", "3", (3600, 1, 2, 3)),
        ("log_level", "logging", "log_level", '"A"', "B", "C", ("INFO", "A", "B", "C")),
        ("transport", "transport", "url", '"f://"', "e://", "c://", ("memory://", "f://", "e://", "c://")),
        ("database", "database", "connection", '"f://"', "e://", "c://", (None, "f://", "e://", "c://")),
        ("periodic_interval", DEFAULT, "periodic_interval", "1", "2", "3", (10.0, 1.0, 2.0, 3.0)),
    ],
)  # fmt: skip
def test_precedence_default_file_env_flag(
    tmp_path, option, section, key, file_value, env_value, flag_value, expect
):
    header = "" if section == DEFAULT else f"[{section}]\n"
    env = "POCKETSTACK_" + option.upper()
    default = Config.load({"state_dir": str(tmp_path)}, {})
    if expect[0] is not None:
        assert getattr(default, option) == expect[0]
    text = f"{header}{key} = {file_value}\n"
    conf = _load(tmp_path, text)
    assert getattr(conf, option) == expect[1]
    assert conf.sources[option] == str(tmp_path / "pocketstack.toml")
    conf = _load(tmp_path, text, environ={env: env_value})
    assert (getattr(conf, option), conf.sources[option]) == (expect[2], env)
    conf = _load(tmp_path, text, flags={option: flag_value}, environ={env: env_value})
    assert getattr(conf, option) == expect[3]
    assert conf.sources[option] == "--" + option.replace("_", "-")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[compute]\nport = 1\n", "'port' is not an option of [compute]; it belongs in [api] port"),
        ('[api]\ncompute_driver = "x"\n', "belongs in [compute] compute_driver"),
        ('[database]\ndatabase = "x"\n', "belongs in [database] connection"),
        ('[compute]\nhostname = "x"\n', "it belongs in hostname"),
        ("[api]\ncolour = 1\n", "unknown option 'colour' in [api]"),
        ("colour = 1\n", "unknown option 'colour' in the top level ([DEFAULT])"),
        ('connection = "x"\n', "'connection' is not an option of the top level"),
        ("[nosuch]\nsize = 1\n", "unknown section [nosuch]"),
        ("[compute.extra]\nx = 1\n", "unknown option 'extra' in [compute]"),
        ("port = 1\n[api]\nport = 2\n", "[api] port is set twice"),
        ('[api]\nport = "many"\n', "[api] port: invalid literal"),
        ("[api\n", "not valid TOML"),
    ],
)
def test_file_errors_name_the_file_section_and_key(tmp_path, text, message):
    with pytest.raises(ValueError) as excinfo:
        _load(tmp_path, text)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(str(tmp_path / "pocketstack.toml") + ": ")


def test_the_cli_turns_a_file_error_into_one_line(tmp_path):
    (tmp_path / "pocketstack.toml").write_text("[compute]\nport = 1\n")
    with pytest.raises(SystemExit, match=r"pocketstack: .*pocketstack.toml: 'port' is not"):
        cli.main(["config", "show", "--state-dir", str(tmp_path)])


def test_help_groups_the_flags_by_section(capsys):
    with pytest.raises(SystemExit):
        cli.main(["up", "--help"])
    out = capsys.readouterr().out
    for section in SECTIONS:
        if section != DEFAULT:
            assert f"[{section}] options:" in out, section
    assert "general options:" in out

    def group_of(flag: str) -> str:
        before = out[: out.index(f"\n  {flag}")]
        return re.findall(r"^(\S.*):$", before, re.MULTILINE)[-1]

    assert group_of("--compute-driver") == "[compute] options"
    assert group_of("--port") == "[api] options"
    assert group_of("--database") == "[database] options"
    assert group_of("--log-level") == "[logging] options"
    assert group_of("--token-expiration") == "[identity] options"
    assert group_of("--state-dir") == "general options"
    parser = cli.build_parser()
    up = parser._subparsers._group_actions[0].choices["up"]  # type: ignore[union-attr]
    grouped = {a.dest for g in up._action_groups for a in g._group_actions}
    assert {o.name for o in OPTIONS if o.cli} <= grouped


def test_config_show_prints_sections_and_masks_secrets(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POCKETSTACK_LOG_LEVEL", "DEBUG")
    (tmp_path / "pocketstack.toml").write_text(
        '[transport]\nurl = "amqp://guest:s3cret@127.0.0.1:5672//"\n'
    )
    cli.main(
        ["config", "show", "--state-dir", str(tmp_path), "--database", "postgresql://u:pw@h/db"]
    )
    out = capsys.readouterr().out
    assert "s3cret" not in out and ":pw@" not in out
    assert 'url = "amqp://guest:***@127.0.0.1:5672//"  # ' + str(tmp_path) in out
    assert 'connection = "postgresql://u:***@h/db"  # --database' in out
    assert 'log_level = "DEBUG"  # POCKETSTACK_LOG_LEVEL' in out
    shown = tomllib.loads(out)  # a valid TOML file, one table per section
    assert set(shown) - {o.key for o in OPTIONS if o.section == DEFAULT} == set(SECTIONS) - {
        DEFAULT
    }
    assert shown["compute"]["compute_driver"] == "qemu"
    assert shown["api"]["port"] == 8780


def test_what_config_show_prints_loads_back_to_the_same_configuration(tmp_path):
    conf = _load(tmp_path, '[compute]\ncompute_driver = "fake"\n[api]\nport = 9\n')
    (tmp_path / "shown.toml").write_text(conf.to_toml())
    again = Config.load({"config": str(tmp_path / "shown.toml")}, {})
    assert {**again.as_dict(), "config": ""} == {**conf.as_dict(), "config": ""}
    assert again.notices == ()


def test_the_sample_file_loads_and_covers_every_section(tmp_path):
    conf = Config.load({"state_dir": str(tmp_path), "config": str(SAMPLE)}, {})
    assert conf.notices == ()
    data = tomllib.loads(SAMPLE.read_text())
    assert set(SECTIONS) - {DEFAULT} <= set(data)


def test_replace_keeps_sections_and_sources(tmp_path):
    conf = _load(tmp_path, "[api]\nport = 1\n").replace(port=2)
    assert conf.section("api")["port"] == 2
    assert conf.sources["port"] == "replace()"
    with pytest.raises(ValueError, match="unknown options"):
        conf.replace(colour=1)
    with pytest.raises(KeyError):
        conf.section("nosuch")
