#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz entries (Fuzz/corpus/<entry>/seed-*). Run once; the files are kept
in the repository, and scripts/fuzz.sh adds what libFuzzer finds to a scratch copy, never here.
Token seeds come from the test vectors kept in Tests/Fixtures/rtm-tokens.json."""
import base64, json, os, sys, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
APP = "970CA35de60c44645bbae8a215061b33"
BASIC = "Basic " + base64.b64encode(b"fuzz-customer:fuzz-secret").decode()


def write(entry, seeds):
    folder = os.path.join(root, entry)
    os.makedirs(folder, exist_ok=True)
    for index, seed in enumerate(seeds):
        with open(os.path.join(folder, "seed-%02d" % index), "wb") as out:
            out.write(seed if isinstance(seed, bytes) else seed.encode())


write("json-parser", [
    '{"op":"login","id":1,"app_id":"a","user_id":"u","token":null}',
    '[1,-2,3.5,-0.0,1e10,1E-3,123456789012345678901,true,false,null]',
    '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u00e9 \\ud83d\\ude00"',
    '{"a":{"b":[{"c":"\u00e9 é 😀"}]},"d":[]}',
    ' \t\n\r{ "k" : [ ] , "l" : { } } ',
    '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
])

frames = [
    {"op": "login", "id": 1, "app_id": APP, "user_id": "userA", "token": "007abc"},
    {"op": "logout", "id": 2},
    {"op": "renew_token", "id": 3, "token": "007abc"},
    {"op": "resume", "id": 4, "session_id": "s-1", "token": None, "last_event_seq": 7},
    {"op": "send_peer", "id": 5, "to": "userB", "text": "hi", "offline": True, "history": False},
    {"op": "send_channel", "id": 6, "channel": "room", "raw": "aGk=", "description": "d", "history": True},
    {"op": "join", "id": 7, "channel": "room"},
    {"op": "leave", "id": 8, "channel": "room"},
    {"op": "get_members", "id": 9, "channel": "room"},
    {"op": "get_channel_member_count", "id": 10, "channels": ["a", "b"]},
    {"op": "query_peers_online_status", "id": 11, "user_ids": ["a"]},
    {"op": "subscribe_peers_online_status", "id": 12, "user_ids": ["a"]},
    {"op": "unsubscribe_peers_online_status", "id": 13, "user_ids": ["a"]},
    {"op": "set_local_user_attributes", "id": 14, "attributes": [{"key": "k", "value": "v"}]},
    {"op": "add_or_update_local_user_attributes", "id": 15, "attributes": [{"key": "k", "value": "v"}]},
    {"op": "delete_local_user_attributes_by_keys", "id": 16, "keys": ["k"]},
    {"op": "clear_local_user_attributes", "id": 17},
    {"op": "get_user_attributes", "id": 18, "user_id": "u", "keys": None},
    {"op": "set_channel_attributes", "id": 19, "channel": "c", "attributes": [{"key": "k", "value": "v"}], "notify": True},
    {"op": "delete_channel_attributes_by_keys", "id": 20, "channel": "c", "keys": ["k"], "notify": False},
    {"op": "clear_channel_attributes", "id": 21, "channel": "c"},
    {"op": "get_channel_attributes", "id": 22, "channel": "c", "keys": ["k"]},
    {"op": "send_invitation", "id": 23, "callee": "b"},
    {"op": "ack", "message_id": "m-1"},
]
write("request-parser", [json.dumps(frame, separators=(",", ":")) for frame in frames])

vectors = None
for path in ("../Tests/Fixtures/rtm-tokens.json",):
    full = os.path.join(os.path.dirname(os.path.abspath(__file__)), path)
    if os.path.exists(full):
        vectors = json.load(open(full))
        break
if vectors is None:
    sys.exit("no token vectors found")
tokens = [case["token"] for case in vectors["cases"] if isinstance(case.get("token"), str)]
seeds006, seeds007 = [b"\x02userA", b"\x02"], [b"\x03userA", b"\x03"]
for token in tokens:
    raw = token.encode()
    if token.startswith("006"):
        seeds006.append(b"\x01" + raw)
        try:
            seeds006.append(b"\x00" + base64.b64decode(token[35:], validate=True))
        except Exception:
            pass
    elif token.startswith("007"):
        seeds007.append(b"\x02" + raw)
        try:
            compressed = base64.b64decode(token[3:], validate=True)
            seeds007.append(b"\x01" + compressed)
            seeds007.append(b"\x00" + zlib.decompress(compressed))
        except Exception:
            pass
write("token-006", seeds006)
write("token-007", seeds007)


def request(method, path, headers, body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"] + ["%s: %s" % pair for pair in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


base = "/dev/v2/project/%s/rtm/users/userA/" % APP
peer = b'{"destination":"userB","payload":"hi"}'
channel = b'{"channel_name":"room","payload":"hi"}'
auth = [("Authorization", BASIC)]
length = lambda body: [("Content-Length", str(len(body)))]
rest = [
    request("POST", base + "peer_messages", auth + length(peer), peer),
    request("POST", base + "channel_messages", auth + length(channel), channel),
    request("POST", base + "peer_messages?wait_for_ack=false", auth + length(peer), peer),
    request("POST", base + "peer_messages", [("x-agora-token", "007abc"), ("x-agora-uid", "userA")] + length(peer), peer),
    request("POST", base + "peer_messages", auth + [("Transfer-Encoding", "chunked")], b"5\r\n" + peer[:5] + b"\r\n%x\r\n" % (len(peer) - 5) + peer[5:] + b"\r\n0\r\n\r\n"),
    request("POST", base + "peer_messages", auth + length(peer), peer) + request("POST", base + "channel_messages", auth + length(channel), channel),
    request("POST", base + "peer_messages", auth + [("Content-Length", "70000")], b"{"),
    request("POST", base + "peer_messages", auth + length(b'{"destination":"userB","payload":"hi","enable_offline_messaging":true}'),
            b'{"destination":"userB","payload":"hi","enable_offline_messaging":true}'),
    request("GET", "/dev/v2/project/%s/rtm/message/history/count?source=a&destination=b" % APP, auth),
    request("POST", base + "peer_messages", auth + [("Connection", "close")] + length(peer), peer),
]
write("rest-fast-path", [b"\x00" + seed for seed in rest] + [b"\x07" + rest[0], b"\x01" + rest[5]])
