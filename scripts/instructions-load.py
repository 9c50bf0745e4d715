#!/usr/bin/env python3
"""The load side of scripts/instructions.sh: drives an `rtm serve` that runs under
`valgrind --tool=callgrind --instr-atstart=no` and opens callgrind's measured window around each
repeat (`callgrind_control -z`, `-i on`, load, `-i off`, `-d`), so each dump holds the server's
instructions for that repeat's requests only. It runs outside valgrind: its own cost is not counted.

  scripts/instructions-load.py --port P --pid VALGRIND_PID --dumps DIR [--requests 20000]
      [--connections 4] [--peers 2000] [--subscribers 1000] [--publishes 3] [--windows 8]
      [--repeats 3] [--only publish0,peer,fanout]

Figures (one line each per repeat, then a summary line each), each after a warm-up:
  publish0  REST POST …/channel_messages to a channel nobody joined, Basic auth, keep-alive,
            `--connections` connections each with one request in flight; counted: 200 answers.
  peer      client send_peer from one WebSocket to another logged in, which acks each; one at a
            time; counted: messages acked and answered 0.
  fanout    one channel joined by `--subscribers` logged-in WebSocket clients; a repeat is
            `--windows` windows of `--publishes` REST publishes one after another, each window
            opened right after the server's ping round (see fanout()); counted: channel_message
            frames the subscribers received. A repeat is INVALID if a subscriber was closed or the
            deliveries fell short.
Every wait is bounded; all traffic goes to 127.0.0.1. Standard library only.
"""
import argparse, asyncio, base64, glob, json, os, statistics, struct, sys, time

APP = "0123456789abcdef0123456789abcdef"
CUSTOMER, SECRET = "instructions", "instructions-secret"
BASIC = "Basic " + base64.b64encode(("%s:%s" % (CUSTOMER, SECRET)).encode()).decode()
CHANNEL_MESSAGE = b'"event":"channel_message"'
PEER_MESSAGE = b'"event":"peer_message"'


# ---------------------------------------------------------------- callgrind's window

