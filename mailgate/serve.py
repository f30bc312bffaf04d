"""``mailgate serve``: run the relay in this process, or supervise several that share the port.

With ``[relay] processes = 1`` (the default) the relay runs here and a signal stops it. With more,
this process only supervises: it spawns N relay processes that listen on the same port with
``SO_REUSEPORT`` (the kernel spreads connections over them), restarts one that dies, and stops them
all on SIGTERM/SIGINT. Each relay process has its own lint worker pool and opens the store itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

from mailgate.policy import Policy, load_policy
from mailgate.relay import build_relay
from mailgate.relay.config import RelaySettings, relay_settings

log = logging.getLogger("mailgate.serve")

RESTART_PAUSE = 1.0  # seconds before a dead relay process is replaced


def run_relay(policy: Policy, settings: RelaySettings, *, api: bool = False, relay_enabled: bool = True) -> None:
    """The relay and/or the API in this process until SIGINT/SIGTERM. OSError when a port cannot be bound."""
    import uvicorn

    from mailgate.api import api_settings, build_app

    class _ApiServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # our loop owns SIGINT/SIGTERM: it stops the API and the relay together

    from mailgate.relay import open_store
    from mailgate.state import PolicyState

    relay = build_relay(policy, settings=settings) if relay_enabled else None
    store = relay.pipeline.store if relay is not None else open_store(policy)
    state = relay.pipeline.state if relay is not None else PolicyState(policy, store)
    state.refresh()
    server: _ApiServer | None = None
    if api:
        aset = api_settings(policy)
        app = build_app(state, store, aset)
        server = _ApiServer(
            uvicorn.Config(app, host=aset.host, port=aset.port, log_level="warning", access_log=False, lifespan="on")
        )
    linter = relay.pipeline.linter if relay is not None else None
    try:
        warm = getattr(linter, "warm", None)
        if warm is not None:
            print(f"mailgate: starting {settings.worker_count} lint worker(s)…", file=sys.stderr)
            warm()
        # What is loaded by now (modules, the policy, SQLAlchemy's and pydantic's tables) lives as
        # long as the process: keep it out of the cyclic GC's full collections, which otherwise scan
        # all of it (pauses of ~0.1 s on the event loop, every few thousand messages).
        gc.collect()
        gc.freeze()

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            if relay is not None:
                await relay.start()
                print(f"mailgate: relay listening on {settings.host}:{relay.port}", file=sys.stderr, flush=True)
            api_task = None
            if server is not None:
                api_task = asyncio.ensure_future(server.serve())
                while not server.started and not api_task.done():
                    await asyncio.sleep(0.05)
                if api_task.done():
                    api_task.result()  # re-raise the bind error
                    raise OSError(f"the API could not listen on {server.config.host}:{server.config.port}")
                where = f"http://{server.config.host}:{server.config.port}/"
                print(f"mailgate: API on {where}", file=sys.stderr, flush=True)
            await stop.wait()
            print("mailgate: stopping", file=sys.stderr)
            if server is not None and api_task is not None:
                server.should_exit = True
                await api_task
            if relay is not None:
                await relay.stop()

        asyncio.run(run())
    finally:
        if linter is not None:
            linter.close()
        if relay is not None:
            relay.pipeline.audit_log.close()  # written already by relay.stop(), unless the loop failed
        store.close()


def _child(config_path: str | None, locale: str | None, api: bool) -> None:
    from mailgate.logjson import configure

    configure(os.environ.get("MAILGATE_LOG_FORMAT", "json"))
    policy = load_policy(Path(config_path) if config_path else None)
    if locale:
        from dataclasses import replace

        policy = replace(policy, locale=locale)
    settings = relay_settings(policy, config_path=config_path)
    try:
        run_relay(policy, settings, api=api)
    except OSError as exc:
        print(f"mailgate: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)


def supervise(settings: RelaySettings, locale: str | None, *, api: bool) -> int:
    """Run ``settings.process_count`` relay processes until a signal; replace any that dies.

    The first process also serves the API (its port cannot be shared the way the relay's is).
    """
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: no inherited loop or threads
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start(with_api: bool) -> BaseProcess:
        p = ctx.Process(target=_child, args=(settings.config_path, locale, with_api), name="mailgate-relay")
        p.start()
        return p

    procs = [start(api and i == 0) for i in range(settings.process_count)]
    print(f"mailgate: {len(procs)} relay processes on {settings.host}:{settings.port}", file=sys.stderr)
    exit_code = 0
    while not stopping:
        time.sleep(0.2)
        for i, p in enumerate(procs):
            if p.is_alive() or stopping:
                continue
            if p.exitcode == 2:  # cannot bind: a configuration problem, not a crash
                stopping, exit_code = True, 2
                break
            print(f"mailgate: relay process {p.pid} ended ({p.exitcode}); starting another", file=sys.stderr)
            time.sleep(RESTART_PAUSE)
            procs[i] = start(api and i == 0)
    for p in procs:
        if p.is_alive() and p.pid is not None:
            p.terminate()
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
    return exit_code
