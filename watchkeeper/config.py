"""Where watchkeeper keeps its state: the config directory, the tokens, and the running relay's runtime file.

The person's token steers (control API, ``attach``, SDK agents). It is
created once (random, mode 0600) and only ever read from its file: never
printed, logged, put in a URL or a settings file, or handed to an agent.
Agents get hook credentials instead (``credentials.py``), which reach the hook
endpoint only, or agent credentials (SDK agents), which only report their run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from .credentials import Keyring

ENV_HOME = "WATCHKEEPER_HOME"
#: A person token for clients (``ctl --relay``, ``attach``, the SDK); never put in an agent's environment.
ENV_TOKEN = "WATCHKEEPER_TOKEN"
#: An SDK agent's credential (``watchkeeper token --agent``): ``watchkeeper.sdk.connect`` sends it when given no token.
ENV_AGENT_TOKEN = "WATCHKEEPER_AGENT_TOKEN"
#: The variable Claude Code reads its hook credential from (``$WATCHKEEPER_HOOK_TOKEN`` in the hook's headers).
ENV_HOOK_TOKEN = "WATCHKEEPER_HOOK_TOKEN"
ENV_PORT = "WATCHKEEPER_PORT"
#: The hook server's port when nothing else is configured: stable, so installed hooks keep working.
DEFAULT_PORT = 47717
LOOPBACK = "127.0.0.1"


def config_dir() -> Path:
    """``$WATCHKEEPER_HOME``, else ``$XDG_CONFIG_HOME/watchkeeper``, else ``~/.config/watchkeeper``."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "watchkeeper"


def preferences_path() -> Path:
    """What the viewer remembers between starts (the theme chosen last)."""
    return config_dir() / "viewer.json"


def token_path() -> Path:
    return config_dir() / "token"


def load_token(create: bool = True) -> str | None:
    """The token, created on first use (mode 0600); None if absent and ``create`` is false."""
    path = token_path()
    try:
        return _read_token(path)
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return _read_token(path)