class Window:
    """Zero, instrument, run, stop instrumenting, dump; reads the dump's total instructions."""

    def __init__(self, pid, dumps):
        self.pid, self.dumps = str(pid), dumps

    async def control(self, *args):
        process = await asyncio.create_subprocess_exec("callgrind_control", *args, self.pid,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(process.communicate(), 120)
        if process.returncode != 0:
            raise RuntimeError("callgrind_control %s failed: %s" % (" ".join(args), err.decode()[-300:]))

    async def measure(self, load):
        """Runs `load` (a coroutine function returning (count, valid, note)) inside the window."""
        before = set(glob.glob(os.path.join(self.dumps, "callgrind.out.*")))
        await self.control("-z")
        await self.control("-i", "on")
        count, valid, note = await load()
        await self.control("-i", "off")
        await self.control("-d")
        new = []
        for _ in range(200):
            new = sorted(set(glob.glob(os.path.join(self.dumps, "callgrind.out.*"))) - before)
            if new and total_instructions(new[-1]) is not None:
                break
            await asyncio.sleep(0.1)
        if not new:
            raise RuntimeError("callgrind wrote no dump")
        return total_instructions(new[-1]), count, valid, note, new[-1]


def total_instructions(path):
    """The dump's `totals:` line (its `summary:` line says 0 when the window was opened with -i on)."""
    try:
        with open(path) as dump:
            for line in dump:
                if line.startswith("totals:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


# ---------------------------------------------------------------- HTTP

async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


def publish_request(port, channel, payload):
    body = json.dumps({"channel_name": channel, "payload": payload}, separators=(",", ":")).encode()
    head = ("POST /dev/v2/project/%s/rtm/users/publisher/channel_messages HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Authorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (APP, port, BASIC, len(body))).encode()
    return head + body


class HTTPConnection:
    async def open(self, port):
        self.port = port
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        return self

    async def post(self, request):
        self.writer.write(request)
        status, body = await asyncio.wait_for(read_response(self.reader), 120)
        return status, body

    def close(self):
        self.writer.close()


# ---------------------------------------------------------------- WebSocket

def client_frame(opcode, payload):
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", length)
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", length)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WebSocket:
    """A client that answers pings, counts the events it is told to count, and keeps replies."""

    def __init__(self, name):
        self.name, self.closed, self.counted, self.pings = name, None, 0, 0
        self.replies, self.events = {}, asyncio.Queue()
        self.count_marker, self.keep_events = None, False
        self.reply_arrived = asyncio.Event()

    async def open(self, port):
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 60)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("%s: upgrade refused: %r" % (self.name, head[:40]))
        self.task = asyncio.ensure_future(self.read_loop())
        return self

    async def read_loop(self):
        try:
            while True:
                first, second = await self.reader.readexactly(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", await self.reader.readexactly(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                payload = await self.reader.readexactly(length)
                opcode = first & 0x0F
                if opcode == 9:
                    self.pings += 1
                    self.writer.write(client_frame(10, payload))
                elif opcode == 8:
                    self.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    return
                elif opcode == 1:
                    if self.count_marker is not None and self.count_marker in payload:
                        self.counted += 1
                        if self.keep_events:
                            self.events.put_nowait(payload)
                    elif payload.startswith(b'{"reply"'):
                        reply = json.loads(payload)
                        self.replies[reply["reply"]] = reply
                        self.reply_arrived.set()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            if self.closed is None:
                self.closed = -1

    def send(self, message):
        self.writer.write(client_frame(1, json.dumps(message, separators=(",", ":")).encode()))

    async def request(self, message, timeout=120):
        self.send(message)
        deadline = time.monotonic() + timeout
        while message["id"] not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed is not None:
                raise RuntimeError("%s: no reply to %s (closed=%s)" % (self.name, message["op"], self.closed))
            self.reply_arrived.clear()
            try:
                await asyncio.wait_for(self.reply_arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.replies.pop(message["id"])

    async def login(self, user):
        reply = await self.request({"op": "login", "id": 1, "app_id": APP, "user_id": user})
        if reply.get("code") != 0:
            raise RuntimeError("%s: login answered %r" % (self.name, reply))

    def close(self):
        self.task.cancel()
        self.writer.close()


# ---------------------------------------------------------------- the figures

async def publish0(args, window):
    connections = [await HTTPConnection().open(args.port) for _ in range(args.connections)]
    request = publish_request(args.port, "nobody-here", "x" * 32)

    async def run(total):
        per = total // len(connections)

        async def one(connection):
            ok = 0
            for _ in range(per):
                status, _ = await connection.post(request)
                ok += status == 200
            return ok
        oks = await asyncio.gather(*(one(c) for c in connections))
        return sum(oks), per * len(connections)

    ok, sent = await run(max(args.requests // 10, len(connections)))   # warm-up
    if ok != sent:
        raise RuntimeError("warm-up: %d of %d publishes answered 200" % (ok, sent))
    results = []
    for repeat in range(args.repeats):
        async def load():
            ok, sent = await run(args.requests)
            return ok, ok == sent, "" if ok == sent else "%d of %d answered 200" % (ok, sent)
        results.append(await window.measure(load))
        report("publish0", repeat, results[-1])
    for c in connections:
        c.close()
    return results


async def fanout(args, window):
    subscribers, opening = [], asyncio.Semaphore(64)

    async def subscribe(index):
        async with opening:
            ws = await WebSocket("subscriber-%d" % index).open(args.port)
            await ws.login("sub%d" % index)
            reply = await ws.request({"op": "join", "id": 2, "channel": "fan"})
            if reply.get("code") != 0:
                raise RuntimeError("join answered %r" % reply)
            ws.count_marker = CHANNEL_MESSAGE
            return ws
    subscribers = await asyncio.gather(*(subscribe(i) for i in range(args.subscribers)))
    publisher = await HTTPConnection().open(args.port)
    await asyncio.sleep(5)   # member-count events are paced (every 3 s above 512 members): let them end

    def delivered():
        return sum(s.counted for s in subscribers)

    async def run(publishes, tag):
        start = delivered()
        for index in range(publishes):
            status, body = await publisher.post(publish_request(args.port, "fan", "%s-%d" % (tag, index)))
            if status != 200:
                raise RuntimeError("publish answered %d %r" % (status, body[:200]))
        expected = publishes * len(subscribers)
        deadline = time.monotonic() + 600
        while delivered() - start < expected and time.monotonic() < deadline:
            if any(s.closed is not None for s in subscribers):
                break
            await asyncio.sleep(0.05)
        got = delivered() - start
        closed = sum(s.closed is not None for s in subscribers)
        valid = got == expected and closed == 0
        note = "" if valid else "INVALID: %d of %d deliveries, %d subscribers closed" % (got, expected, closed)
        return got, valid, note

    def pings():
        return sum(s.pings for s in subscribers)

    async def after_a_ping_round():
        """Waits (bounded) for the server's next ping round to reach every subscriber, then for its
        pongs to be handled: a window opened then ends before the next round (every 10 s)."""
        start, deadline = pings(), time.monotonic() + 30
        while pings() - start < len(subscribers) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if pings() - start < len(subscribers):
            raise RuntimeError("no ping round reached all subscribers within 30 s")
        await asyncio.sleep(0.5)

    got, valid, note = await run(2, "warm")
    if not valid:
        raise RuntimeError("warm-up: " + note)
    results = []
    for repeat in range(args.repeats):
        # The server pings every socket every 10 s (one timer per event loop); under callgrind a ping
        # round costs about as much as two deliveries per subscriber, so no window may hold one. A
        # repeat is `--windows` windows of `--publishes` publishes, each opened right after a ping
        # round; a window that a ping round reached anyway is measured again (at most 3 times).
        total, count, valid, notes, dumps = 0, 0, True, [], []
        for part in range(args.windows):
            for attempt in range(3):
                await after_a_ping_round()
                before = pings()
                started = time.monotonic()
                result = await window.measure(lambda: run(args.publishes, "r%d-%d-%d" % (repeat, part, attempt)))
                seconds, extra = time.monotonic() - started, pings() - before
                if extra == 0:
                    break
                print("fanout    repeat %d window %d: a ping round fell in it (%.1f s): measured again" % (
                    repeat + 1, part + 1, seconds), flush=True)
            total += result[0]
            count += result[1]
            valid = valid and result[2] and extra == 0
            notes += [result[3]] if result[3] else []
            notes += ["a ping round in every attempt"] if extra else []
            dumps.append(result[4])
        results.append((total, count, valid, "; ".join(notes), dumps[0] + ".." + os.path.basename(dumps[-1])))
        report("fanout", repeat, results[-1], "%d windows, last %.1f s" % (args.windows, seconds))
    publisher.close()
    for s in subscribers:
        s.send({"op": "logout", "id": 3})
    await asyncio.sleep(2)
    for s in subscribers:
        s.close()
    return results


async def peer(args, window):
    sender = await WebSocket("peer-sender").open(args.port)
    receiver = await WebSocket("peer-receiver").open(args.port)
    await sender.login("peer-a")
    await receiver.login("peer-b")
    receiver.count_marker, receiver.keep_events = PEER_MESSAGE, True
    next_id = [10]

    async def run(count):
        ok = 0
        for _ in range(count):
            next_id[0] += 1
            sender.send({"op": "send_peer", "id": next_id[0], "to": "peer-b", "text": "m%d" % next_id[0]})
            event, deadline = None, time.monotonic() + 120
            while event is None and time.monotonic() < deadline and next_id[0] not in sender.replies:
                try:   # a send refused early (its reply arrives, nothing is delivered) ends the wait
                    event = json.loads(await asyncio.wait_for(receiver.events.get(), 1))
                except asyncio.TimeoutError:
                    pass
            if event is None:
                print("peer: message %d not delivered (sender's reply: %r)" % (
                    next_id[0], sender.replies.get(next_id[0])), flush=True)
                break
            receiver.send({"op": "ack", "message_id": event["message_id"]})
            deadline = time.monotonic() + 120
            while next_id[0] not in sender.replies and time.monotonic() < deadline and sender.closed is None:
                sender.reply_arrived.clear()
                try:
                    await asyncio.wait_for(sender.reply_arrived.wait(), 1)
                except asyncio.TimeoutError:
                    pass
            reply = sender.replies.pop(next_id[0], {})
            ok += reply.get("code") == 0
        valid = ok == count and sender.closed is None and receiver.closed is None
        return ok, valid, "" if valid else "INVALID: %d of %d answered 0" % (ok, count)

    ok, valid, note = await run(max(args.peers // 10, 1))
    if not valid:
        raise RuntimeError("warm-up: " + note)
    results = []
    for repeat in range(args.repeats):
        results.append(await window.measure(lambda: run(args.peers)))
        report("peer", repeat, results[-1])
    for ws in (sender, receiver):
        ws.send({"op": "logout", "id": 3})
    await asyncio.sleep(1)
    sender.close()
    receiver.close()
    return results


def report(figure, repeat, result, extra=""):
    instructions, count, valid, note, dump = result
    per = instructions / count if count else float("nan")
    print("%-9s repeat %d: %d instructions / %d = %.1f per %s%s%s  [%s]" % (
        figure, repeat + 1, instructions, count, per, "delivery" if figure == "fanout" else "request",
        "" if valid else "  " + note, ("  " + extra) if extra else "", os.path.basename(dump)), flush=True)


def summary(figure, results):
    pers = [r[0] / r[1] for r in results if r[2] and r[1]]
    if len(pers) != len(results):
        print("%-9s INVALID: %d of %d repeats valid" % (figure, len(pers), len(results)), flush=True)
        return False
    median = statistics.median(pers)
    spread = (max(pers) - min(pers)) / median * 100
    print("%-9s per %-8s median %.1f  min %.1f  max %.1f  spread %.2f %%  (%d repeats)" % (
        figure, "delivery" if figure == "fanout" else "request", median, min(pers), max(pers), spread, len(pers)),
        flush=True)
    return True


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--dumps", required=True)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--publishes", type=int, default=3)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--peers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="publish0,peer,fanout")
    args = parser.parse_args()
    window = Window(args.pid, args.dumps)
    figures = {"publish0": publish0, "fanout": fanout, "peer": peer}
    ok = True
    summaries = []
    for name in args.only.split(","):
        results = await figures[name](args, window)
        summaries.append((name, results))
    for name, results in summaries:
        ok = summary(name, results) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
