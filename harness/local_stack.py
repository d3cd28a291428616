"""Start the whole assistant on loopback, as separate processes: for tests and benchmarks.

``LocalStack`` runs the Meta Graph stand-in, the action server, one or more ``rasa run``
instances with the WhatsApp channel and, with ``stt=True``, the transcription stand-in
(standins/stt/, so voice notes are transcribed), each on a free 127.0.0.1 port, with fresh random secrets
shared only between these processes. The caller plays Meta: it posts signed webhooks
(:mod:`harness.webhook_sender`) and reads what the assistant sent from the stand-in. With
``preview=True`` the designer's preview (preview/, harness/local_preview.py) hosts the Graph
stand-in instead, on the same port, and serves its pages on ``preview_url``.

Why processes and not in-process apps: this is how the assistant runs in production (Rasa,
the action server and Meta are separate), and several Rasa instances sharing a tracker store,
lock store and dedup store is only meaningful as separate processes.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

import httpx

from harness.local_preview import PreviewProcess
from harness.local_voice import GRAPH_VERSION, STT_VARIABLES, VoiceNoteControls
from privacy.action_server import action_server_environment

__all__ = ["LocalStack", "StackError", "PHONE_NUMBER_ID", "free_port", "stop_processes"]

ROOT = Path(__file__).resolve().parent.parent
PHONE_NUMBER_ID = "100000000000001"


class StackError(RuntimeError):
    """A process of the stack did not start; the message names it and its log file."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_processes(procs: Iterable[subprocess.Popen], grace: float = 20.0) -> None:
    """SIGTERM to each process group (started with ``start_new_session``), all at once; SIGKILL to
    any still running ``grace`` seconds later."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@dataclass
class LocalStack(VoiceNoteControls, PreviewProcess):
    """The processes and the secrets they share.

    Args:
        workdir: where logs, the endpoints file and the SQLite database go.
        model: the trained model archive.
        rasa_instances: how many ``rasa run`` processes share the stores.
        tracker_store_url: default: an SQLite file in ``workdir``.
        lock_store_url: ``redis://…`` for the atomic Redis lock store (needed with several instances).
        dedup_url: ``redis://…`` for the channel's shared dedup store and payload id map.
        extra_env: more environment for every process (e.g. send retry tuning).
        tracker_store_options: more ``tracker_store`` keys, e.g. ``{"table": "t1234"}``: parallel runs never share data.
        lock_store_options: more ``lock_store`` keys, e.g. ``{"db": 0, "key_prefix": "t1234"}`` (Rasa's default db is 1).
        debug: ``--debug`` for Rasa and the action server (in production only with ``BLAUPAUSE_ALLOW_DEBUG_LOGS=1``).
        stt: also run the transcription stand-in (``STT_BASE_URL``); ``stt_args``: its options (``--latency 0.2``).
        preview: run ``python -m preview`` (which hosts the Graph stand-in) instead of the stand-in
            alone, on ``preview_port`` (default: a free one); its pages at ``preview_url``.
    """

    workdir: Path
    model: Path = ROOT / "models" / "current.tar.gz"
    rasa_instances: int = 1
    tracker_store_url: Optional[str] = None
    lock_store_url: Optional[str] = None
    dedup_url: Optional[str] = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    tracker_store_options: Mapping[str, Any] = field(default_factory=dict)
    lock_store_options: Mapping[str, Any] = field(default_factory=dict)
    debug: bool = False
    stt: bool = False
    stt_args: tuple[str, ...] = ()
    preview: bool = False
    preview_port: Optional[int] = None

    def __post_init__(self) -> None:
        self.app_secret = secrets.token_hex(16)
        self.access_token = secrets.token_hex(16)
        self.privacy_key = secrets.token_hex(32)
        self.phone_number_id = PHONE_NUMBER_ID
        self.graph_port = free_port()
        self.actions_port = free_port()
        self.rasa_ports = [free_port() for _ in range(self.rasa_instances)]
        # Operator ports (observability/exposition.py): one per process, scraped each on its own.
        self.metrics_ports = [free_port() for _ in range(self.rasa_instances)]
        self.actions_metrics_port = free_port()
        self.graph_url = f"http://127.0.0.1:{self.graph_port}"
        self.stt_port = free_port() if self.stt else None
        self.stt_url = f"http://127.0.0.1:{self.stt_port}" if self.stt else None
        if self.preview and self.preview_port is None:
            self.preview_port = free_port()
        self.db_path = self.workdir / "trackers.db"
        if self.tracker_store_url is None:
            self.tracker_store_url = f"sqlite:///{self.db_path}"
        self.procs: Dict[str, subprocess.Popen] = {}
        self.logs: Dict[str, Path] = {}

    # -- addresses -------------------------------------------------------------------------
    def webhook_url(self, instance: int = 0) -> str:
        return f"http://127.0.0.1:{self.rasa_ports[instance]}/webhooks/whatsapp/webhook"

    @property
    def webhook_urls(self) -> List[str]:
        return [self.webhook_url(i) for i in range(self.rasa_instances)]

    def metrics_url(self, instance: int = 0) -> str:
        """``GET /metrics`` of one Rasa instance's operator port (``BLAUPAUSE_METRICS_PORT``)."""
        return f"http://127.0.0.1:{self.metrics_ports[instance]}/metrics"

    @property
    def actions_metrics_url(self) -> str:
        """``GET /metrics`` of the action server's operator port (``BLAUPAUSE_ACTIONS_METRICS_PORT``)."""
        return f"http://127.0.0.1:{self.actions_metrics_port}/metrics"

    # -- lifecycle -------------------------------------------------------------------------
    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        for name in ("LLM_BASE_URL", "LLM_MODEL", "BLAUPAUSE_ENV", "WHATSAPP_DEDUP_URL", "PRIVACY_OLD_KEYS",
                     "BLAUPAUSE_METRICS_PORT", "BLAUPAUSE_ACTIONS_METRICS_PORT", *STT_VARIABLES):
            env.pop(name, None)
        env.update(
            RASA_TELEMETRY_ENABLED="false",
            PRIVACY_KEY=self.privacy_key,
            WHATSAPP_APP_SECRET=self.app_secret,
            WHATSAPP_VERIFY_TOKEN=secrets.token_hex(8),
            WHATSAPP_ACCESS_TOKEN=self.access_token,
            WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
            WHATSAPP_API_BASE_URL=self.graph_url,
            WHATSAPP_SEND_BACKOFF_BASE_S="0.05",
            WHATSAPP_SEND_BACKOFF_MAX_S="0.2",
            TRACKER_STORE_URL=str(self.tracker_store_url),
            SANIC_HOST="127.0.0.1",
            JOBS_PROVIDER="local",
            FORCE_JSON_LOGGING="1",
        )
        if self.dedup_url:
            env["WHATSAPP_DEDUP_URL"] = self.dedup_url
        if self.stt_url:
            env["STT_BASE_URL"] = f"{self.stt_url}/v1"
        env.update(self.extra_env)
        return env

    def actions_env(self) -> Dict[str, str]:
        """The action server's environment: :meth:`env` through the allowlist (no key, no Meta secret)."""
        env = self.env()
        env["BLAUPAUSE_ACTIONS_METRICS_PORT"] = str(self.actions_metrics_port)
        return action_server_environment(env)

    def rasa_env(self, instance: int = 0) -> Dict[str, str]:
        """One Rasa instance's environment: :meth:`env` plus its own operator port."""
        env = self.env()
        env["BLAUPAUSE_METRICS_PORT"] = str(self.metrics_ports[instance])
        return env

    def _endpoints_file(self) -> Path:
        return _write_endpoints(self.workdir, self.actions_port, self.lock_store_url,
                                self.tracker_store_options, self.lock_store_options)

    def _spawn(self, name: str, command: List[str], env: Mapping[str, str]) -> None:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, timeout: float = 300.0) -> "LocalStack":
        if not self.model.exists():
            raise StackError(f"no trained model at {self.model}; run `make train`")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        bin_dir = Path(sys.executable).parent
        endpoints = self._endpoints_file()
        self._spawn(self.graph_process, self.graph_command(), self.graph_env(env))
        if self.stt_port is not None:
            self._spawn("stt", [sys.executable, "-m", "standins.stt", "--port", str(self.stt_port), *self.stt_args], env)
        debug = ["--debug"] if self.debug else []
        self._spawn("actions", [str(bin_dir / "rasa"), "run", "actions", "--actions", "actions",
                                "--port", str(self.actions_port), *debug], self.actions_env())
        for index, port in enumerate(self.rasa_ports):
            self._spawn(f"rasa{index}", [
                str(bin_dir / "rasa"), "run", "--model", str(self.model), "--credentials", "credentials.yml",
                "--endpoints", str(endpoints), "--interface", "127.0.0.1", "--port", str(port), *debug,
            ], self.rasa_env(index))
        for url in self.graph_ready_urls(self.graph_url):
            self._wait(url, timeout)
        if self.stt_url:
            self._wait(f"{self.stt_url}/_standin/requests", timeout)
        self._wait(f"http://127.0.0.1:{self.actions_port}/health", timeout)
        for port in self.rasa_ports:
            self._wait(f"http://127.0.0.1:{port}/webhooks/whatsapp/", timeout)
        return self

    def _wait(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise StackError(f"{name} exited with {proc.returncode}; see {self.logs[name]}")
            try:
                if httpx.get(url, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise StackError(f"{url} did not answer within {timeout:.0f} s")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one process (e.g. ``rasa1`` with SIGKILL, to test a crash)."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)

    def stop(self) -> None:
        stop_processes(self.procs.values())

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what Meta received ----------------------------------------------------------------
    def sent(self) -> List[Dict[str, Any]]:
        """Every message the assistant sent, in the stand-in's order: {to, wamid, message, received_at}."""
        return httpx.get(f"{self.graph_url}/_standin/messages", timeout=10).json()["messages"]

    def sent_to(self, address: str) -> List[Dict[str, Any]]:
        """What was sent to a phone number (``to``) or a BSUID (``recipient``)."""
        return [m["message"] for m in self.sent() if address in (m.get("to"), m.get("recipient"))]

    def inject_faults(self, **fault: Any) -> None:
        """Queue Graph API faults, e.g. ``inject_faults(status=500, code=2, count=3)``."""
        httpx.post(f"{self.graph_url}/_standin/faults", json=fault, timeout=5).raise_for_status()


def _write_endpoints(workdir: Path, actions_port: int, lock_store_url: Optional[str],
                     tracker_store_options: Mapping[str, Any], lock_store_options: Mapping[str, Any]) -> Path:
    """endpoints.yml for this stack: its action server port, and the stores' options."""
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8").replace(
        "http://127.0.0.1:5055/webhook", f"http://127.0.0.1:{actions_port}/webhook"
    )
    if lock_store_url:
        text += f'\nlock_store:\n  type: locking.redis_lock_store.AtomicRedisLockStore\n  url: "{_host(lock_store_url)}"\n  port: {_port(lock_store_url, 6379)}\n'
    if tracker_store_options or (lock_store_url and lock_store_options):
        import yaml  # only here: the default path keeps the committed file's text as it is

        config = yaml.safe_load(text)
        config.setdefault("tracker_store", {}).update(tracker_store_options)
        if lock_store_url:
            config["lock_store"].update(lock_store_options)
        text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    path = workdir / "endpoints.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


def _port(url: str, default: int) -> int:
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    return int(hostport.rsplit(":", 1)[1]) if ":" in hostport else default
