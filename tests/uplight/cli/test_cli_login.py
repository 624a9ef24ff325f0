"""Where management commands find the server and the token (issue 15, CLI comfort).

Against a real `uplight serve`: the URL from --config ([server] public_base_url,
else listen), `uplight login` storing a checked token in a 0600 file keyed by the
server's URL, the precedence of flags, environment and files, and `logout`.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import UPLIGHT, create_token, free_port, serving

from uplight.cli import build_parser, main
from uplight.cli.api_client import DEFAULT_URL, ApiFailure, server_url

CONFIG = """
[server]
listen = "127.0.0.1:{port}"
[storage]
path = "uplight.db"
[[monitors]]
id = "switch"
name = "Switch"
type = "manual"
interval = "1h"
"""

ENVIRONMENT = ("UPLIGHT_URL", "UPLIGHT_TOKEN", "UPLIGHT_CONFIG", "UPLIGHT_LISTEN")


@dataclass
class Server:
    url: str
    port: int
    token: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("cli-login")
    port = free_port()
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=port))
    token = create_token(config, "laptop")
    with serving(config, port):
        yield Server(f"http://127.0.0.1:{port}", port, token)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with an empty config directory, in a folder without config.toml."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def token_file(home: Path) -> Path:
    return home / "xdg" / "uplight" / "tokens.json"


def login(monkeypatch: pytest.MonkeyPatch, token: str, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    return main(["login", "--token-stdin", *argv])


def write_config(path: Path, server_table: str) -> Path:
    path.write_text(f"[server]\n{server_table}\n")
    return path


# -- the server's URL ----------------------------------------------------------------


def url_of(*argv: str) -> str:
    return server_url(build_parser().parse_args(["status", *argv]))


def test_url_precedence(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert url_of() == DEFAULT_URL  # no flag, no environment, no ./config.toml
    write_config(Path("config.toml"), 'listen = "10.0.0.5:9000"')
    assert url_of() == "http://10.0.0.5:9000"  # ./config.toml, when it exists
    other = write_config(home / "other.toml", 'listen = "10.0.0.6:9000"')
    monkeypatch.setenv("UPLIGHT_CONFIG", str(other))
    assert url_of() == "http://10.0.0.6:9000"
    explicit = write_config(home / "explicit.toml", 'listen = "10.0.0.7:9000"')
    assert url_of("--config", str(explicit)) == "http://10.0.0.7:9000"
    monkeypatch.setenv("UPLIGHT_URL", "http://env.example:1")
    assert url_of("--config", str(explicit)) == "http://env.example:1"
    assert url_of("--url", "http://flag.example:2") == "http://flag.example:2"


@pytest.mark.parametrize(
    ("table", "url"),
    [
        ('listen = "0.0.0.0:8443"', "http://127.0.0.1:8443"),
        ('listen = "[::]:8443"', "http://[::1]:8443"),
        ('listen = "[::1]:8443"', "http://[::1]:8443"),
        ('listen = "0.0.0.0:1"\npublic_base_url = "https://status.example/up/"', "https://status.example/up"),
        ("", "http://127.0.0.1:8080"),  # listen's default
    ],
)  # fmt: skip
def test_url_from_the_server_table(home: Path, table: str, url: str) -> None:
    assert url_of("--config", str(write_config(home / "c.toml", table))) == url


def test_uplight_listen_moves_the_server_as_serve_does(home: Path, monkeypatch) -> None:
    config = write_config(home / "c.toml", 'listen = "127.0.0.1:8080"')
    monkeypatch.setenv("UPLIGHT_LISTEN", "0.0.0.0:9090")
    assert url_of("--config", str(config)) == "http://127.0.0.1:9090"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "--config {path}: no such file"),
        ("[server\n", "{path}: "),
        ('[server]\nlisten = "8080"', "{path}: server.listen: must be"),
        ("[server]\nlisten = 8080", "{path}: server.listen: must be a string"),
        ('[server]\npublic_base_url = "status.example"', "{path}: server.public_base_url: "),
    ],
)
def test_a_config_that_cannot_say(home: Path, text: str | None, message: str) -> None:
    path = home / "c.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ApiFailure) as exc:
        url_of("--config", str(path))
    assert exc.value.code == "BAD_CONFIG"
    assert exc.value.message.startswith(message.format(path=path))


def test_commands_find_the_server_from_the_config(home: Path, server: Server, capsys) -> None:
    # Only [server] is read: this file is not a whole config, and needs no secrets.
    config = write_config(home / "c.toml", f'listen = "0.0.0.0:{server.port}"')
    assert main(["status", "--config", str(config), "--token", server.token]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["switch", "no_data"]
    done = subprocess.run(
        [*UPLIGHT, "monitors", "list", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "UPLIGHT_CONFIG": str(config), "UPLIGHT_TOKEN": server.token},
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert [m["id"] for m in json.loads(done.stdout)["items"]] == ["switch"]


# -- the token -----------------------------------------------------------------------


def test_login_stores_the_token_for_that_server_only(
    home: Path, server: Server, monkeypatch, capsys
) -> None:
    assert login(monkeypatch, server.token, "--url", server.url + "/") == 0
    out, err = capsys.readouterr()
    path = token_file(home)
    assert out.startswith(f"logged in to {server.url}/") and str(path) in out
    assert server.token not in out + err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {server.url: server.token}

    assert main(["status", "--url", server.url]) == 0  # no --token, no UPLIGHT_TOKEN
    capsys.readouterr()
    # Another server never gets this token.
    other = f"http://127.0.0.1:{free_port()}"
    assert main(["status", "--url", other]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: NO_TOKEN: ") and f"uplight login --url {other}" in err


def test_login_refuses_a_token_the_server_refuses(home: Path, server: Server, monkeypatch, capsys):
    assert login(monkeypatch, "upl_not-a-token", "--url", server.url) == 1
    _, err = capsys.readouterr()
    assert err.startswith("error: UNAUTHORIZED: ") and "nothing stored" in err
    assert "upl_not-a-token" not in err
    assert not token_file(home).exists()
    assert login(monkeypatch, "  ", "--url", server.url) == 1
    assert capsys.readouterr().err.startswith("error: EMPTY_TOKEN: ")
    dead = f"http://127.0.0.1:{free_port()}"
    assert login(monkeypatch, server.token, "--url", dead) == 1
    assert capsys.readouterr().err.startswith("error: UNREACHABLE: ")
    assert not token_file(home).exists()


def test_token_precedence(home: Path, server: Server, monkeypatch, capsys) -> None:
    def answer(*argv: str) -> str:
        code = main(["monitors", "list", "--url", server.url, *argv])
        err = capsys.readouterr().err
        return "ok" if code == 0 else err.split(":")[1].strip()

    path = token_file(home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({server.url: server.token}))
    path.chmod(0o600)
    assert answer() == "ok"  # the file
    monkeypatch.setenv("UPLIGHT_TOKEN", "upl_wrong")
    assert answer() == "UNAUTHORIZED"  # the environment beats the file
    assert answer("--token", server.token) == "ok"  # the flag beats the environment
    monkeypatch.setenv("UPLIGHT_TOKEN", server.token)
    assert answer("--token", "upl_wrong") == "UNAUTHORIZED"
    monkeypatch.delenv("UPLIGHT_TOKEN")

    path.write_text("{not json")
    assert answer() == "BAD_TOKEN_FILE"


def test_a_readable_token_file_is_warned_about(home: Path, server: Server, capsys) -> None:
    path = token_file(home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({server.url: server.token}))
    path.chmod(0o644)
    assert main(["monitors", "list", "--url", server.url]) == 0
    assert f"warning: {path} can be read by other users" in capsys.readouterr().err


def test_logout(home: Path, server: Server, monkeypatch, capsys) -> None:
    second = "http://127.0.0.1:1"
    path = token_file(home)
    assert login(monkeypatch, server.token, "--url", server.url) == 0
    from uplight.cli.credentials import store_token

    store_token(second, "upl_elsewhere")
    capsys.readouterr()
    assert main(["logout", "--url", server.url]) == 0
    assert capsys.readouterr().out.startswith(f"logged out of {server.url}")
    assert json.loads(path.read_text()) == {second: "upl_elsewhere"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # rewritten, same mode
    assert main(["logout", "--url", server.url]) == 0
    assert capsys.readouterr().out.startswith(f"no token stored for {server.url}")
    assert main(["logout", "--url", second]) == 0
    assert not path.exists()  # the last one: the file goes
    store_token(second, "upl_elsewhere")
    assert main(["logout", "--all"]) == 0 and not path.exists()


def test_login_prompts_without_echo(home: Path, server: Server) -> None:
    """The installed command on a terminal: the prompt is shown, the typed token is not."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*UPLIGHT, "login", "--url", server.url],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "XDG_CONFIG_HOME": str(home / "xdg")},
        start_new_session=True,  # no controlling terminal: getpass uses stdin, the pty
    )
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 20
    typed = False
    while time.monotonic() < deadline and select.select([leader], [], [], 20)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        shown += chunk
        if not typed and b"token for" in shown:
            os.write(leader, server.token.encode() + b"\n")
            typed = True
    os.close(leader)
    assert proc.wait(timeout=20) == 0, shown
    text = shown.decode()
    assert f"Admin API token for {server.url}: " in text and "logged in to" in text
    assert server.token not in text
    assert json.loads(token_file(home).read_text()) == {server.url: server.token}