def _read_token(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    token = path.read_text().strip()
    if not token:
        raise FileNotFoundError(path)
    return token


def hook_credentials_dir() -> Path:
    """Where hook credentials are registered (by hash): ``run``'s per session, ``hooks install``'s."""
    return config_dir() / "hook-credentials"


def hook_token_path() -> Path:
    """The installed hooks' credential (hook-only), for the person's shell profile to export."""
    return config_dir() / "hook-token"


def load_hook_token() -> str:
    """The installed hooks' credential, created and registered on first use (mode 0600)."""
    from . import credentials

    path = hook_token_path()
    try:
        secret = _read_token(path)
    except FileNotFoundError:
        secret = ""
    if not secret.startswith(credentials.HOOK_PREFIX):
        secret = credentials.HOOK_PREFIX + secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".hook-token.{os.getpid()}.tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(secret + "\n")
        tmp.replace(path)
    credentials.register(hook_credentials_dir(), secret, "install")
    return secret


def hook_port() -> int:
    """The port hooks are installed for: ``$WATCHKEEPER_PORT`` or the default."""
    value = os.environ.get(ENV_PORT, "")
    return int(value) if value.isdigit() else DEFAULT_PORT


def hook_url(port: int, fail_closed: bool = False, prompts_here: bool = False) -> str:
    """The hook endpoint's URL; ``fail=closed`` tells the relay how to end this session's holds,
    ``prompts=here`` that the person answers the agent's permission prompts in watchkeeper."""
    query = "&".join(q for q, on in (("fail=closed", fail_closed), ("prompts=here", prompts_here)) if on)
    return f"http://{LOOPBACK}:{port}/hook" + (f"?{query}" if query else "")


def recordings_dir() -> Path:
    """Where the relay records each hooked session's merged stream (native ``.jsonl``, for ``replay``)."""
    return config_dir() / "recordings"


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (0700) whatever the umask: created so, or narrowed.

    Missing parents are created 0700 too; an existing directory is narrowed
    only if this user owns it (another's is left to its owner).
    """
    missing = []
    at = path
    while not at.exists():
        missing.append(at)
        at = at.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        _narrow(directory, 0o700)
    _narrow(path, 0o700)
    return path


def open_private(path: Path) -> IO[bytes]:
    """``path`` opened to append, readable by its owner only (0600) whatever the umask or its earlier mode."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


def _narrow(path: Path, mode: int) -> None:
    st = path.stat()
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != mode:
        path.chmod(mode)


def runtime_path() -> Path:
    return config_dir() / "relay.json"


def write_runtime(port: int, epoch: str) -> Path:
    """Say which port this process's hook server listens on (read by ``run``, ``ctl``, ``hooks status``)."""
    path = runtime_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".relay.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps({"pid": os.getpid(), "port": port, "host": LOOPBACK, "epoch": epoch}))
    tmp.replace(path)
    return path


def read_runtime() -> dict[str, Any] | None:
    """The running relay's runtime record, or None when there is none or its process is gone."""
    try:
        info = orjson.loads(runtime_path().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("port"), int) or not alive(info.get("pid")):
        return None
    return info


def clear_runtime(epoch: str) -> None:
    """Remove the runtime file if it is still this relay's."""
    info = read_runtime()
    if info is None or info.get("epoch") == epoch:
        with contextlib.suppress(OSError):
            runtime_path().unlink()


def alive(pid: Any) -> bool:
    """Whether a process with this pid runs (one of another user's counts as running)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- remote attach (``serve`` / ``attach`` / the SDK over websocket) ---------------------

#: ``serve`` listens here when no ``--bind`` is given (loopback).
SERVE_PORT = 47718
#: Where ``watchkeeper.sdk.connect()`` finds the relay when no URL is given.
ENV_URL = "WATCHKEEPER_URL"


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token a client sends from a file: its first (``name=``) token; ValueError, saying which file."""
    return read_people(path)[0][1]


def read_people(path: str | os.PathLike[str]) -> list[tuple[str | None, str]]:
    """The (name, token) lines of a token file; ValueError, saying which file, when empty or unreadable."""
    from .credentials import parse_tokens

    try:
        people = parse_tokens(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"cannot read the token file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the token file {path} is not text") from None
    if not people:
        raise ValueError(f"the token file {path} is empty")
    return people


def keyring(token_files: list[str] | None = None, edge_files: list[str] | None = None) -> Any:
    """The people a server accepts: every ``name=token`` of ``token_files``, else this machine's token;
    and the edges, every ``name=token`` of ``edge_files``."""
    from .credentials import Keyring

    edges = [p for f in edge_files or () for p in read_people(f)]
    if token_files:
        return Keyring([p for f in token_files for p in read_people(f)], hook_credentials_dir(), edges)
    token = load_token(create=True)
    assert token is not None
    return Keyring([(None, token)], hook_credentials_dir(), edges)


def as_keyring(token: str | Keyring) -> Keyring:
    """``token`` as a keyring: a bare token is one unnamed person; hook credentials from the config dir."""
    from .credentials import Keyring

    return token if isinstance(token, Keyring) else Keyring([(None, token)], hook_credentials_dir())


def client_token(token_file: str | None = None) -> str | None:
    """The token a client sends: ``--token-file``, else ``$WATCHKEEPER_TOKEN``, else this machine's token file."""
    if token_file:
        return read_token_file(token_file)
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN].strip()
    return load_token(create=False)


# --- the settings file (``config.toml``) ----------------------------------------------------


def settings_path() -> Path:
    return config_dir() / "config.toml"


def notify_command() -> list[str] | None:
    """``notify_command`` from ``config.toml``: the argv run on every hold (None: not set).

    ValueError, saying which file and why, when the file cannot be read or the value is not
    a non-empty list of strings: it is run without a shell, so a single string would be one
    program's name, not a command line.
    """
    import tomllib

    path = settings_path()
    try:
        settings = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    argv = settings.get("notify_command")
    if argv is None:
        return None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
        raise ValueError(f"{path}: notify_command must be a list of non-empty strings (an argv, run without a "
                         'shell), e.g. ["notify-send", "watchkeeper", "{tool} is held: {why}"]')
    return argv


def recordings_retention() -> tuple[float | None, float | None]:
    """``[recordings] keep_days`` and ``keep_gib`` from ``config.toml`` (defaults 30 days, 5 GiB; 0: no limit).

    ValueError, saying which file and why, when the file cannot be read or a value is not a number.
    """
    import tomllib

    path = settings_path()
    try:
        settings = tomllib.loads(path.read_text())
    except FileNotFoundError:
        settings = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    section = settings.get("recordings", {})
    out: list[float | None] = []
    for key, default in (("keep_days", 30.0), ("keep_gib", 5.0)):
        value = section.get(key, default) if isinstance(section, dict) else default
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{path}: [recordings] {key} must be a number >= 0 (0: no limit)")
        out.append(float(value) or None)
    return out[0], out[1]


def recordings_retention_or_default(say: Any) -> tuple[float | None, float | None] | None:
    """``recordings_retention()``, or None (the defaults) after ``say``-ing why the settings could not be used."""
    try:
        return recordings_retention()
    except ValueError as e:
        say(f"{e}; recordings are kept by the defaults (30 days, 5 GiB)")
        return None

