#!/usr/bin/env python3
"""Fuzzes a live `rtm serve` (a child process on 127.0.0.1) over WebSocket and REST, while a healthy
pair of clients keeps exchanging peer messages and acks.

  scripts/live-fuzz.py [--bin .build/debug/rtm] [--seed 1] [--ws-cases 2000] [--rest-cases 2000]
                       [--seconds 120] [--workers 4]

WebSocket cases send mutated and random frames: bad or missing masks, reserved opcodes, RSV bits,
fragment sequences, extended and lying lengths, truncation, invalid UTF-8, oversized control frames,
random close codes, random and mutated JSON ops (before and after a login). REST cases send mutated
requests: methods, paths (percent-encoding, empty and long segments), headers (auth, lengths,
transfer and content encodings, Expect, Connection), bodies (valid, mutated, random, gzip, UTF-16).

Fails (exit 1) when the server exits, a REST answer is 5xx, a REST request (well-formed or not) gets
neither an answer nor a close (a connection left hanging), the healthy clients see a failure (a send not answered 0, a message not
delivered, an unexpected close), or the server's RSS does not come back within --rss-slack-mib of its
baseline once the fuzz sockets are gone. Everything else the server answers (close codes, 4xx
statuses) is tallied and printed, not judged: other
tests own those rules. Every case is derived from (seed, case number), so a failure names the case to
replay with --only-case. Standard library only.
"""
import argparse, base64, gzip, json, os, random, select, shutil, socket, struct, subprocess, sys, tempfile, threading, time
from collections import Counter

