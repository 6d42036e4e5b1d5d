#!/usr/bin/env python3
"""Load for the hitless-restart lab test: short calls at a fixed rate plus long-lived streams, every failure counted.

  hitless_load.py serve PORT
      Each connection's first line decides: "ping N" is answered "pong N" and the connection closed; "stream" makes
      it a stream that answers every "tick N" with "tock N" until the client closes.
  hitless_load.py load HOST PORT [--rate R] [--streams S] [--control FILE] [--max-seconds T]
      R new connections a second (each one call) and S streams (a tick every 100 ms each) until FILE says "stop"
      or T seconds passed; then one JSON line: calls, ok, failures by kind with samples, streams intact.
"""
import argparse
import asyncio
import json
import os
import sys
import time

CALL_TIMEOUT = 3.0


async def serve(port):
    async def handle(reader, writer):
        try:
            first = await reader.readline()
            if first.startswith(b"ping "):
                writer.write(b"pong " + first[5:])
                await writer.drain()
            elif first == b"stream\n":
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    writer.write(b"tock " + line[5:])
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=1024)
    async with server:
        await server.serve_forever()


def kind(error):
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, asyncio.TimeoutError):
        return "timeout"
    if isinstance(error, EOFError):
        return "closed-early"
    return type(error).__name__


class Tally:
    def __init__(self):
        self.started = time.monotonic()
        self.calls = 0
        self.ok = 0
        self.failures = {}
        self.samples = []

    def fail(self, what, error):
        k = kind(error)
        self.failures[k] = self.failures.get(k, 0) + 1
        if len(self.samples) < 20:
            self.samples.append({"t": round(time.monotonic() - self.started, 3), "what": what, "kind": k,
                                 "error": str(error)})


async def call(host, port, number, tally):
    tally.calls += 1
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CALL_TIMEOUT)
        writer.write(b"ping %d\n" % number)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), CALL_TIMEOUT)
        if answer != b"pong %d\n" % number:
            raise EOFError("answer %r" % answer)
        tally.ok += 1
    except Exception as error:  # every failure is counted, whatever it is
        tally.fail("call %d" % number, error)
    finally:
        if writer is not None:
            writer.close()


class Stream:
    def __init__(self, index):
        self.index = index
        self.ticks = 0
        self.error = None
        self.reader = self.writer = None

    async def open(self, host, port):
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection(host, port), CALL_TIMEOUT)
        self.writer.write(b"stream\n")
        await self.writer.drain()

    async def tick(self):
        number = self.ticks
        self.writer.write(b"tick %d\n" % number)
        await self.writer.drain()
        answer = await asyncio.wait_for(self.reader.readline(), CALL_TIMEOUT)
        if answer != b"tock %d\n" % number:
            raise EOFError("answer %r to tick %d" % (answer, number))
        self.ticks += 1

    async def run(self, stopping, tally):
        try:
            while not stopping.is_set():
                await self.tick()
                await asyncio.sleep(0.1)
            await self.tick()  # still intact at the end
        except Exception as error:
            self.error = "%s: %s" % (kind(error), error)
            tally.fail("stream %d after %d ticks" % (self.index, self.ticks), error)
        finally:
            if self.writer is not None:
                self.writer.close()


async def load(host, port, rate, stream_count, control, max_seconds):
    tally = Tally()
    streams = [Stream(i) for i in range(stream_count)]
    for stream in streams:
        await stream.open(host, port)
    stopping = asyncio.Event()
    stream_tasks = [asyncio.create_task(s.run(stopping, tally)) for s in streams]
    print("streams open: %d" % len(streams), file=sys.stderr, flush=True)

    calls = set()
    deadline = time.monotonic() + max_seconds
    interval = 1.0 / rate
    next_call = time.monotonic()
    last_report = 0.0
    number = 0
    while time.monotonic() < deadline:
        if control and os.path.exists(control) and open(control).read().strip() == "stop":
            break
        now = time.monotonic()
        if now >= next_call:
            if len(calls) < 4 * rate:
                task = asyncio.create_task(call(host, port, number, tally))
                calls.add(task)
                task.add_done_callback(calls.discard)
                number += 1
            next_call += interval
        if now - last_report >= 1.0:
            last_report = now
            print("t=%.1f calls=%d ok=%d failures=%s in-flight=%d" % (now - tally.started, tally.calls, tally.ok,
                  tally.failures, len(calls)), file=sys.stderr, flush=True)
        await asyncio.sleep(max(0.0, min(next_call - time.monotonic(), 0.05)))
    if calls:
        await asyncio.wait(calls)
    stopping.set()
    await asyncio.gather(*stream_tasks)
    print(json.dumps({
        "seconds": round(time.monotonic() - tally.started, 1), "calls": tally.calls, "ok": tally.ok,
        "failures": tally.failures, "samples": tally.samples,
        "streams": {"opened": len(streams), "intact": sum(1 for s in streams if s.error is None),
                    "ticks": [s.ticks for s in streams], "errors": [s.error for s in streams if s.error]},
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("port", type=int)
    load_parser = commands.add_parser("load")
    load_parser.add_argument("host")
    load_parser.add_argument("port", type=int)
    load_parser.add_argument("--rate", type=float, default=200)
    load_parser.add_argument("--streams", type=int, default=10)
    load_parser.add_argument("--control")
    load_parser.add_argument("--max-seconds", type=float, default=120)
    arguments = parser.parse_args()
    if arguments.command == "serve":
        asyncio.run(serve(arguments.port))
    else:
        asyncio.run(load(arguments.host, arguments.port, arguments.rate, arguments.streams, arguments.control,
                         arguments.max_seconds))


if __name__ == "__main__":
    main()