OPEN_APP = "0123456789abcdef0123456789abcdef"
CUSTOMER, SECRET = "fuzz-customer", "fuzz-secret-123456"
BASIC = "Basic " + base64.b64encode(("%s:%s" % (CUSTOMER, SECRET)).encode()).decode()
HEALTHY_A, HEALTHY_B = "healthy-sender", "healthy-receiver"


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self, binary):
        self.work = tempfile.mkdtemp(prefix="rtm-live-fuzz-")
        config = os.path.join(self.work, "rtm.json")
        with open(config, "w") as out:
            json.dump({"apps": [{"app_id": OPEN_APP, "messaging_rate_limit": 100000}],
                       "customers": [{"id": CUSTOMER, "secret": SECRET, "apps": ["*"]}]}, out)
        self.log = open(os.path.join(self.work, "serve.log"), "w+")
        self.process = subprocess.Popen([binary, "serve", "--port", "0", "--data-dir", os.path.join(self.work, "data"),
                                         "--config", config, "--log-level", "error"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None
        for _ in range(600):
            self.log.seek(0)
            for line in self.log.read().splitlines():
                if line.startswith("listening on http://127.0.0.1:"):
                    self.port = int(line.rsplit(":", 1)[1])
            if self.port or self.process.poll() is not None:
                break
            time.sleep(0.1)
        if not self.port:
            self.stop()
            sys.exit("the server did not start:\n" + self.tail())

    def alive(self):
        return self.process.poll() is None

    def rss_mib(self):
        try:
            with open("/proc/%d/status" % self.process.pid) as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return -1.0

    def tail(self):
        self.log.seek(0)
        return "".join(self.log.readlines()[-30:])

    def healthz(self):
        try:
            status, _ = http_exchange(self.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 5)
            return status == 200
        except OSError:
            return False

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def http_exchange(port, request, timeout):
    """Sends one request on a fresh connection; returns (status or None, outcome) where outcome is
    'answered', 'closed' (closed without an answer) or 'hang' (neither within `timeout`)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(request)
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, "hang"
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return None, "hang"
            except ConnectionResetError:
                return None, "closed"
            if not chunk:
                return None, "closed"
            data += chunk
        parts = data.split(b" ", 2)
        try:
            return int(parts[1]), "answered"
        except (IndexError, ValueError):
            return None, "garbled"
    finally:
        sock.close()


# ---------------------------------------------------------------- WebSocket frames

def frame(opcode, payload, fin=True, rsv=0, mask=True, length_form=None, key=None):
    """A client frame; `length_form` forces 'short', '16' or '64' (non-minimal encodings included)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    form = length_form or ("short" if length < 126 else "16" if length < 65536 else "64")
    mask_bit = 0x80 if mask else 0
    if form == "short":
        header = bytes([first, mask_bit | min(length, 125)])
    elif form == "16":
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", length & 0xFFFF)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return header + payload
    key = key if key is not None else os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WebSocket:
    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            data += chunk
        head, self.buffer = data.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("upgrade refused: %r" % head[:40])
        self.closed_code = None

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_text(self, text):
        self.sock.sendall(frame(1, text.encode() if isinstance(text, str) else text))

    def read_frame(self, timeout):
        """(opcode, payload), None on timeout; raises ConnectionError when the socket ends."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed:
                opcode, payload = parsed
                if opcode == 9:
                    self.sock.sendall(frame(10, payload))
                    continue
                if opcode == 8:
                    self.closed_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return parsed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("socket closed")
            self.buffer += chunk

    def _parse(self):
        b = self.buffer
        if len(b) < 2:
            return None
        length, offset = b[1] & 0x7F, 2
        if length == 126:
            if len(b) < 4:
                return None
            length, offset = struct.unpack("!H", b[2:4])[0], 4
        elif length == 127:
            if len(b) < 10:
                return None
            length, offset = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < offset + length:
            return None
        self.buffer = b[offset + length:]
        return b[0] & 0x0F, b[offset:offset + length]

    def next_json(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            parsed = self.read_frame(deadline - time.monotonic())
            if parsed is None:
                return None
            opcode, payload = parsed
            if opcode == 8:
                raise ConnectionError("closed with %s" % self.closed_code)
            if opcode == 1:
                return json.loads(payload)
        return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- the healthy pair

class HealthyPair(threading.Thread):
    """healthy-sender sends peer messages to healthy-receiver, which acks each; every send must be
    answered 0 (delivered and acked) and every message must arrive, in order."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop_flag, self.failure, self.exchanged = port, threading.Event(), None, 0

    def login(self, user):
        ws = WebSocket(self.port)
        ws.send_text(json.dumps({"op": "login", "id": 1, "app_id": OPEN_APP, "user_id": user}))
        reply = ws.next_json(10)
        if not reply or reply.get("code") != 0:
            raise RuntimeError("%s login answered %r" % (user, reply))
        return ws

    def run(self):
        try:
            sender, receiver = self.login(HEALTHY_A), self.login(HEALTHY_B)
            request_id = 10
            while not self.stop_flag.is_set():
                request_id += 1
                text = "healthy %d" % request_id
                sender.send_text(json.dumps({"op": "send_peer", "id": request_id, "to": HEALTHY_B, "text": text}))
                got = None
                deadline = time.monotonic() + 15
                while got is None and time.monotonic() < deadline:
                    event = receiver.next_json(deadline - time.monotonic())
                    if event and event.get("event") == "peer_message":
                        receiver.send_text(json.dumps({"op": "ack", "message_id": event["message_id"]}))
                        if event.get("from") == HEALTHY_A:
                            got = event
                if got is None or got.get("text") != text:
                    raise RuntimeError("message %d not delivered (got %r)" % (request_id, got))
                reply = None
                while reply is None and time.monotonic() < deadline:
                    event = sender.next_json(deadline - time.monotonic())
                    if event and event.get("reply") == request_id:
                        reply = event
                if not reply or reply.get("code") != 0:
                    raise RuntimeError("send %d answered %r" % (request_id, reply))
                self.exchanged += 1
                time.sleep(0.05)
        except Exception as error:  # noqa: BLE001 - any failure of the healthy pair is the finding
            self.failure = "%s: %s" % (type(error).__name__, error)


# ---------------------------------------------------------------- WebSocket cases

OPS = ["login", "logout", "renew_token", "resume", "send_peer", "send_channel", "join", "leave", "get_members",
       "get_channel_member_count", "query_peers_online_status", "subscribe_peers_online_status",
       "unsubscribe_peers_online_status", "set_local_user_attributes", "add_or_update_local_user_attributes",
       "delete_local_user_attributes_by_keys", "clear_local_user_attributes", "get_user_attributes",
       "set_channel_attributes", "add_or_update_channel_attributes", "delete_channel_attributes_by_keys",
       "clear_channel_attributes", "get_channel_attributes", "ack", "send_invitation", "nope"]


def random_value(rng, depth=0):
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0: return None
    if choice == 1: return rng.random() < 0.5
    if choice == 2: return rng.choice([0, -1, 1, 2**31, 2**63 - 1, -2**63, 2**64, rng.randrange(-1000, 1000)])
    if choice == 3: return rng.choice([0.5, -0.0, 1e308, 1e-320])
    if choice in (4, 5): return random_text(rng)
    if choice == 6: return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 7: return {random_text(rng, 8): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [{"key": random_text(rng, 40), "value": random_text(rng)} for _ in range(rng.randrange(5))]


def random_text(rng, limit=64):
    pool = ["", "a", "room", "fz-%d" % rng.randrange(50), HEALTHY_B, "x" * rng.randrange(1, 300), "\u0000", "\u00e9",
            "\U0001F600", "\ud800", "\\", "\"", "null", "%2F", " lead", "trail "]
    text = rng.choice(pool) if rng.random() < 0.7 else "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(limit)))
    return text[:limit * 8]


def random_op(rng, user):
    op = rng.choice(OPS)
    body = {"op": op, "id": rng.choice([rng.randrange(1, 10000), "7", None, -1, 1.5])}
    for field in rng.sample(["app_id", "user_id", "token", "to", "text", "raw", "description", "offline", "history",
                             "channel", "channels", "user_ids", "keys", "attributes", "notify", "session_id",
                             "last_event_seq", "message_id"], rng.randrange(5)):
        body[field] = random_value(rng)
    if op == "login" and rng.random() < 0.7:
        body.update({"id": 1, "app_id": OPEN_APP, "user_id": user})
    if rng.random() < 0.2:
        body = random_value(rng)
    return json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        if not data:
            data += bytes([rng.randrange(256)])
        kind, at = rng.randrange(5), rng.randrange(len(data))
        if kind == 0: data[at] = rng.randrange(256)
        elif kind == 1: del data[at:at + rng.randrange(1, 8)]
        elif kind == 2: data[at:at] = rng.choice([b"{", b"}", b"[", b"\"", b"\\u", b",", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])
        elif kind == 3: data[at:at] = data[rng.randrange(len(data)):][:rng.randrange(1, 16)]
        else: data = data[:at]
    return bytes(data)


def ws_case(rng, user):
    """A list of byte strings to send, one write each (a write may hold several frames or part of one)."""
    writes = []
    if rng.random() < 0.5:
        writes.append(frame(1, json.dumps({"op": "login", "id": 1, "app_id": OPEN_APP, "user_id": user}).encode()))
    for _ in range(rng.randrange(1, 6)):
        kind = rng.randrange(16)
        op = random_op(rng, user)
        if kind <= 3:
            writes.append(frame(1, op))
        elif kind == 4:
            writes.append(frame(1, mutate(rng, op)))
        elif kind == 5:
            writes.append(frame(1, os.urandom(rng.randrange(1, 200)) if rng.random() < 0.5 else bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))))
        elif kind == 6:
            writes.append(frame(1, op, mask=False))
        elif kind == 7:
            writes.append(frame(rng.choice([0, 2, 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]), op))
        elif kind == 8:
            writes.append(frame(1, op, rsv=rng.randrange(1, 8)))
        elif kind == 9:  # fragments: a sequence, or a broken one
            pieces = [op[i:i + max(1, len(op) // 3)] for i in range(0, len(op), max(1, len(op) // 3))]
            shape = rng.randrange(4)
            for index, piece in enumerate(pieces):
                first = index == 0 and shape != 1
                last = index == len(pieces) - 1 and shape != 2
                writes.append(frame(1 if first else 0, piece, fin=last))
                if shape == 3 and rng.random() < 0.5:
                    writes.append(frame(rng.choice([9, 10, 1]), b"x"))
        elif kind == 10:  # lengths: non-minimal, lying, huge
            form = rng.choice(["16", "64"])
            data = frame(1, op, length_form=form)
            if rng.random() < 0.5:  # declare more than is sent
                header = bytearray(data[:10 if form == "64" else 4])
                if form == "64":
                    header[2:10] = struct.pack("!Q", rng.choice([len(op) + 5, 2**32, 2**63 - 1, 2**64 - 1]))
                else:
                    header[2:4] = struct.pack("!H", min(len(op) + rng.randrange(1, 500), 65535))
                data = bytes(header) + data[len(header):]
            writes.append(data)
        elif kind == 11:  # truncation
            data = frame(1, op)
            writes.append(data[:rng.randrange(1, len(data))])
            break
        elif kind == 12:  # close frames
            payload = rng.choice([b"", b"\x03", struct.pack("!H", rng.choice([0, 999, 1000, 1004, 1005, 1006, 1015, 1016, 2999, 3000, 4999, 5000, 65535])),
                                  struct.pack("!H", 1000) + b"\xff\xfe", struct.pack("!H", 1000) + b"x" * 200])
            writes.append(frame(8, payload, length_form="short" if len(payload) < 126 else None))
        elif kind == 13:  # control frames: big, fragmented
            writes.append(frame(rng.choice([9, 10]), b"p" * rng.choice([0, 125, 126, 1000]), fin=rng.random() < 0.7))
        elif kind == 14:  # binary and large text
            writes.append(frame(rng.choice([1, 2]), op * rng.randrange(1, 400)))
        else:  # raw junk on the wire
            writes.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
    return writes


def run_ws_case(port, seed, number, tally):
    rng = random.Random("%d-ws-%d" % (seed, number))
    user = "fz-%d" % rng.randrange(200)
    ws = WebSocket(port)
    outcome = "open"
    try:
        for data in ws_case(rng, user):
            ws.sock.sendall(data)
            if rng.random() < 0.3:
                time.sleep(0.002)
        deadline = time.monotonic() + rng.choice([0.02, 0.1, 0.3])
        while time.monotonic() < deadline:
            parsed = ws.read_frame(deadline - time.monotonic())
            if parsed is None:
                break
            if parsed[0] == 8:
                outcome = "close %s" % ws.closed_code
                break
    except (ConnectionError, OSError):
        outcome = "closed" if ws.closed_code is None else "close %s" % ws.closed_code
    finally:
        if rng.random() < 0.3 and outcome == "open":
            try:
                ws.send_text(json.dumps({"op": "logout", "id": 99}))
            except OSError:
                pass
        ws.close()
    tally[outcome] += 1


# ---------------------------------------------------------------- REST cases

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post", "P0ST", "CONNECT"]


def rest_path(rng):
    app = OPEN_APP if rng.random() < 0.6 else rng.choice([OPEN_APP.upper(), "x", "", "%30" + OPEN_APP[1:], "0" * 33])
    user = "userA" if rng.random() < 0.5 else rng.choice(["userA", "a%2Fb", "", "%", "%zz", "x" * 65, "\u00e9".encode().decode("latin-1"), "a b", "healthy%2Dsender", "..", "%00"])
    base = "/dev/v2/project/%s/rtm" % app
    path = rng.choice([
        base + "/users/%s/peer_messages" % user, base + "/users/%s/channel_messages" % user,
        base + "/message/history/query", base + "/message/history/query/" + rng.choice(["h", "%41", "x" * 300, ""]),
        base + "/message/history/count", base + "/vendor/user_events", base + "/vendor/channel_events",
        "/healthz", "/readyz", "/metrics", "/v1/ws", "/", "*", "/dev/v2/project", "//dev//v2", "/%2e%2e/etc/passwd"])
    if rng.random() < 0.4:
        query = "&".join("%s=%s" % (rng.choice(["wait_for_ack", "source", "destination", "start_time", "end_time", "limit",
                                                   "x", "", "%", "wait_for_ack%3D"]),
                                      rng.choice(["true", "false", "0", "1", "%", "%zz", "a+b", "2020-01-01T00:00:00Z", "9" * 30, ""]))
                         for _ in range(rng.randrange(1, 5)))
        path += "?" + query
    if rng.random() < 0.1:
        path = mutate(rng, path.encode()).decode("latin-1")
    return path


def rest_body(rng):
    bodies = [
        {"destination": rng.choice(["userB", HEALTHY_B, "", "x" * 70]), "payload": random_text(rng, 200)},
        {"channel_name": rng.choice(["room", "", "a b"]), "payload": random_text(rng, 100)},
        {"destination": "userB", "payload": "hi", "enable_offline_messaging": random_value(rng), "enable_historical_messaging": random_value(rng)},
        {"filter": {"source": "userA", "destination": "userB", "start_time": "2020-01-01T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
         "limit": random_value(rng), "order": random_value(rng), "offset": random_value(rng)},
        random_value(rng),
    ]
    data = json.dumps(rng.choice(bodies), ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    kind = rng.randrange(8)
    if kind == 0: return mutate(rng, data), None
    if kind == 1: return bytes(rng.randrange(256) for _ in range(rng.randrange(200))), None
    if kind == 2: return gzip.compress(data), "gzip"
    if kind == 3: return data.decode("utf-8", "replace").encode("utf-16"), rng.choice([None, "identity"])
    if kind == 4: return data + b'{"duplicate":1}', None
    return data, None


def rest_case(rng):
    """(request bytes, well_formed): a well-formed request must be answered (or closed) promptly."""
    path = rest_path(rng)
    if rng.random() < 0.7:  # mostly the route's own method, so requests get past the router
        method = "POST" if path.split("?")[0].endswith(("_messages", "/history/query")) else "GET"
    else:
        method = rng.choice(METHODS[:7] if rng.random() < 0.9 else METHODS)
    body, encoding = rest_body(rng) if rng.random() < 0.8 else (b"", None)
    headers = [("Host", rng.choice(["127.0.0.1", "", "x" * 300]))]
    auth = rng.randrange(7)
    if auth <= 2: headers.append(("Authorization", BASIC))
    elif auth == 3: headers.append(("Authorization", "Basic " + base64.b64encode(os.urandom(rng.randrange(30))).decode()))
    elif auth == 4: headers.append(("Authorization", rng.choice(["Basic", "Basic !!!", "Bearer x", "agora token=007abc", "basic " + BASIC[6:]])))
    elif auth == 5: headers += [("x-agora-token", rng.choice(["007abc", "006" + "a" * 40, "", "007" + "A" * 500])), ("x-agora-uid", rng.choice(["userA", "", "x" * 70]))]
    if rng.random() < 0.5: headers.append(("Content-Type", rng.choice(["application/json", "application/json; charset=utf-16", "text/plain", "", "multipart/form-data; boundary=x"])))
    if encoding: headers.append(("Content-Encoding", encoding))
    if rng.random() < 0.2: headers.append(("Expect", "100-continue"))
    if rng.random() < 0.3: headers.append(("Connection", rng.choice(["close", "keep-alive", "Upgrade", "x"])))
    if rng.random() < 0.1: headers.append(("X-Long", "v" * rng.choice([100, 4000, 15000])))
    if rng.random() < 0.1: headers += [("X-Dup", "1")] * rng.randrange(2, 60)
    framing = rng.randrange(10)
    well_formed = True
    if framing <= 5:
        headers.append(("Content-Length", str(len(body))))
    elif framing == 6:  # chunked, valid
        headers.append(("Transfer-Encoding", "chunked"))
        chunks, at = b"", 0
        while at < len(body):
            size = rng.randrange(1, 40)
            chunks += b"%x\r\n" % len(body[at:at + size]) + body[at:at + size] + b"\r\n"
            at += size
        body = chunks + b"0\r\n\r\n"
    elif framing == 7:  # no framing: a body-less request (the body bytes become the next request)
        body = b""
    else:  # malformed framing (NIO's parser refuses): answered or not is owned by the HTTP deadlines work
        well_formed = False
        bad = rng.choice([[("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")],
                          [("Content-Length", str(len(body))), ("Content-Length", str(len(body) + 1))],
                          [("Content-Length", "-1")], [("Content-Length", "abc")], [("Transfer-Encoding", "chunked")]])
        headers += bad
    if path and any(ord(c) < 0x21 or ord(c) > 0x7E for c in path):
        well_formed = False
    version = rng.choice(["HTTP/1.1"] * 17 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1x"])
    if version not in ("HTTP/1.1", "HTTP/1.0") or method in ("CONNECT", "P0ST", "post") or path in ("*",) or not path.startswith("/"):
        well_formed = False
    head = "%s %s %s\r\n" % (method, path, version) + "".join("%s: %s\r\n" % pair for pair in headers) + "\r\n"
    return head.encode("latin-1", "replace") + body, well_formed


def run_rest_case(port, seed, number, tally, failures, hang_seconds):
    rng = random.Random("%d-rest-%d" % (seed, number))
    request, well_formed = rest_case(rng)
    try:
        status, outcome = http_exchange(port, request, hang_seconds)
    except OSError as error:
        status, outcome = None, "connect-error %s" % error.__class__.__name__
    key = str(status) if status else outcome
    tally[key] += 1
    if status and status >= 500:
        failures.append("REST case %d answered %d: %r" % (number, status, request[:300]))
    elif outcome == "hang":
        # Well-formed or not, every request gets an answer or a close (a malformed framing: 400 and close).
        kind = "well-formed" if well_formed else "malformed"
        failures.append("REST case %d (%s) left hanging (no answer or close in %ss): %r" % (number, kind, hang_seconds, request[:300]))


# ---------------------------------------------------------------- the run

def run_cases(count, seconds, workers, work):
    """Runs work(number) for numbers 0..count-1 on `workers` threads, stopping at `seconds`."""
    deadline = time.monotonic() + seconds
    lock, state = threading.Lock(), {"next": 0, "done": 0}

    def worker():
        while time.monotonic() < deadline:
            with lock:
                number = state["next"]
                if number >= count:
                    return
                state["next"] += 1
            work(number)
            with lock:
                state["done"] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return state["done"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=".build/debug/rtm")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ws-cases", type=int, default=2000)
    parser.add_argument("--rest-cases", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=120, help="time bound of each of the two runs")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--hang-seconds", type=float, default=3)
    parser.add_argument("--rss-slack-mib", type=float, default=48)
    parser.add_argument("--settle-seconds", type=float, default=60, help="how long RSS may take to come back")
    arguments = parser.parse_args()

    server = Server(arguments.bin)
    failures = []
    healthy = HealthyPair(server.port)
    try:
        healthy.start()
        time.sleep(1)
        # Warm-up: a few cases of each kind, so caches and pools the server keeps count in the baseline.
        warm = Counter()
        for number in range(50):
            run_ws_case(server.port, arguments.seed + 1_000_000, number, warm)
            run_rest_case(server.port, arguments.seed + 1_000_000, number, warm, [], arguments.hang_seconds)
        time.sleep(2)
        baseline = server.rss_mib()
        print("server pid %d on 127.0.0.1:%d, RSS baseline %.1f MiB (after warm-up)" % (server.process.pid, server.port, baseline))

        peak = [baseline]
        stop_sampling = threading.Event()

        def sample():
            while not stop_sampling.is_set():
                peak[0] = max(peak[0], server.rss_mib())
                time.sleep(0.2)
        threading.Thread(target=sample, daemon=True).start()

        ws_tally, ws_errors = Counter(), []

        def ws_work(number):
            try:
                run_ws_case(server.port, arguments.seed, number, ws_tally)
            except OSError as error:
                ws_errors.append("WebSocket case %d: %s" % (number, error))
        started = time.monotonic()
        ws_done = run_cases(arguments.ws_cases, arguments.seconds, arguments.workers, ws_work)
        print("WebSocket: %d cases in %.1f s; outcomes: %s" % (ws_done, time.monotonic() - started, dict(ws_tally.most_common())))
        if ws_errors:
            print("  could not connect in %d cases (first: %s)" % (len(ws_errors), ws_errors[0]))
            if not server.alive():
                failures.append("the server exited during the WebSocket run")

        rest_tally = Counter()
        started = time.monotonic()
        # REST cases mostly wait (a malformed framing waits out --hang-seconds): four times the workers.
        rest_done = run_cases(arguments.rest_cases, arguments.seconds, arguments.workers * 4,
                              lambda number: run_rest_case(server.port, arguments.seed, number, rest_tally, failures,
                                                           arguments.hang_seconds))
        print("REST: %d cases in %.1f s; answers: %s" % (rest_done, time.monotonic() - started, dict(rest_tally.most_common())))

        if not server.alive():
            failures.append("the server exited (code %s)" % server.process.returncode)
        elif not server.healthz():
            failures.append("/healthz does not answer 200 after the run")
        # Sessions of dropped fuzz sockets live out their 30 s grace period; RSS must come back.
        settled = -1.0
        settle_deadline = time.monotonic() + arguments.settle_seconds
        while time.monotonic() < settle_deadline and server.alive():
            settled = server.rss_mib()
            if settled <= baseline + arguments.rss_slack_mib:
                break
            time.sleep(1)
        stop_sampling.set()
        print("RSS: baseline %.1f MiB, peak %.1f MiB, after the run %.1f MiB (allowed %.1f)" %
              (baseline, peak[0], settled, baseline + arguments.rss_slack_mib))
        if settled > baseline + arguments.rss_slack_mib:
            failures.append("RSS stayed at %.1f MiB, above baseline %.1f + %.1f MiB" % (settled, baseline, arguments.rss_slack_mib))
        healthy.stop_flag.set()
        healthy.join(20)
        print("healthy pair: %d messages sent, delivered and acked" % healthy.exchanged)
        if healthy.failure:
            failures.append("the healthy clients saw a failure: " + healthy.failure)
        elif healthy.exchanged == 0:
            failures.append("the healthy clients exchanged nothing")
    finally:
        healthy.stop_flag.set()
        if failures and not server.alive():
            print("server log tail:\n" + server.tail())
        server.stop()
    for failure in failures[:20]:
        print("FAIL " + failure)
    print("live fuzz: %s" % ("FAILED (%d)" % len(failures) if failures else "passed"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
