#!/usr/bin/python3
"""Conformance check of jobmatchd against CONTRACT.md and docs/protocol.md.

Usage: check_contract.py BUILD_DIR [--seed N] [--keep]

Starts its own daemons (temporary data directories, free ports), checks framing,
envelope, errors, records and their field rules, roles and redaction, every
operation of protocol.md with valid input, ranking version 1 against an
independent implementation (ranking_v1.py) and persistence over a restart.
Exits 0 only when every check passes.
"""
import math
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import msgpack  # noqa: E402

import ranking_v1 as R  # noqa: E402
from contract_client import Client, frame, pack  # noqa: E402

ADMIN_KEY = "conf-admin-key-0123456789abcdef"
COUNSELOR_KEY = "conf-counselor-key-0123456789"
NODE_KEY = "conf-node-key-0123456789abcd"
KIOSK_KEY = "conf-kiosk-key-0123456789abcd"

# ---------------------------------------------------------------------------
# results

PASSED = 0
FAILED = 0
FAILURES = []
SECTION = [""]


def check(name, cond, expected=None, actual=None):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        return True
    FAILED += 1
    msg = f"FAIL [{SECTION[0]}] {name}\n    expected: {short(expected)}\n    actual:   {short(actual)}"
    FAILURES.append(msg)
    print(msg, flush=True)
    return False


def short(x, n=900):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


NOTES = []


def note(msg):
    NOTES.append(f"[{SECTION[0]}] {msg}")
    print(f"NOTE [{SECTION[0]}] {msg}", flush=True)


def section(name):
    SECTION[0] = name
    print(f"== {name}", flush=True)


def run_section(name, fn, *a):
    section(name)
    try:
        fn(*a)
    except Exception as e:  # a crash in a section is one failure, the others still run
        check("section ran to the end", False, "no exception",
              f"{type(e).__name__}: {e}\n{traceback.format_exc()}")


# ---------------------------------------------------------------------------
# a hand-written msgpack encoder, for bodies a normal library will not produce
# (invalid UTF-8 in a str, duplicate keys)


class RawStr(bytes):
    """Encoded as msgpack str with these exact bytes."""


class Pairs(list):
    """Encoded as a msgpack map with these (key, value) pairs, duplicates allowed."""


def enc(o):
    if isinstance(o, RawStr):
        n = len(o)
        if n < 32:
            return bytes([0xA0 | n]) + bytes(o)
        if n < 256:
            return b"\xd9" + bytes([n]) + bytes(o)
        return b"\xda" + struct.pack(">H", n) + bytes(o)
    if isinstance(o, Pairs):
        out = b"\xde" + struct.pack(">H", len(o)) if len(o) >= 16 else bytes([0x80 | len(o)])
        for k, v in o:
            out += enc(k) + enc(v)
        return out
    if isinstance(o, dict):
        return enc(Pairs(o.items()))
    if isinstance(o, list):
        out = b"\xdc" + struct.pack(">H", len(o)) if len(o) >= 16 else bytes([0x90 | len(o)])
        for v in o:
            out += enc(v)
        return out
    return pack(o)


# ---------------------------------------------------------------------------
# the daemon


class Daemon:
    def __init__(self, build, tmp, name, extra=(), env=None):
        self.env = env or {}
        self.build = build
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.cfg = os.path.join(self.dir, "jobmatchd.ini")
        with open(self.cfg, "w") as f:
            f.write("[keys]\n")
            f.write(f"desk = counselor:{COUNSELOR_KEY}\n")
            f.write(f"peer = node:{NODE_KEY}\n")
            f.write(f"pub = kiosk:{KIOSK_KEY}\n")
        self.extra = list(extra)
        self.proc = None
        self.addr = None
        self.log = os.path.join(self.dir, "daemon.log")

    def start(self, log_level="warn"):
        ready = os.path.join(self.dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        env = dict(os.environ, JOBMATCH_ADMIN_KEY=ADMIN_KEY, **self.env)
        cmd = [os.path.join(self.build, "jobmatchd"), "--config", self.cfg,
               "--listen", "127.0.0.1:0", "--data", self.data, "--ready-file", ready,
               "--log-level", log_level] + self.extra
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}; log:\n" + open(self.log).read())
            if os.path.exists(ready):
                line = open(ready).read().split("\n")[0].strip()
                if line:
                    self.addr = line
                    return self.addr
            time.sleep(0.05)
        raise RuntimeError("daemon not ready after 20 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def conn(self, key=None, source=None, timeout=30.0):
        host, port = self.addr.rsplit(":", 1)
        if source:
            c = Client.__new__(Client)
            c.sock = socket.create_connection((host, int(port)), timeout=timeout,
                                              source_address=(source, 0))
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.next_id = 1
            c.pushes = []
            c._buf = b""
        else:
            c = Client(host, int(port), timeout=timeout)
        if key is not None:
            c.hello(key)
        return c


# ---------------------------------------------------------------------------
# helpers


def expect_ok(name, resp, req_id=None):
    ok = isinstance(resp, dict) and resp.get("ok") is True and "result" in resp
    if req_id is not None:
        ok = ok and resp.get("id") == req_id
    check(name, ok, "ok response" + (f" id {req_id}" if req_id is not None else ""), resp)
    return resp.get("result") if ok else None


def expect_err(name, resp, code, message=None, prefix=None, req_id=None, not_contains=None):
    err = resp.get("error") if isinstance(resp, dict) else None
    good = (isinstance(resp, dict) and resp.get("ok") is False and isinstance(err, dict)
            and err.get("code") == code and isinstance(err.get("message"), str))
    if good and message is not None:
        good = err["message"] in message if isinstance(message, tuple) else err["message"] == message
    if good and prefix is not None:
        good = err["message"].startswith(prefix)
    if good and req_id is not None:
        good = resp.get("id") == req_id
    if good and not_contains:
        good = all(s not in err["message"] for s in not_contains)
    exp = {"code": code}
    if message is not None:
        exp["message"] = message
    if prefix is not None:
        exp["message starts with"] = prefix
    if req_id is not None:
        exp["id"] = req_id
    if not_contains:
        exp["message does not contain"] = not_contains
    check(name, good, exp, resp)
    return good


def check_keys(name, m, keys, ordered=False):
    if not isinstance(m, dict):
        return check(name, False, f"map with keys {keys}", m)
    if ordered:
        return check(name, list(m.keys()) == list(keys), list(keys), list(m.keys()))
    return check(name, set(m.keys()) == set(keys), sorted(keys), sorted(m.keys()))


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def vac(id_, **kw):
    v = {"id": id_, "employer": "Acme Machinery", "title": "Welder",
         "occupation": "6-05-02-03", "region": "110105"}
    v.update(kw)
    return v


def wrk(id_, **kw):
    w = {"id": id_, "birth_year": 1990, "region": "110105"}
    w.update(kw)
    return w


VACANCY_KEYS = ["id", "employer", "title", "occupation", "region", "skills", "education_min",
                "age_min", "age_max", "wage_min", "wage_max", "headcount", "filled",
                "priority_categories", "posted", "expires", "status", "origin"]
HELLO_KEYS = ["server", "version", "protocol", "role", "node"]
CATS = ["laid_off", "unemployed", "graduate", "migrant", "other"]


def worker_keys(w):
    keys = ["id"]
    for k in ("name", "national_id", "phone"):
        if k in w:
            keys.append(k)
    keys += ["birth_year", "region", "education", "skills", "desired_occupations", "wage_min",
             "category"]
    if "center" in w:
        keys.append("center")
    keys += ["registered", "status"]
    return keys


# ---------------------------------------------------------------------------
# 1. framing


def bad_frame_case(d, name, raw, message=None, prefix=None, key=None, before_ping=True):
    c = d.conn(key)
    try:
        data = b""
        if before_ping:
            data += frame(pack({"id": 77, "op": "ping"}))
        data += raw
        c.send_raw(data)
        if before_ping:
            r = c.recv()
            check(f"{name}: request before the bad frame answered first", r.get("id") == 77 and r.get("result") == "pong",
                  {"id": 77, "ok": True, "result": "pong"}, r)
        r = c.recv()
        expect_err(f"{name}: bad_frame", r, "bad_frame", message=message, prefix=prefix, req_id=0)
        check(f"{name}: bad_frame response has no extra top-level keys", set(r.keys()) == {"id", "ok", "error"},
              ["error", "id", "ok"], sorted(r.keys()))
        check(f"{name}: connection closed after bad_frame", c.is_closed(4.0), "EOF", "still open")
    except (ConnectionError, OSError) as e:
        check(f"{name}: bad_frame response readable", False, "bad_frame response then close", repr(e))
    finally:
        c.close()


def test_framing(d):
    # the byte-for-byte ping of protocol.md 1.2
    c = d.conn()
    c.send_raw(bytes.fromhex("0000000d82a2696401a26f70a470696e67"))
    hdr = c._read_exact(4)
    (n,) = struct.unpack(">I", hdr)
    body = c._read_exact(n)
    check("ping example: response decodes to the documented map",
          msgpack.unpackb(body, raw=False) == {"id": 1, "ok": True, "result": "pong"},
          {"id": 1, "ok": True, "result": "pong"}, msgpack.unpackb(body, raw=False))
    check("ping example: response bytes as in protocol.md 1.2",
          hdr + body == bytes.fromhex("0000001583a2696401a26f6bc3a6726573756c74a4706f6e67"),
          "00000015 83 a2 69 64 01 a2 6f 6b c3 a6 72 65 73 75 6c 74 a4 70 6f 6e 67", (hdr + body).hex())
    c.close()

    bad_frame_case(d, "length 0 (anonymous)", b"\x00\x00\x00\x00", prefix="frame length 0 is outside 1..")
    bad_frame_case(d, "length 0 (admin)", b"\x00\x00\x00\x00", message="frame length 0 is outside 1..1048576",
                   key=ADMIN_KEY)
    bad_frame_case(d, "length max_frame+1 (admin)", struct.pack(">I", 1048577),
                   message="frame length 1048577 is outside 1..1048576", key=ADMIN_KEY)
    bad_frame_case(d, "length 2^32-1 (admin)", b"\xff\xff\xff\xff",
                   message="frame length 4294967295 is outside 1..1048576", key=ADMIN_KEY)
    # exactly at the limits is accepted
    def padded_ping(total, rid):
        base = {"id": rid, "op": "ping", "pad": ""}
        n0 = len(pack(base))
        pad = "x" * (total - n0)
        body = pack({"id": rid, "op": "ping", "pad": pad})
        while len(body) > total:
            pad = pad[:-1]
            body = pack({"id": rid, "op": "ping", "pad": pad})
        while len(body) < total:
            pad += "x"
            body = pack({"id": rid, "op": "ping", "pad": pad})
        assert len(body) == total, (len(body), total)
        return body
    c = d.conn()
    c.send_body(padded_ping(8192, 5))
    r = c.recv()
    check("anonymous frame of exactly 8192 bytes accepted", r.get("id") == 5 and r.get("result") == "pong",
          {"id": 5, "ok": True, "result": "pong"}, r)
    c.close()
    # CONTRACT.md: "1 <= N <= max_frame (configurable, default 1 MiB)"; a frame outside that
    # range is bad_frame; "Nothing else closes a connection on bad input."  protocol.md 1.3 adds
    # an 8 KiB limit before a hello with a key, which contradicts that for a default server.
    c = d.conn()
    c.send_body(padded_ping(9000, 8))
    try:
        r = c.recv()
    except (ConnectionError, OSError) as e:
        r = repr(e)
    check("[contract] anonymous frame of 9000 bytes (within 1..max_frame, default 1 MiB) is answered",
          isinstance(r, dict) and r.get("id") == 8 and r.get("result") == "pong",
          {"id": 8, "ok": True, "result": "pong"}, r)
    if isinstance(r, dict) and r.get("error", {}).get("code") == "bad_frame":
        note("protocol.md 1.3 behaviour seen: " + r["error"]["message"])
    c.close()
    c = d.conn(COUNSELOR_KEY)
    c.send_body(padded_ping(1048576, 6))
    r = c.recv()
    check("frame of exactly max_frame accepted after a hello with a key",
          r.get("id") == 6 and r.get("result") == "pong", {"id": 6, "result": "pong"}, short(r, 200))
    c.close()
    # the kiosk's largest request fits the anonymous limit (protocol.md 1.3)
    prof = {"birth_year": 1990, "region": "110105",
            "skills": [{"id": ("s%02d" % i) + "k" * 61, "level": 5} for i in range(64)],
            "desired_occupations": ["6-05-02-03"] * 16, "education": 7, "wage_min": 100000000,
            "category": "unemployed", "status": "available"}
    c = d.conn()
    r = c.request("match.vacancies", {"profile": prof, "scope": "province", "limit": 200,
                                      "explain": True, "as_of": 1800000000})
    expect_ok("largest kiosk profile request fits before hello", r)
    c.close()

    bad_frame_case(d, "body is an array", frame(b"\x92\x01\x02"), message="body is not a map")
    bad_frame_case(d, "body is a JSON text (not msgpack)", frame(b'{"id": 1, "op": "ping"}'), prefix="")
    bad_frame_case(d, "body is an int", frame(b"\x01"), message="body is not a map")
    bad_frame_case(d, "trailing byte after the map", frame(pack({"id": 1, "op": "ping"}) + b"\x00"),
                   message="trailing bytes after the map (1)")
    bad_frame_case(d, "two maps in one frame", frame(pack({"id": 1}) + pack({"id": 2})),
                   prefix="trailing bytes after the map")
    bad_frame_case(d, "byte 0xc1", frame(b"\x81\xa2id\xc1"), message="invalid byte 0xc1 at offset 4")
    bad_frame_case(d, "truncated value", frame(b"\x81\xa2id\xcd\x00"), message="truncated")
    bad_frame_case(d, "declared string longer than the frame",
                   frame(b"\x81\xa1a\xdb\xff\xff\xff\xff"),
                   message="declared string of 4294967295 bytes exceeds the frame")
    bad_frame_case(d, "declared array longer than the frame",
                   frame(b"\x81\xa1a\xdd\x00\x01\x00\x00"), prefix="declared array of 65536 elements")
    deep = b"\x83\xa2id\x01\xa2op\xa4ping\xa1a" + b"\x91" * 32 + b"\x01"
    bad_frame_case(d, "nesting 33 levels", frame(deep), message="nesting deeper than 32 levels")
    ok_deep = b"\x83\xa2id\x09\xa2op\xa4ping\xa1a" + b"\x91" * 31 + b"\x01"
    c = d.conn()
    c.send_body(ok_deep)
    r = c.recv()
    check("nesting of exactly 32 levels accepted", r.get("id") == 9 and r.get("result") == "pong",
          {"id": 9, "result": "pong"}, r)
    c.close()


# ---------------------------------------------------------------------------
# 2. envelope


def test_envelope(d):
    c = d.conn()

    def after_ok(name):
        r = c.request("ping")
        check(f"{name}: connection usable afterwards", r.get("ok") is True and r.get("result") == "pong",
              "pong", r)

    cases = [
        ("id missing", {"op": "ping"}, 0, "id: required"),
        ("id nil (nil = absent, protocol.md)", {"id": None, "op": "ping"}, 0, "id: required"),
        ("op nil", {"id": 4, "op": None}, 4, "op: required"),
        ("id negative", {"id": -1, "op": "ping"}, 0, "id: must be a non-negative integer"),
        ("id a string", {"id": "1", "op": "ping"}, 0, "id: must be a non-negative integer"),
        ("id a float", {"id": 1.0, "op": "ping"}, 0, "id: must be a non-negative integer"),
        ("op missing", {"id": 5}, 5, "op: required"),
        ("op an int", {"id": 6, "op": 3}, 6, "op: must be a string"),
        ("op binary", {"id": 7, "op": b"ping"}, 7, "op: must be a string"),
        ("op empty", {"id": 8, "op": ""}, 8, "op: must be 1..64 bytes"),
        ("op 65 bytes", {"id": 9, "op": "p" * 65}, 9, "op: must be 1..64 bytes"),
        ("args an array", {"id": 10, "op": "ping", "args": [1]}, 10, "args: must be a map"),
        ("args a string", {"id": 11, "op": "ping", "args": "x"}, 11, "args: must be a map"),
    ]
    for name, req, rid, msg in cases:
        c.send_body(pack(req))
        r = c.recv()
        expect_err(f"envelope {name}", r, "bad_request", message=msg, req_id=rid)
        after_ok(f"envelope {name}")
    c.send_body(enc({"id": 12, "op": RawStr(b"pi\xffng")}))
    expect_err("envelope op invalid UTF-8", c.recv(), "bad_request", message="op: invalid UTF-8", req_id=12)
    after_ok("op invalid UTF-8")
    # unknown op
    r = c.request("vacancy.rename", {"id": "x"})
    expect_err("unknown op", r, "unknown_op", message="op: unknown operation 'vacancy.rename'")
    after_ok("unknown op")
    # args nil / absent = empty map; unknown envelope keys ignored; big ids echoed
    c.send_body(pack({"id": 13, "op": "ping", "args": None}))
    r = c.recv()
    check("args nil accepted", r == {"id": 13, "ok": True, "result": "pong"}, {"id": 13, "ok": True, "result": "pong"}, r)
    c.send_body(pack({"id": 14, "op": "ping", "x-trace": [1, {"a": None}], "args": {"junk": 1}}))
    r = c.recv()
    check("unknown envelope and args keys ignored", r == {"id": 14, "ok": True, "result": "pong"},
          {"id": 14, "ok": True, "result": "pong"}, r)
    big = 2 ** 64 - 1
    c.send_body(pack({"id": big, "op": "ping"}))
    r = c.recv()
    check("id 2^64-1 echoed", r.get("id") == big and r.get("ok") is True, big, r)
    c.send_body(pack({"id": 0, "op": "ping"}))
    r = c.recv()
    check("id 0 accepted", r.get("id") == 0 and r.get("ok") is True, {"id": 0, "ok": True}, r)
    # duplicate key: the first one counts
    c.send_body(enc(Pairs([("id", 15), ("op", "ping"), ("op", "no.such.op")])))
    r = c.recv()
    check("duplicate key: first one counts", r.get("id") == 15 and r.get("result") == "pong",
          {"id": 15, "result": "pong"}, r)
    # invalid UTF-8 in an argument string
    c.send_body(enc({"id": 16, "op": "vacancy.get", "args": {"id": RawStr(b"v\xc0\xaf")}}))
    expect_err("invalid UTF-8 in an argument", c.recv(), "bad_request", prefix="id:", req_id=16)
    # overlong / surrogate forms
    c.send_body(enc({"id": 17, "op": "occupation.suggest", "args": {"text": RawStr(b"\xed\xa0\x80")}}))
    expect_err("UTF-8 surrogate in an argument", c.recv(), "bad_request", message="text: invalid UTF-8", req_id=17)
    after_ok("invalid UTF-8 argument")
    # check order: unknown_op before forbidden before bad_request
    r = c.request("worker.put", {"worker": 5})
    expect_err("kiosk worker.put with a bad argument is forbidden (role before arguments)", r, "forbidden",
               message="role kiosk may not use worker.put")
    r = c.request("admin.backup", {})
    expect_err("kiosk admin.backup without path is forbidden", r, "forbidden",
               message="role kiosk may not use admin.backup")
    # pipelining: 200 requests in one write, responses in order
    reqs = []
    for i in range(200):
        reqs.append(("ping", None) if i % 3 else ("vacancy.get", {"id": f"nope-{i}"}))
    out = c.pipeline(reqs)
    good = all((r.get("result") == "pong") if i % 3 else (r.get("error", {}).get("code") == "not_found")
               for i, r in enumerate(out))
    check("200 pipelined requests answered in order", good, "pong / not_found alternating", [r.get("id") for r in out[:6]])
    c.close()

    # writes then reads in one packet: the read sees the write
    a = d.conn(ADMIN_KEY)
    reqs = []
    for i in range(30):
        reqs.append(("vacancy.put", {"vacancy": vac(f"pipe-{i}", title=f"T{i}")}))
        reqs.append(("vacancy.get", {"id": f"pipe-{i}"}))
    reqs.append(("vacancy.put", {"vacancy": vac("pipe-0", title="changed")}))
    reqs.append(("vacancy.get", {"id": "pipe-0"}))
    out = a.pipeline(reqs)
    good = all(out[2 * i].get("ok") and out[2 * i + 1].get("ok")
               and out[2 * i + 1]["result"]["vacancy"]["title"] == f"T{i}" for i in range(30))
    check("pipelined put + get: each get sees its put", good, "all ok, titles T0..T29",
          [(r.get("ok"), r.get("result")) for r in out[:4]])
    check("pipelined replace then get sees the replacement",
          out[-1].get("ok") and out[-1]["result"]["vacancy"]["title"] == "changed", "changed", out[-1])
    # a bad request inside a pipeline does not disturb the others
    c2 = d.conn()
    data = frame(pack({"id": 1, "op": "ping"})) + frame(pack({"op": "ping"})) + \
        frame(pack({"id": 3, "op": "nope"})) + frame(pack({"id": 4, "op": "ping"}))
    c2.send_raw(data)
    rs = [c2.recv() for _ in range(4)]
    check("pipeline with bad requests: answered in order, connection open",
          [r.get("id") for r in rs] == [1, 0, 3, 4] and rs[3].get("result") == "pong",
          [1, 0, 3, 4], rs)
    c2.close()
    a.close()


# ---------------------------------------------------------------------------
# 3. hello and ping


def test_hello(d):
    c = d.conn()
    r = c.call("hello", {"protocol": 1})
    check_keys("hello result keys", r, HELLO_KEYS)
    check("hello without key: kiosk, protocol 1, server jobmatchd",
          r.get("role") == "kiosk" and r.get("protocol") == 1 and r.get("server") == "jobmatchd"
          and isinstance(r.get("version"), str) and isinstance(r.get("node"), str),
          {"role": "kiosk", "protocol": 1, "server": "jobmatchd"}, r)
    r = c.call("hello", {})
    check("hello with protocol absent defaults to 1", r.get("role") == "kiosk", "kiosk", r)
    check("ping -> pong", c.call("ping") == "pong", "pong", None)
    r = c.request("hello", {"protocol": 2})
    expect_err("hello protocol 2", r, "bad_request", message="protocol: version 2 is not supported (this server speaks 1)")
    r = c.request("hello", {"protocol": "1"})
    expect_err("hello protocol a string", r, "bad_request", message="protocol: must be an integer 0..2147483647")
    r = c.request("hello", {"protocol": 1, "key": ""})
    expect_err("hello empty key", r, "bad_request", message="key: must be 1..1024 bytes")
    r = c.request("hello", {"protocol": 1, "key": "k" * 1025})
    expect_err("hello key of 1025 bytes", r, "bad_request", message="key: must be 1..1024 bytes")
    for key, role in ((COUNSELOR_KEY, "counselor"), (NODE_KEY, "node"), (KIOSK_KEY, "kiosk"), (ADMIN_KEY, "admin")):
        r = c.call("hello", {"protocol": 1, "key": key})
        check(f"hello with the {role} key switches to {role}", r.get("role") == role, role, r)
    c.call("hello", {"protocol": 1, "key": COUNSELOR_KEY})
    t0 = time.time()
    r = c.request("hello", {"protocol": 1, "key": "wrong-key-0123456789"})
    dt = time.time() - t0
    expect_err("hello with a wrong key", r, "unauthorized", message="key: not recognised")
    check("wrong key answered after a delay (>= ~100 ms)", dt >= 0.09, ">= 0.1 s", f"{dt:.3f} s")
    r = c.call("hello", {"protocol": 1})
    check("wrong key leaves the role unchanged", r.get("role") == "counselor", "counselor", r.get("role"))
    r = c.request("worker.list", {"limit": 1})
    expect_ok("role unchanged: counselor may still list workers", r)
    c.close()
    # wrong key from an anonymous connection: still kiosk, still usable
    # 5 wrong keys on one connection: the 5th answered then closed (from another client address)
    c = d.conn(source="127.0.0.3")
    codes = []
    closed_early = False
    delays = []
    for i in range(5):
        try:
            t1 = time.time()
            r = c.request("hello", {"protocol": 1, "key": f"bad-{i}-0123456789"})
            delays.append(time.time() - t1)
            codes.append(r.get("error", {}).get("code"))
        except (ConnectionError, OSError):
            closed_early = True
            break
    check("5 wrong keys: each unauthorized", codes == ["unauthorized"] * 5 and not closed_early,
          ["unauthorized"] * 5, codes)
    check("wrong-key delays grow (100, 200, 400, 800, 1600 ms)",
          len(delays) == 5 and all(dl >= 0.09 * 2 ** i for i, dl in enumerate(delays)),
          [0.1, 0.2, 0.4, 0.8, 1.6], [round(x, 3) for x in delays])
    closed = c.is_closed(3.0)
    # CONTRACT.md: "a wrong key is `unauthorized` and leaves the role unchanged" ...
    # "Nothing else [than a bad frame] closes a connection on bad input."
    check("[contract] 5 wrong keys do not close the connection (only a bad frame closes)", not closed,
          "connection still open", "closed after the 5th unauthorized (protocol.md 5.1)")
    c.close()


# ---------------------------------------------------------------------------
# 4. records


def test_records(d):
    a = d.conn(ADMIN_KEY)
    t0 = int(time.time())
    v = vac("v-1001", skills=[{"id": "welding.arc", "level": 3}, {"id": "a/b:c-d_e.f", "level": 1}],
            wage_min=6000, wage_max=9000, headcount=2, priority_categories=["migrant", "laid_off", "other"],
            filled=7, origin="elsewhere", junk={"x": 1}, expires=0)
    r = a.call("vacancy.put", {"vacancy": v})
    check("vacancy.put insert -> created true", r == {"id": "v-1001", "created": True}, {"id": "v-1001", "created": True}, r)
    got = a.call("vacancy.get", {"id": "v-1001"})
    check_keys("vacancy.get result keys", got, ["vacancy"])
    g = got["vacancy"]
    check_keys("vacancy canonical form: 18 keys in order", g, VACANCY_KEYS, ordered=True)
    check("vacancy defaults and values",
          g.get("education_min") == 0 and g.get("age_min") == 0 and g.get("age_max") == 0
          and g.get("wage_min") == 6000 and g.get("wage_max") == 9000 and g.get("headcount") == 2
          and g.get("status") == "open" and g.get("expires") == 0
          and g.get("skills") == v["skills"], "defaults filled, values kept", g)
    check("vacancy filled sent by client ignored (0)", g.get("filled") == 0, 0, g.get("filled"))
    check("vacancy origin sent by client ignored (node id)", g.get("origin") == "local", "local", g.get("origin"))
    check("priority_categories returned in fixed order", g.get("priority_categories") == ["laid_off", "migrant", "other"],
          ["laid_off", "migrant", "other"], g.get("priority_categories"))
    check("posted defaults to the server's time", is_int(g.get("posted")) and abs(g["posted"] - t0) <= 5, t0, g.get("posted"))
    check("unknown record fields dropped", "junk" not in g, "no junk", list(g))
    r = a.call("vacancy.put", {"vacancy": vac("v-1001", posted=1700000000)})
    check("vacancy.put replace -> created false", r == {"id": "v-1001", "created": False}, {"id": "v-1001", "created": False}, r)
    g = a.call("vacancy.get", {"id": "v-1001"})["vacancy"]
    check("replacement is complete (fields left out take defaults)",
          g["skills"] == [] and g["wage_max"] == 0 and g["headcount"] == 1 and g["posted"] == 1700000000
          and g["priority_categories"] == [], "defaults", g)
    # boundaries accepted
    bv = vac("A.z_0:9-" + "x" * 56, employer="e" * 128, title="t" * 256,
             skills=[{"id": f"s{i}", "level": 1 + i % 5} for i in range(64)], education_min=7,
             age_min=150, age_max=150, wage_min=100000000, wage_max=100000000, headcount=1000000,
             priority_categories=CATS, posted=-5, expires=2 ** 62, status="closed")
    r = a.request("vacancy.put", {"vacancy": bv})
    expect_ok("vacancy at every upper bound accepted", r)
    r = a.request("vacancy.put", {"vacancy": vac("utf8-title", title="焊工（电焊）", employer="北京某某机械有限公司")})
    expect_ok("vacancy with UTF-8 text accepted", r)
    g = a.call("vacancy.get", {"id": "utf8-title"})["vacancy"]
    check("UTF-8 text returned unchanged", g["title"] == "焊工（电焊）", "焊工（电焊）", g["title"])
    # nil = absent
    r = a.request("vacancy.put", {"vacancy": vac("nil-fields", skills=None, education_min=None, status=None,
                                                  expires=None, headcount=None)})
    expect_ok("nil optional fields = absent", r)
    if r.get("ok"):
        g = a.call("vacancy.get", {"id": "nil-fields"})["vacancy"]
        check("nil optional fields take defaults", g["skills"] == [] and g["status"] == "open" and g["headcount"] == 1,
              "defaults", g)

    # a map holding the same key twice: the first one counts (protocol.md 2.1), also in records
    a.send_body(enc({"id": 901, "op": "vacancy.put",
                     "args": {"vacancy": Pairs(list(vac("dup-key").items()) + [("title", "SECOND")])}}))
    expect_ok("record with a repeated key accepted", a.recv())
    g = a.call("vacancy.get", {"id": "dup-key"})["vacancy"]
    check("record with a repeated key: the first one counts", g["title"] == "Welder", "Welder", g["title"])
    # times are int64
    r = a.request("vacancy.put", {"vacancy": vac("t64", posted=-2 ** 63, expires=2 ** 63 - 1)})
    expect_ok("posted = int64 min, expires = int64 max accepted", r)
    g = a.call("vacancy.get", {"id": "t64"})["vacancy"]
    check("int64 extremes returned unchanged", g["posted"] == -2 ** 63 and g["expires"] == 2 ** 63 - 1,
          (-2 ** 63, 2 ** 63 - 1), (g["posted"], g["expires"]))
    expect_err("posted above int64", a.request("vacancy.put", {"vacancy": vac("t64b", posted=2 ** 64 - 1)}), "bad_request",
               message="vacancy.posted: must be an integer -9223372036854775808..9223372036854775807")
    expect_err("headcount a bool", a.request("vacancy.put", {"vacancy": vac("hb", headcount=True)}), "bad_request",
               message="vacancy.headcount: must be an integer 1..1000000")

    # every vacancy field rule
    P = "vacancy."
    bad_v = [
        ("id missing", {"id": None}, P + "id: required"),
        ("id with a space", {"id": "v 1"}, P + "id: must be 1..64 bytes of [A-Za-z0-9._:-]"),
        ("id with a slash", {"id": "v/1"}, P + "id: must be 1..64 bytes of [A-Za-z0-9._:-]"),
        ("id empty", {"id": ""}, (P + "id: must be 1..64 bytes of [A-Za-z0-9._:-]", P + "id: must be 1..64 bytes")),
        ("id 65 bytes", {"id": "v" * 65}, (P + "id: must be 1..64 bytes of [A-Za-z0-9._:-]", P + "id: must be 1..64 bytes")),
        ("id an int", {"id": 5}, P + "id: must be a string"),
        ("employer missing", {"employer": None}, P + "employer: required"),
        ("employer empty", {"employer": ""}, P + "employer: must be 1..128 bytes"),
        ("employer 129 bytes", {"employer": "e" * 129}, P + "employer: must be 1..128 bytes"),
        ("employer 43 CJK chars = 129 bytes", {"employer": "厂" * 43}, P + "employer: must be 1..128 bytes"),
        ("employer binary", {"employer": b"Acme"}, P + "employer: must be a string"),
        ("employer invalid UTF-8", {"employer": RawStr(b"Ac\xffme")}, P + "employer: invalid UTF-8"),
        ("title missing", {"title": None}, P + "title: required"),
        ("title empty", {"title": ""}, P + "title: must be 1..256 bytes"),
        ("title 257 bytes", {"title": "t" * 257}, P + "title: must be 1..256 bytes"),
        ("occupation missing", {"occupation": None}, P + "occupation: required"),
        ("occupation a prefix", {"occupation": "6-05-02"}, P + "occupation: must be a code D-DD-DD-DD"),
        ("occupation one digit short", {"occupation": "6-5-02-03"}, P + "occupation: must be a code D-DD-DD-DD"),
        ("occupation with a letter", {"occupation": "6-05-02-0a"}, P + "occupation: must be a code D-DD-DD-DD"),
        ("occupation underscores", {"occupation": "6_05_02_03"}, P + "occupation: must be a code D-DD-DD-DD"),
        ("occupation too long", {"occupation": "6-05-02-031"}, P + "occupation: must be a code D-DD-DD-DD"),
        ("occupation fullwidth digit", {"occupation": "６-05-02-03"}, P + "occupation: must be a code D-DD-DD-DD"),
        ("region missing", {"region": None}, P + "region: required"),
        ("region 5 digits", {"region": "11010"}, P + "region: must be a 6-digit code"),
        ("region 7 digits", {"region": "1101050"}, P + "region: must be a 6-digit code"),
        ("region with a letter", {"region": "11010a"}, P + "region: must be a 6-digit code"),
        ("region an int", {"region": 110105}, P + "region: must be a string"),
        ("skills a map", {"skills": {"id": "x", "level": 1}}, P + "skills: must be an array"),
        ("skills 65 entries", {"skills": [{"id": f"s{i}", "level": 1} for i in range(65)]}, P + "skills: at most 64 entries"),
        ("skill not a map", {"skills": ["weld"]}, P + "skills[0]: must be a map"),
        ("skill id missing", {"skills": [{"level": 2}]}, P + "skills[0].id: required"),
        ("skill id with a space", {"skills": [{"id": "a", "level": 1}, {"id": "we ld", "level": 2}]},
         P + "skills[1].id: must be 1..64 bytes of [A-Za-z0-9._:/-]"),
        ("skill id 65 bytes", {"skills": [{"id": "s" * 65, "level": 2}]}, (P + "skills[0].id: must be 1..64 bytes of [A-Za-z0-9._:/-]", P + "skills[0].id: must be 1..64 bytes")),
        ("skill id empty", {"skills": [{"id": "", "level": 2}]}, (P + "skills[0].id: must be 1..64 bytes of [A-Za-z0-9._:/-]", P + "skills[0].id: must be 1..64 bytes")),
        ("skill level missing", {"skills": [{"id": "weld"}]}, P + "skills[0].level: required"),
        ("skill level 0", {"skills": [{"id": "weld", "level": 0}]}, P + "skills[0].level: must be an integer 1..5"),
        ("skill level 6", {"skills": [{"id": "weld", "level": 6}]}, P + "skills[0].level: must be an integer 1..5"),
        ("skill level float", {"skills": [{"id": "weld", "level": 3.0}]}, P + "skills[0].level: must be an integer 1..5"),
        ("skill ids repeated", {"skills": [{"id": "weld", "level": 1}, {"id": "cook", "level": 1}, {"id": "weld", "level": 2}]},
         P + "skills[2].id: duplicate skill id"),
        ("education_min 8", {"education_min": 8}, P + "education_min: must be an integer 0..7"),
        ("education_min -1", {"education_min": -1}, P + "education_min: must be an integer 0..7"),
        ("education_min float", {"education_min": 1.0}, P + "education_min: must be an integer 0..7"),
        ("age_min -1", {"age_min": -1}, P + "age_min: must be an integer 0..150"),
        ("age_max 151", {"age_max": 151}, P + "age_max: must be an integer 0..150"),
        ("wage_min -1", {"wage_min": -1}, P + "wage_min: must be an integer 0..100000000"),
        ("wage_max too big", {"wage_max": 100000001}, P + "wage_max: must be an integer 0..100000000"),
        ("wage_max a string", {"wage_max": "9000"}, P + "wage_max: must be an integer 0..100000000"),
        ("headcount 0", {"headcount": 0}, P + "headcount: must be an integer 1..1000000"),
        ("headcount too big", {"headcount": 1000001}, P + "headcount: must be an integer 1..1000000"),
        ("priority_categories a string", {"priority_categories": "migrant"}, P + "priority_categories: must be an array"),
        ("priority_categories unknown", {"priority_categories": ["boss"]},
         P + "priority_categories[0]: must be one of laid_off, unemployed, graduate, migrant, other"),
        ("priority_categories repeated", {"priority_categories": ["migrant", "migrant"]},
         P + "priority_categories[1]: duplicate category"),
        ("priority_categories 6 entries", {"priority_categories": CATS + ["other"]}, P + "priority_categories"),
        ("posted a string", {"posted": "now"}, P + "posted: must be an integer"),
        ("expires -1", {"expires": -1}, P + "expires: must be an integer >= 0"),
        ("status paused", {"status": "paused"}, P + "status: must be one of open, closed"),
        ("status Open", {"status": "Open"}, P + "status: must be one of open, closed"),
    ]
    a.call("vacancy.put", {"vacancy": vac("keep-v", title="Original")})
    for name, change, msg in bad_v:
        rec = vac("keep-v", title="Changed")
        rec.update(change)
        if rec.get("id") is None:
            rec.pop("id")
        body = enc({"id": 900, "op": "vacancy.put", "args": {"vacancy": rec}})
        a.send_body(body)
        r = a.recv()
        if name == "priority_categories 6 entries":
            expect_err(f"vacancy rule: {name}", r, "bad_request", prefix=msg)
        else:
            expect_err(f"vacancy rule: {name}", r, "bad_request", message=msg)
    g = a.call("vacancy.get", {"id": "keep-v"})["vacancy"]
    check("rejected vacancy puts changed nothing", g["title"] == "Original", "Original", g["title"])
    expect_err("vacancy.put without vacancy", a.request("vacancy.put", {}), "bad_request", message="vacancy: required")
    expect_err("vacancy.put vacancy not a map", a.request("vacancy.put", {"vacancy": [1]}), "bad_request", message="vacancy: must be a map")

    # workers
    w = wrk("w-1", name="Li Lei", national_id="110105199001011234", phone="13800000000", education=3,
            skills=[{"id": "welding.arc", "level": 4}], desired_occupations=["6-05"], wage_min=5000,
            category="laid_off", center="c-01", junk=1)
    r = a.call("worker.put", {"worker": w})
    check("worker.put insert -> created true", r == {"id": "w-1", "created": True}, {"id": "w-1", "created": True}, r)
    g = a.call("worker.get", {"id": "w-1"})
    check_keys("worker.get result keys", g, ["worker"])
    g = g["worker"]
    exp = dict(w)
    exp.pop("junk")
    check_keys("worker canonical form with personal fields: 14 keys in order", g, worker_keys(exp), ordered=True)
    check("worker values returned", all(g.get(k) == exp[k] for k in exp) and g.get("status") == "available",
          exp, g)
    check("registered defaults to the server's time", is_int(g.get("registered")) and abs(g["registered"] - t0) <= 5,
          t0, g.get("registered"))
    r = a.call("worker.put", {"worker": wrk("w-2", birth_year=2001, region="110106", category="graduate",
                                            desired_occupations=["6-01"])})
    check("worker.put second insert", r == {"id": "w-2", "created": True}, {"id": "w-2", "created": True}, r)
    g = a.call("worker.get", {"id": "w-2"})["worker"]
    check_keys("worker canonical form without optional fields: 10 keys", g,
               ["id", "birth_year", "region", "education", "skills", "desired_occupations", "wage_min",
                "category", "registered", "status"], ordered=True)
    check("worker defaults", g.get("education") == 0 and g.get("skills") == [] and g.get("wage_min") == 0
          and g.get("status") == "available", "defaults", g)
    bw = wrk("w-bounds", name="n" * 256, national_id="x" * 256, phone="p" * 256, birth_year=2100, education=7,
             skills=[{"id": f"k{i}", "level": 5} for i in range(64)],
             desired_occupations=["6", "6-05", "6-05-02", "6-05-02-03"] * 3 + ["6", "6", "2-02", "4"],
             wage_min=100000000, category="migrant", center="c" * 64, registered=-1, status="inactive")
    r = a.request("worker.put", {"worker": bw})
    expect_ok("worker at every upper bound accepted", r)
    if r.get("ok"):
        g = a.call("worker.get", {"id": "w-bounds"})["worker"]
        check("desired_occupations kept as sent (order, repeats)", g["desired_occupations"] == bw["desired_occupations"],
              bw["desired_occupations"], g["desired_occupations"])
    r = a.request("worker.put", {"worker": wrk("w-1900", birth_year=1900)})
    expect_ok("worker birth_year 1900 accepted", r)
    r = a.call("worker.put", {"worker": wrk("w-1", birth_year=1991)})
    check("worker.put replace -> created false", r == {"id": "w-1", "created": False}, {"id": "w-1", "created": False}, r)
    g = a.call("worker.get", {"id": "w-1"})["worker"]
    check("worker replacement drops personal fields left out", "name" not in g and "phone" not in g, "no name", g)
    a.call("worker.put", {"worker": w})

    P = "worker."
    bad_w = [
        ("id missing", {"id": None}, P + "id: required"),
        ("id with a space", {"id": "w 1"}, P + "id: must be 1..64 bytes of [A-Za-z0-9._:-]"),
        ("id 65 bytes", {"id": "w" * 65}, (P + "id: must be 1..64 bytes of [A-Za-z0-9._:-]", P + "id: must be 1..64 bytes")),
        ("name empty", {"name": ""}, P + "name: must be 1..256 bytes"),
        ("name 257 bytes", {"name": "n" * 257}, P + "name: must be 1..256 bytes"),
        ("name an int", {"name": 7}, P + "name: must be a string"),
        ("national_id empty", {"national_id": ""}, P + "national_id: must be 1..256 bytes"),
        ("phone 257 bytes", {"phone": "1" * 257}, P + "phone: must be 1..256 bytes"),
        ("birth_year missing", {"birth_year": None}, P + "birth_year: required"),
        ("birth_year 1899", {"birth_year": 1899}, P + "birth_year: must be an integer 1900..2100"),
        ("birth_year 2101", {"birth_year": 2101}, P + "birth_year: must be an integer 1900..2100"),
        ("birth_year a string", {"birth_year": "1990"}, P + "birth_year: must be an integer 1900..2100"),
        ("region missing", {"region": None}, P + "region: required"),
        ("region 4 digits", {"region": "1101"}, P + "region: must be a 6-digit code"),
        ("education 8", {"education": 8}, P + "education: must be an integer 0..7"),
        ("education -1", {"education": -1}, P + "education: must be an integer 0..7"),
        ("skills 65 entries", {"skills": [{"id": f"s{i}", "level": 1} for i in range(65)]}, P + "skills: at most 64 entries"),
        ("skills repeated", {"skills": [{"id": "a", "level": 1}, {"id": "a", "level": 1}]}, P + "skills[1].id: duplicate skill id"),
        ("skill level 6", {"skills": [{"id": "a", "level": 6}]}, P + "skills[0].level: must be an integer 1..5"),
        ("skill level missing", {"skills": [{"id": "a"}]}, P + "skills[0].level: required"),
        ("skill id bad", {"skills": [{"id": "a|b", "level": 1}]}, P + "skills[0].id: must be 1..64 bytes of [A-Za-z0-9._:/-]"),
        ("desired_occupations 17 entries", {"desired_occupations": ["6"] * 17}, P + "desired_occupations: at most 16 entries"),
        ("desired_occupations not an array", {"desired_occupations": "6-05"}, P + "desired_occupations: must be an array"),
        ("desired occupation 6-0", {"desired_occupations": ["6-0"]},
         P + "desired_occupations[0]: must be an occupation code D-DD-DD-DD or a prefix of one (D, D-DD, D-DD-DD)"),
        ("desired occupation 6-05-", {"desired_occupations": ["6", "6-05-"]},
         P + "desired_occupations[1]: must be an occupation code D-DD-DD-DD or a prefix of one (D, D-DD, D-DD-DD)"),
        ("desired occupation 65", {"desired_occupations": ["65"]},
         P + "desired_occupations[0]: must be an occupation code D-DD-DD-DD or a prefix of one (D, D-DD, D-DD-DD)"),
        ("desired occupation empty", {"desired_occupations": [""]},
         P + "desired_occupations[0]: must be an occupation code D-DD-DD-DD or a prefix of one (D, D-DD, D-DD-DD)"),
        ("desired occupation too long", {"desired_occupations": ["6-05-02-03-01"]},
         P + "desired_occupations[0]: must be an occupation code D-DD-DD-DD or a prefix of one (D, D-DD, D-DD-DD)"),
        ("desired occupation 6-05-2", {"desired_occupations": ["6-05-2"]},
         P + "desired_occupations[0]: must be an occupation code D-DD-DD-DD or a prefix of one (D, D-DD, D-DD-DD)"),
        ("desired occupation an int", {"desired_occupations": [6]}, P + "desired_occupations[0]: must be a string"),
        ("wage_min -1", {"wage_min": -1}, P + "wage_min: must be an integer 0..100000000"),
        ("wage_min too big", {"wage_min": 100000001}, P + "wage_min: must be an integer 0..100000000"),
        ("category unknown", {"category": "retired"}, P + "category: must be one of laid_off, unemployed, graduate, migrant, other"),
        ("center empty", {"center": ""}, P + "center: must be 1..64 bytes"),
        ("center 65 bytes", {"center": "c" * 65}, P + "center: must be 1..64 bytes"),
        ("registered a float", {"registered": 1.5}, P + "registered: must be an integer"),
        ("status unknown", {"status": "retired"}, P + "status: must be one of available, employed, inactive"),
    ]
    a.call("worker.put", {"worker": wrk("keep-w", name="Keep Name", wage_min=1)})
    for name, change, msg in bad_w:
        rec = wrk("keep-w", name="Changed Name", wage_min=2)
        rec.update(change)
        if rec.get("id") is None:
            rec.pop("id")
        r = a.request("worker.put", {"worker": {k: v for k, v in rec.items()}})
        expect_err(f"worker rule: {name}", r, "bad_request", message=msg)
    g = a.call("worker.get", {"id": "keep-w"})["worker"]
    check("rejected worker puts changed nothing", g.get("name") == "Keep Name" and g.get("wage_min") == 1,
          {"name": "Keep Name", "wage_min": 1}, g)
    expect_err("worker.put without worker", a.request("worker.put", {}), "bad_request", message="worker: required")
    # messages never quote values
    secret = "SECRET-VALUE-42"
    r = a.request("worker.put", {"worker": wrk("leak", name=secret, national_id=secret, region=secret)})
    expect_err("error message does not quote the value sent", r, "bad_request", message="worker.region: must be a 6-digit code",
               not_contains=[secret])
    r = a.request("worker.put", {"worker": wrk("leak", name=secret * 20)})
    expect_err("error message for a too-long name does not quote it", r, "bad_request", prefix="worker.name:",
               not_contains=[secret])

    # get
    expect_err("vacancy.get unknown", a.request("vacancy.get", {"id": "v-9"}), "not_found", message="vacancy v-9 not found")
    expect_err("worker.get unknown", a.request("worker.get", {"id": "w-9"}), "not_found", message="worker w-9 not found")
    expect_err("vacancy.get without id", a.request("vacancy.get", {}), "bad_request", message="id: required")
    expect_err("vacancy.get bad id", a.request("vacancy.get", {"id": "a b"}), "bad_request", prefix="id: must be")
    check("same id in both spaces: vacancy w-1 is not worker w-1",
          a.request("vacancy.get", {"id": "w-1"}).get("error", {}).get("code") == "not_found", "not_found", None)

    # put_many
    batch = [vac("v-2000", employer="Beta Foods", title="Packer", occupation="6-01-01-01", region="110106"),
             vac("v-2001", employer="Beta Foods", title="Packer", occupation="6-01-01-01", region="110106"),
             vac("v-1001", wage_max=9000), vac("v-2000", title="Packer 2", occupation="6-01-01-01", region="110106")]
    r = a.call("vacancy.put_many", {"vacancies": batch})
    check("vacancy.put_many counts (repeated id counts as replacement)",
          r == {"count": 4, "created": 2, "replaced": 2}, {"count": 4, "created": 2, "replaced": 2}, r)
    g = a.call("vacancy.get", {"id": "v-2000"})["vacancy"]
    check("put_many: later entry of a repeated id wins", g["title"] == "Packer 2", "Packer 2", g["title"])
    bad = [vac("v-3000"), {"id": "v-3001", "title": "Driver", "occupation": "4-02-02-01", "region": "120101"},
           vac("v-3002", skills=[{"id": "driving.c1", "level": 2}, {"id": "driving.c1", "level": 3}])]
    r = a.request("vacancy.put_many", {"vacancies": bad})
    expect_err("vacancy.put_many with bad records", r, "bad_request",
               message="2 of 3 vacancies break a rule, nothing was written; first: vacancies[1].employer: required")
    errs = r.get("error", {}).get("errors")
    check("put_many errors list", errs == [{"index": 1, "message": "vacancies[1].employer: required"},
                                           {"index": 2, "message": "vacancies[2].skills[1].id: duplicate skill id"}],
          "[{index 1 ...}, {index 2 ...}]", errs)
    check("put_many with a bad record writes nothing",
          a.request("vacancy.get", {"id": "v-3000"}).get("error", {}).get("code") == "not_found", "not_found", None)
    expect_err("vacancy.put_many empty", a.request("vacancy.put_many", {"vacancies": []}), "bad_request",
               message="vacancies: must be an array of 1..10000 records")
    expect_err("vacancy.put_many missing", a.request("vacancy.put_many", {}), "bad_request", message="vacancies: required")
    r = a.call("worker.put_many", {"workers": [wrk("w-3", birth_year=1975, region="120101", status="employed"),
                                               wrk("w-4", name="Wang", phone="139")]})
    check("worker.put_many", r == {"count": 2, "created": 2, "replaced": 0}, {"count": 2, "created": 2, "replaced": 0}, r)
    r = a.request("worker.put_many", {"workers": [wrk("w-5"), wrk("w-6", birth_year=1800)]})
    expect_err("worker.put_many bad record", r, "bad_request", prefix="1 of 2 workers break a rule, nothing was written; first: workers[1].birth_year: must be an integer 1900..2100")
    check("worker.put_many errors list", r.get("error", {}).get("errors") ==
          [{"index": 1, "message": "workers[1].birth_year: must be an integer 1900..2100"}],
          [{"index": 1, "message": "workers[1].birth_year: must be an integer 1900..2100"}], r.get("error"))

    # delete / close
    r = a.call("vacancy.delete", {"id": "v-2001"})
    check("vacancy.delete", r == {"id": "v-2001", "deleted": True}, {"id": "v-2001", "deleted": True}, r)
    expect_err("vacancy.delete again", a.request("vacancy.delete", {"id": "v-2001"}), "not_found", message="vacancy v-2001 not found")
    r = a.call("worker.delete", {"id": "w-3"})
    check("worker.delete", r == {"id": "w-3", "deleted": True}, {"id": "w-3", "deleted": True}, r)
    expect_err("worker.delete again", a.request("worker.delete", {"id": "w-3"}), "not_found", message="worker w-3 not found")
    before = a.call("vacancy.get", {"id": "v-2000"})["vacancy"]
    r = a.call("vacancy.close", {"id": "v-2000"})
    check("vacancy.close", r == {"id": "v-2000", "status": "closed"}, {"id": "v-2000", "status": "closed"}, r)
    after = a.call("vacancy.get", {"id": "v-2000"})["vacancy"]
    before["status"] = "closed"
    check("vacancy.close keeps every other field (posted included)", after == before, before, after)
    r = a.call("vacancy.close", {"id": "v-2000"})
    check("closing a closed vacancy succeeds", r == {"id": "v-2000", "status": "closed"}, {"id": "v-2000", "status": "closed"}, r)
    expect_err("vacancy.close unknown", a.request("vacancy.close", {"id": "nope"}), "not_found", message="vacancy nope not found")

    # list with pagination
    a.call("vacancy.put_many", {"vacancies": [vac(f"L-{i:03d}", region="4403%02d" % (i % 7)) for i in range(25)]})
    seen = []
    cursor = None
    pages = 0
    while True:
        args = {"region": "4403", "limit": 4}
        if cursor is not None:
            args["cursor"] = cursor
        page = a.call("vacancy.list", args)
        pages += 1
        check_keys("vacancy.list result keys", page, ["vacancies", "cursor"]) if pages == 1 else None
        seen += [v["id"] for v in page["vacancies"]]
        cursor = page["cursor"]
        if cursor is None or pages > 50:
            break
    check("vacancy.list region 4403 pages through all 25", sorted(seen) == [f"L-{i:03d}" for i in range(25)],
          25, sorted(seen))
    check("vacancy.list region order: by region code then creation",
          seen == [f"L-{i:03d}" for i in sorted(range(25), key=lambda i: (i % 7, i))], "region, creation", seen)
    page = a.call("vacancy.list", {"limit": 1000})
    ids = [v["id"] for v in page["vacancies"]]
    check("vacancy.list without filters: by id bytewise", ids == sorted(ids, key=lambda s: s.encode()), "sorted", ids[:10])
    check("vacancy.list records in canonical form", all(list(v.keys()) == VACANCY_KEYS for v in page["vacancies"]),
          VACANCY_KEYS, [list(v.keys()) for v in page["vacancies"][:1]])
    page = a.call("vacancy.list", {"status": "closed"})
    check("vacancy.list status filter", all(v["status"] == "closed" for v in page["vacancies"]) and
          "v-2000" in [v["id"] for v in page["vacancies"]], "closed only", [v["id"] for v in page["vacancies"]])
    page = a.call("vacancy.list", {"occupation": "6-01"})
    check("vacancy.list occupation filter", [v["id"] for v in page["vacancies"]] == ["v-2000"], ["v-2000"],
          [v["id"] for v in page["vacancies"]])
    p1 = a.call("worker.list", {"limit": 1})
    r = a.request("worker.list", {"status": "available", "cursor": p1["cursor"]})
    expect_err("cursor of another listing", r, "bad_request", message="cursor: does not belong to this listing")
    expect_err("vacancy.list region bad", a.request("vacancy.list", {"region": "11a"}), "bad_request", message="region: must be 1 to 6 digits")
    expect_err("vacancy.list limit 0", a.request("vacancy.list", {"limit": 0}), "bad_request", message="limit: must be an integer 1..1000")
    expect_err("vacancy.list status bad", a.request("vacancy.list", {"status": "x"}), "bad_request", message="status: must be open or closed")
    everyone = a.call("vacancy.list", {"limit": 1000})["vacancies"]
    for cat in ("migrant", "other", "graduate"):
        page = a.call("vacancy.list", {"category": cat, "limit": 1000})
        want = sorted(v["id"] for v in everyone if cat in v["priority_categories"])
        got = sorted(v["id"] for v in page["vacancies"])
        check(f"vacancy.list category {cat}: the vacancies giving it priority", got == want and page["cursor"] is None,
              want, got)
    page = a.call("worker.list", {"category": "laid_off"})
    check("worker.list category filter", [x["id"] for x in page["workers"]] == ["w-1"], ["w-1"], [x["id"] for x in page["workers"]])
    page = a.call("worker.list", {"occupation": "6-05"})
    check("worker.list occupation filter (a worker desiring 6 is not kept by 6-05)",
          sorted(x["id"] for x in page["workers"]) == ["w-1", "w-bounds"], ["w-1", "w-bounds"],
          sorted(x["id"] for x in page["workers"]))
    a.close()


# ---------------------------------------------------------------------------
# 5. roles and redaction

OPS_TABLE = {
    # op: (kiosk, counselor, node, admin)
    "hello": "KCNA", "ping": "KCNA", "vacancy.get": "KCNA", "vacancy.list": "KCNA",
    "vacancy.put": "CA", "vacancy.put_many": "CA", "vacancy.delete": "CA", "vacancy.close": "CA",
    "worker.get": "CA", "worker.list": "CA", "worker.put": "CA", "worker.put_many": "CA", "worker.delete": "CA",
    "match.vacancies": "KCNA", "match.workers": "CA", "match.explain": "CA", "match.counts": "NA",
    "admin.info": "A", "admin.check": "A", "audit.list": "A",
    "fair.create": "CA", "fair.register": "CA", "fair.unregister": "CA", "fair.get": "CA", "fair.allocate": "CA",
    "admin.backup": "A", "admin.stats": "A",
    "referral.create": "CA", "referral.update": "CA", "referral.get": "CA", "referral.list": "CA",
    "stats.supply_demand": "KCNA", "stats.wages": "KCNA", "stats.reemployment": "KCNA",
    "alert.subscribe": "CA", "alert.unsubscribe": "CA", "alert.listen": "CA", "alert.list": "CA",
    "alert.subscriptions": "CA", "occupation.suggest": "KCNA", "sync.pull": "NA",
}

# args that must not change anything whatever the role (bad or read-only)
SAFE_ARGS = {
    "hello": {"protocol": 1}, "ping": {}, "vacancy.get": {"id": "v-1001"}, "vacancy.list": {"limit": 1},
    "vacancy.put": {}, "vacancy.put_many": {}, "vacancy.delete": {}, "vacancy.close": {},
    "worker.get": {"id": "w-1"}, "worker.list": {"limit": 1}, "worker.put": {}, "worker.put_many": {},
    "worker.delete": {}, "match.vacancies": {"profile": {"birth_year": 1990, "region": "110105"}},
    "match.workers": {"vacancy": "v-1001"}, "match.explain": {"worker": "w-1", "vacancy": "v-1001"},
    "match.counts": {"skills": ["welding.arc"]}, "admin.info": {}, "admin.check": {}, "audit.list": {"limit": 1},
    "fair.create": {}, "fair.register": {}, "fair.unregister": {}, "fair.get": {}, "fair.allocate": {},
    "admin.backup": {}, "admin.stats": {}, "referral.create": {}, "referral.update": {},
    "referral.get": {}, "referral.list": {"limit": 1}, "stats.supply_demand": {"period": "2026"},
    "stats.wages": {}, "stats.reemployment": {"period": "2026"}, "alert.subscribe": {},
    "alert.unsubscribe": {}, "alert.listen": {}, "alert.list": {}, "alert.subscriptions": {},
    "occupation.suggest": {"text": "焊工"}, "sync.pull": {"limit": 1},
}


def test_roles(d):
    conns = {"kiosk(anon)": (d.conn(), "K", "kiosk"), "kiosk(key)": (d.conn(KIOSK_KEY), "K", "kiosk"),
             "counselor": (d.conn(COUNSELOR_KEY), "C", "counselor"), "node": (d.conn(NODE_KEY), "N", "node"),
             "admin": (d.conn(ADMIN_KEY), "A", "admin")}
    for label, (c, letter, role) in conns.items():
        for op, allowed in OPS_TABLE.items():
            r = c.request(op, SAFE_ARGS[op])
            code = r.get("error", {}).get("code") if not r.get("ok") else None
            if letter in allowed:
                check(f"{label} may use {op}", code not in ("forbidden", "unknown_op", "unauthorized"),
                      "not forbidden", r if code else "ok")
            else:
                expect_err(f"{label} may not use {op}", r, "forbidden", message=f"role {role} may not use {op}")
        # match.vacancies with a stored worker: counselor/admin only
        r = c.request("match.vacancies", {"worker": "w-1"})
        if letter in "CA":
            expect_ok(f"{label} match.vacancies by stored worker", r)
        else:
            expect_err(f"{label} match.vacancies by stored worker is forbidden", r, "forbidden")
    # redaction
    k = conns["kiosk(anon)"][0]
    cz = conns["counselor"][0]
    ad = conns["admin"][0]
    for label, c in (("counselor", cz), ("admin", ad)):
        g = c.call("worker.get", {"id": "w-1"})["worker"]
        check(f"{label} sees personal fields", g.get("name") == "Li Lei" and g.get("national_id") == "110105199001011234"
              and g.get("phone") == "13800000000", "name, national_id, phone", g)
        lst = c.call("worker.list", {"limit": 1000})["workers"]
        w1 = [x for x in lst if x["id"] == "w-1"]
        check(f"{label} worker.list has personal fields", w1 and w1[0].get("name") == "Li Lei", "Li Lei", w1)
    # kiosk: vacancies, ad-hoc matching and statistics only; never a worker record
    r = k.call("match.vacancies", {"profile": {"birth_year": 1990, "region": "110105",
                                               "skills": [{"id": "welding.arc", "level": 3}]}, "scope": "all"})
    check("kiosk match.vacancies by profile gives ids and scores only",
          all(set(m.keys()) <= {"id", "score", "explain"} for m in r["matches"]), "id, score", r)
    r = k.request("match.vacancies", {"profile": {"id": "x", "name": "Li", "birth_year": 1990, "region": "110105"}})
    check("profile with id/name is either refused or ignored",
          r.get("ok") is True or r.get("error", {}).get("code") == "bad_request", "ok or bad_request", r)
    r = k.call("stats.wages", {})
    check("kiosk stats.wages: figures only, no guideline overlay",
          not ({"below_p10", "above_p90", "truncated"} & set(r)), "no overlay keys", list(r))
    r = cz.call("stats.wages", {})
    check("counselor stats.wages has the overlay", {"below_p10", "above_p90", "truncated"} <= set(r),
          "overlay keys", list(r))
    for c, _, _ in conns.values():
        c.close()


# ---------------------------------------------------------------------------
# 6. the other operations of protocol.md


def test_operations(d, tmp):
    a = d.conn(ADMIN_KEY)
    cz = d.conn(COUNSELOR_KEY)
    nd = d.conn(NODE_KEY)
    k = d.conn()
    info = a.call("admin.info")
    check_keys("admin.info: 20 keys", info, ["server", "version", "node", "uptime", "started", "vacancies", "vacancies_open",
                                              "workers", "workers_available", "changelog_seq", "alerts_raised", "map_size",
                                              "map_used", "map_max", "connections", "threads", "commits", "writes", "peers",
                                              "secret_key_id"])
    check("admin.info types", info.get("server") == "jobmatchd" and is_int(info.get("vacancies"))
          and info.get("peers") == [] and isinstance(info.get("secret_key_id"), str), "types", info)
    lst = a.call("vacancy.list", {"limit": 1000})
    while lst["cursor"] is not None:
        nxt = a.call("vacancy.list", {"limit": 1000, "cursor": lst["cursor"]})
        lst["vacancies"] += nxt["vacancies"]
        lst["cursor"] = nxt["cursor"]
    check("admin.info vacancies = listed vacancies", info["vacancies"] == len(lst["vacancies"]),
          len(lst["vacancies"]), info["vacancies"])
    check("admin.info vacancies_open", info["vacancies_open"] == sum(v["status"] == "open" for v in lst["vacancies"]),
          sum(v["status"] == "open" for v in lst["vacancies"]), info["vacancies_open"])
    r = a.call("admin.check")
    check("admin.check ok", isinstance(r, dict) and r.get("ok") is True and isinstance(r.get("report"), str), {"ok": True}, r)
    st = a.call("admin.stats")
    check_keys("admin.stats keys", st, ["uptime", "started", "connections", "writer", "records", "network", "ops"])
    net = st.get("network") if isinstance(st, dict) else None
    check_keys("admin.stats network keys", net, ["requests", "ranked_again", "missing"])
    check("admin.stats network: no peers, none missing", isinstance(net, dict) and net.get("missing") == {},
          {}, net and net.get("missing"))
    check("admin.stats ops has every operation and other",
          set(OPS_TABLE) | {"other"} <= set(st.get("ops", {})), sorted(set(OPS_TABLE) | {"other"}),
          sorted(st.get("ops", {})))
    # backup
    bpath = os.path.join(tmp, "backup-1")
    r = a.call("admin.backup", {"path": bpath})
    check_keys("admin.backup result keys", r, ["path", "bytes", "changelog_seq", "started", "seconds"])
    check("admin.backup wrote data.mdb", os.path.exists(os.path.join(bpath, "data.mdb")), "data.mdb", os.listdir(tmp))
    expect_err("admin.backup to an existing directory", a.request("admin.backup", {"path": bpath}), "bad_request",
               message="path: already exists")
    expect_err("admin.backup relative path", a.request("admin.backup", {"path": "x/y"}), "bad_request", prefix="path:")
    # match.explain
    a.call("vacancy.put", {"vacancy": vac("v-ex", skills=[{"id": "welding.arc", "level": 4}, {"id": "cnc", "level": 2}],
                                          wage_max=8000, education_min=4)})
    a.call("worker.put", {"worker": wrk("w-ex", skills=[{"id": "welding.arc", "level": 3}], wage_min=9000, education=3,
                                        region="110108")})
    r = cz.call("match.explain", {"worker": "w-ex", "vacancy": "v-ex", "scope": "county"})
    check_keys("match.explain result keys", r, ["match", "score", "rules", "explain", "missing_skills"])
    rules = {x.get("rule"): x.get("met") for x in r.get("rules", [])}
    check("match.explain rules", rules == {"open": True, "not_expired": True, "places_left": True, "scope": False,
                                           "wage": False, "education": False, "age": True,
                                           "skill_or_occupation": True, "worker_available": True},
          "scope, wage, education unmet", r.get("rules"))
    check("match.explain match false", r.get("match") is False, False, r.get("match"))
    check("match.explain missing_skills",
          sorted((m["id"], m["required_level"], m["worker_level"]) for m in r.get("missing_skills", []))
          == [("cnc", 2, 0), ("welding.arc", 4, 3)], [("cnc", 2, 0), ("welding.arc", 4, 3)], r.get("missing_skills"))
    # referrals
    a.call("vacancy.put", {"vacancy": vac("v-ref", headcount=1)})
    a.call("worker.put", {"worker": wrk("w-ref")})
    r = cz.call("referral.create", {"worker": "w-ref", "vacancy": "v-ref", "note": "strong welder"})
    check_keys("referral.create result keys", r, ["id", "referral"])
    rid = r.get("id")
    check("referral id r-N", isinstance(rid, str) and rid.startswith("r-"), "r-N", rid)
    ref = r.get("referral", {})
    check_keys("referral map keys", ref, ["id", "worker", "vacancy", "status", "created", "updated", "hired_at", "history"])
    check("referral initial state", ref.get("status") == "referred" and ref.get("hired_at") is None
          and len(ref.get("history", [])) == 1 and ref["history"][0].get("by") == "desk"
          and ref["history"][0].get("note") == "strong welder", "referred, by desk", ref)
    r = cz.request("referral.create", {"worker": "w-ref", "vacancy": "v-ref"})
    expect_err("second open referral of the pair", r, "conflict",
               message=f"worker w-ref already has an open referral {rid} to this vacancy")
    r = cz.call("referral.update", {"id": rid, "status": "interviewed"})
    check("referral.update interviewed", r.get("referral", {}).get("status") == "interviewed", "interviewed", r)
    r = cz.call("referral.update", {"id": rid, "status": "hired", "note": "starts Monday"})
    check("referral.update hired", r.get("referral", {}).get("status") == "hired" and is_int(r["referral"].get("hired_at"))
          and len(r["referral"]["history"]) == 3, "hired", r)
    v = a.call("vacancy.get", {"id": "v-ref"})["vacancy"]
    check("hire fills and closes the vacancy", v["filled"] == 1 and v["status"] == "closed", {"filled": 1, "status": "closed"},
          {"filled": v["filled"], "status": v["status"]})
    w = a.call("worker.get", {"id": "w-ref"})["worker"]
    check("hire makes the worker employed", w["status"] == "employed", "employed", w["status"])
    expect_err("final status cannot move", cz.request("referral.update", {"id": rid, "status": "withdrawn"}), "conflict",
               message=f"referral {rid} cannot move from hired to withdrawn")
    r = cz.call("referral.get", {"id": rid})
    check("referral.get", r.get("referral", {}).get("id") == rid, rid, r)
    r = cz.call("referral.list", {"worker": "w-ref"})
    check("referral.list", [x["id"] for x in r.get("referrals", [])] == [rid] and r.get("cursor") is None, [rid], r)
    expect_err("referral.get unknown", cz.request("referral.get", {"id": "r-999999"}), "not_found",
               message="referral r-999999 not found")
    a.call("vacancy.put", {"vacancy": vac("v-ref", headcount=1)})
    v = a.call("vacancy.get", {"id": "v-ref"})["vacancy"]
    check("replacement keeps filled", v["filled"] == 1 and v["status"] == "open", {"filled": 1, "status": "open"},
          {"filled": v["filled"], "status": v["status"]})
    # fairs
    a.call("vacancy.put_many", {"vacancies": [vac("fv-1", skills=[{"id": "weld", "level": 2}], headcount=1),
                                              vac("fv-2", skills=[{"id": "weld", "level": 2}], headcount=1)]})
    a.call("worker.put_many", {"workers": [wrk("fw-1", skills=[{"id": "weld", "level": 2}]),
                                           wrk("fw-2", skills=[{"id": "weld", "level": 1}]),
                                           wrk("fw-3", skills=[{"id": "weld", "level": 3}])]})
    r = cz.call("fair.create", {"id": "fair-1", "name": "Spring fair", "region": "110105", "date": 1767225600})
    check("fair.create", r == {"id": "fair-1", "created": True}, {"id": "fair-1", "created": True}, r)
    expect_err("fair.create id in use", cz.request("fair.create", {"id": "fair-1", "name": "x"}), "conflict")
    r = cz.call("fair.register", {"fair": "fair-1", "vacancies": ["fv-1", "fv-2"], "workers": ["fw-1", "fw-2", "fw-3"]})
    check("fair.register", r == {"fair": "fair-1", "added": {"vacancies": 2, "workers": 3}},
          {"fair": "fair-1", "added": {"vacancies": 2, "workers": 3}}, r)
    expect_err("fair.register unknown record", cz.request("fair.register", {"fair": "fair-1", "workers": ["nobody"]}), "not_found")
    r = cz.call("fair.get", {"fair": "fair-1"})
    check("fair.get", r.get("vacancies") == ["fv-1", "fv-2"] and r.get("workers") == ["fw-1", "fw-2", "fw-3"]
          and set(r.get("fair", {})) == {"id", "name", "region", "date", "created"}, "members", r)
    r = cz.call("fair.allocate", {"fair": "fair-1", "scope": "county"})
    check_keys("fair.allocate keys", r, ["fair", "scope", "as_of", "pairs", "assignments", "unassigned", "unfilled", "missing"])
    check("fair.allocate assigns 2 of 3", len(r.get("assignments", [])) == 2 and len(r.get("unassigned", [])) == 1, 2, r)
    r = cz.call("fair.unregister", {"fair": "fair-1", "workers": ["fw-3"]})
    check("fair.unregister", r == {"fair": "fair-1", "removed": {"vacancies": 0, "workers": 1}},
          {"fair": "fair-1", "removed": {"vacancies": 0, "workers": 1}}, r)
    # stats
    yr = time.strftime("%Y", time.gmtime())
    r = k.call("stats.supply_demand", {"period": yr, "by": "major"})
    check_keys("stats.supply_demand keys", r, ["period", "from", "to", "region", "occupation", "by", "groups", "total"])
    check("stats.supply_demand period", r.get("from") == f"{yr}-01" and r.get("to") == f"{yr}-12", f"{yr}-01..{yr}-12", r)
    expect_err("stats.supply_demand bad period", k.request("stats.supply_demand", {"period": "2026-13"}), "bad_request", prefix="period:")
    expect_err("stats.supply_demand no period", k.request("stats.supply_demand", {}), "bad_request", message="period: required")
    r = k.call("stats.reemployment", {"period": yr})
    check("stats.reemployment categories in fixed order",
          [x.get("category") for x in r.get("categories", [])] == CATS, CATS, r)
    r = k.call("stats.wages", {"by": "province"})
    check("stats.wages shape", isinstance(r.get("groups"), list) and isinstance(r.get("total"), dict), "groups, total", r)
    # occupation.suggest
    r = k.call("occupation.suggest", {"text": "焊工", "limit": 3})
    check("occupation.suggest shape", isinstance(r.get("suggestions"), list) and len(r["suggestions"]) <= 3 and
          all(set(s) == {"code", "name", "score"} for s in r["suggestions"]), "suggestions", r)
    expect_err("occupation.suggest empty text", k.request("occupation.suggest", {"text": ""}), "bad_request", prefix="text:")
    # node operations
    r = nd.call("sync.pull", {"after": 0, "limit": 5})
    check_keys("sync.pull keys", r, ["node", "entries", "next", "last"])
    allent = nd.call("sync.pull", {"after": 0, "limit": 1000})
    check("sync.pull to a node carries vacancies only, never a worker",
          all(set(e) in ({"seq", "op", "vacancy"}, {"seq", "op", "id"}) for e in allent.get("entries", []))
          and not any("birth_year" in (e.get("vacancy") or {}) for e in allent.get("entries", [])),
          "put/delete of vacancies", allent.get("entries", [])[:3])
    r = nd.call("match.counts", {"skills": ["weld", "nothing-such"]})
    check("match.counts shape", r.get("node") == "local" and isinstance(r.get("origins"), list) and
          all(len(o.get("df", [])) == 2 for o in r["origins"]), "origins with 2 df", r)
    # audit
    cz.call("worker.get", {"id": "w-1"})
    time.sleep(0.3)
    a.call("worker.put", {"worker": wrk("audit-flush")})  # audit of reads commits with the next write
    r = a.call("audit.list", {"worker": "w-1", "limit": 1000})
    ent = [e for e in r.get("entries", []) if e.get("op") == "worker.get" and e.get("key") == "desk"]
    check("audit.list has the counselor's worker.get", len(ent) >= 1 and ent[-1].get("role") == "counselor",
          "entry key desk role counselor", r.get("entries", [])[-3:])
    check("audit entries carry no personal field",
          all(set(e) == {"seq", "time", "key", "role", "op", "worker"} for e in r.get("entries", [])),
          ["key", "op", "role", "seq", "time", "worker"], r.get("entries", [])[:1])
    # alerts and push frames
    a.call("worker.put", {"worker": wrk("w-alert", skills=[{"id": "rare.alert.skill", "level": 2}], region="310115")})
    sub = cz.call("alert.subscribe", {"worker": "w-alert", "scope": "county"})
    check_keys("alert.subscribe keys", sub, ["subscription", "worker"])
    n = sub.get("subscription")
    a.call("vacancy.put", {"vacancy": vac("v-alert", region="310115", skills=[{"id": "rare.alert.skill", "level": 2}])})
    time.sleep(0.5)
    r = cz.request("ping")
    pushes = list(cz.pushes)
    if not pushes:
        cz.sock.settimeout(2.0)
        try:
            pushes.append(cz.recv_frame())
        except (socket.timeout, OSError):
            pass
        cz.sock.settimeout(30.0)
    check("ping answered on a subscribed connection", r.get("result") == "pong", "pong", r)
    check("alert pushed as {id 0, push, data} without ok",
          len(pushes) >= 1 and pushes[0].get("id") == 0 and pushes[0].get("push") == "alert" and "ok" not in pushes[0]
          and pushes[0].get("data", {}).get("vacancy") == "v-alert", "push frame for v-alert", pushes)
    if pushes:
        check_keys("alert data keys", pushes[0].get("data"), ["subscription", "seq", "vacancy", "score", "new", "time"])
    r = cz.call("alert.list", {"subscription": n})
    check("alert.list has the alert", [x.get("vacancy") for x in r.get("alerts", [])] == ["v-alert"], ["v-alert"], r)
    r = cz.call("alert.subscriptions", {"worker": "w-alert"})
    check("alert.subscriptions", [x.get("subscription") for x in r.get("subscriptions", [])] == [n], [n], r)
    r = cz.call("alert.listen", {"subscription": n})
    check("alert.listen", r == {"subscription": n, "listening": True}, {"subscription": n, "listening": True}, r)
    r = cz.call("alert.unsubscribe", {"subscription": n})
    check("alert.unsubscribe", r == {"subscription": n, "deleted": True}, {"subscription": n, "deleted": True}, r)
    expect_err("alert.unsubscribe unknown", cz.request("alert.unsubscribe", {"subscription": n}), "not_found")
    # match argument errors
    expect_err("match.vacancies worker and profile", cz.request("match.vacancies", {"worker": "w-1", "profile": {}}),
               "bad_request", message="worker, profile: give one, not both")
    expect_err("match.vacancies neither", cz.request("match.vacancies", {}), "bad_request", message="worker or profile: required")
    expect_err("match.vacancies unknown worker", cz.request("match.vacancies", {"worker": "nobody"}), "not_found")
    expect_err("match.workers unknown vacancy", cz.request("match.workers", {"vacancy": "nobody"}), "not_found")
    expect_err("match.vacancies limit 0", cz.request("match.vacancies", {"worker": "w-1", "limit": 0}), "bad_request", prefix="limit:")
    expect_err("match.vacancies limit 201", cz.request("match.vacancies", {"worker": "w-1", "limit": 201}), "bad_request", prefix="limit:")
    expect_err("match.vacancies scope bad", cz.request("match.vacancies", {"worker": "w-1", "scope": "planet"}), "bad_request", prefix="scope:")
    expect_err("match.workers scope network", cz.request("match.workers", {"vacancy": "v-1001", "scope": "network"}), "bad_request", prefix="scope:")
    expect_err("match.vacancies as_of a string", cz.request("match.vacancies", {"worker": "w-1", "as_of": "now"}), "bad_request", prefix="as_of:")
    expect_err("match.vacancies explain not a bool", cz.request("match.vacancies", {"worker": "w-1", "explain": 1}), "bad_request", prefix="explain:")
    expect_err("profile without birth_year", k.request("match.vacancies", {"profile": {"region": "110105"}}), "bad_request",
               prefix="profile.birth_year: required")
    expect_err("profile with a bad skill level", k.request("match.vacancies", {"profile": {"region": "110105", "birth_year": 1990,
                                                                                           "skills": [{"id": "a", "level": 9}]}}),
               "bad_request", prefix="profile.skills[0].level")
    r = k.call("match.vacancies", {"profile": {"birth_year": 1990, "region": "110105"}, "scope": "network"})
    check("scope network without peers: answered by this node alone",
          r.get("answered") == ["local"] and r.get("missing") == [] and isinstance(r.get("matches"), list), "answered [local]", r)
    for c in (a, cz, nd, k):
        c.close()



def test_connection_limits(d):
    """Daemon started with --idle-timeout 2 --max-clients 3 (protocol.md 1.7)."""
    # half-close: every request received is answered, then close
    c = d.conn()
    data = b"".join(frame(pack({"id": i, "op": "ping"})) for i in range(1, 21))
    c.send_raw(data)
    c.sock.shutdown(socket.SHUT_WR)
    got = []
    try:
        for _ in range(20):
            got.append(c.recv().get("id"))
    except (ConnectionError, OSError):
        pass
    check("half-close: all 20 requests answered", got == list(range(1, 21)), list(range(1, 21)), got)
    check("half-close: then closed", c.is_closed(3.0), "closed", "open")
    c.close()
    # max_clients: the 4th connection gets overloaded with id 0, then close
    held = [d.conn() for _ in range(3)]
    for h in held:
        h.call("ping")
    extra = d.conn()
    try:
        r = extra.recv()
    except (ConnectionError, OSError) as e:
        r = repr(e)
    expect_err("connection above max_clients", r if isinstance(r, dict) else {}, "overloaded",
               message="too many connections", req_id=0)
    check("connection above max_clients closed", extra.is_closed(3.0), "closed", "open")
    extra.close()
    for h in held:
        h.close()
    time.sleep(0.3)
    # idle timeout: closed without a frame
    c = d.conn()
    c.call("ping")
    t0 = time.time()
    closed = c.is_closed(5.0)
    check("idle connection closed after idle_timeout (2 s) without a frame",
          closed and c._buf == b"" and 1.5 <= time.time() - t0 <= 4.5, "closed after ~2 s, no frame",
          {"closed": closed, "bytes": c._buf, "after": round(time.time() - t0, 2)})
    c.close()

# ---------------------------------------------------------------------------
# 7. ranking

REGIONS = ["110105", "110108", "110101", "110228", "440305", "440304", "440106", "440103",
           "310115", "310104", "320102", "320506"]
OCCS = ["6-05-02-03", "6-05-02-01", "6-05-01-02", "6-05-03-01", "6-01-01-01", "6-01-02-03",
        "2-02-10-01", "2-02-10-03", "2-02-01-01", "4-01-02-01", "4-04-05-03", "4-02-02-01"]
SKILLS = ["weld.arc", "weld.tig", "cnc:lathe", "cnc:mill", "forklift", "office/excel", "java", "python",
          "cook.chinese", "nursing.elder", "drive.c1", "drive.a2", "sales", "cashier", "plc", "electric.low",
          "electric.high", "sewing", "packing", "warehouse", "english.cet4", "cad/2d", "childcare", "security"]


def gen_data(rng, now, nv=320, nw=320):
    vacancies, workers = [], []
    for i in range(nv):
        ns = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5])
        skills = [{"id": s, "level": rng.randint(1, 5)} for s in rng.sample(SKILLS, ns)]
        wmax = 0 if rng.random() < 0.2 else rng.randrange(3000, 15000, 100)
        wmin = 0 if wmax == 0 else max(0, wmax - rng.randrange(0, 4000, 100))
        r = rng.random()
        if r < 0.5:
            expires = 0
        elif r < 0.7:
            expires = now - rng.randint(3600, 400 * 86400)
        else:
            expires = now + rng.randint(3600, 800 * 86400)
        age_min = 0 if rng.random() < 0.6 else rng.randint(16, 35)
        age_max = 0 if rng.random() < 0.6 else rng.randint(35, 60)
        v = {"id": rng.choice(["V", "v", "0", "Z", "a", ".", "-", ":"]) + f"{i:04d}" + rng.choice(["", "a", "B", "._"]),
             "employer": f"Employer {i % 37}",
             "title": f"Job {i}", "occupation": rng.choice(OCCS), "region": rng.choice(REGIONS),
             "skills": skills, "education_min": rng.choice([0, 0, 0, 1, 2, 3, 3, 4, 5, 6]),
             "age_min": age_min, "age_max": age_max, "wage_min": wmin, "wage_max": wmax,
             "headcount": rng.randint(1, 5),
             "priority_categories": rng.sample(CATS, rng.choice([0, 0, 1, 1, 2, 3])),
             "posted": now - rng.randint(0, 300 * 86400), "expires": expires,
             "status": "open" if rng.random() < 0.85 else "closed"}
        vacancies.append(v)
    for i in range(nw):
        ns = rng.choice([0, 1, 2, 2, 3, 3, 4, 6])
        skills = [{"id": s, "level": rng.randint(1, 5)} for s in rng.sample(SKILLS, ns)]
        desired = []
        for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
            code = rng.choice(OCCS)
            desired.append(code[:rng.choice([1, 4, 7, 10, 10])])
        w = {"id": rng.choice(["W", "w", "1", "Y", "b", "_"]) + f"{i:04d}" + rng.choice(["", "-x", ".y", ":1"]),
             "birth_year": rng.randint(1958, 2009),
             "region": rng.choice(REGIONS), "education": rng.randint(0, 7), "skills": skills,
             "desired_occupations": desired,
             "wage_min": 0 if rng.random() < 0.3 else rng.randrange(2000, 12000, 100),
             "category": rng.choice(CATS), "registered": now - rng.randint(0, 300 * 86400),
             "status": rng.choice(["available"] * 6 + ["employed", "inactive"])}
        if rng.random() < 0.3:
            w["name"] = f"Name {i}"
            w["phone"] = f"138{i:08d}"
        workers.append(w)
    return vacancies, workers


def compare(label, got, full, limit, records, idname):
    """got: daemon's matches; full: my whole ranked list [(id, score)]."""
    exp = full[:limit]
    myscore = dict(full)
    gl = [(m.get("id"), m.get("score")) for m in got]
    bad = None
    if len(gl) != len(exp):
        bad = min(len(gl), len(exp))
        for i in range(min(len(gl), len(exp))):
            if gl[i][0] != exp[i][0] and not (abs(gl[i][1] - exp[i][1]) <= 1e-9 and gl[i][0] in myscore
                                              and abs(myscore[gl[i][0]] - gl[i][1]) <= 1e-9):
                bad = i
                break
    else:
        for i, ((gid, gs), (eid, es)) in enumerate(zip(gl, exp)):
            if not isinstance(gs, float):
                bad = i
                break
            if gid == eid and abs(gs - es) <= 1e-9:
                continue
            if gid != eid and abs(gs - es) <= 1e-9 and gid in myscore and abs(myscore[gid] - gs) <= 1e-9:
                continue  # a tie within float noise
            bad = i
            break
    if bad is None:
        # the daemon's own order: score descending, equal scores by id ascending (bytewise)
        for i in range(len(gl) - 1):
            (ia, sa), (ib, sb) = gl[i], gl[i + 1]
            if sa < sb or (sa == sb and ia.encode() >= ib.encode()):
                return check(label + " (order of the daemon's list)", False,
                             "score descending, then id ascending", gl[i:i + 2])
        return check(label, True)
    ids = set()
    detail = {"position": bad, "daemon": gl[bad:bad + 3], "expected": exp[bad:bad + 3],
              "lengths (daemon, expected)": (len(gl), len(exp))}
    for x in gl[bad:bad + 2] + exp[bad:bad + 2]:
        ids.add(x[0])
    detail["records"] = {i: records.get(i) for i in sorted(ids, key=str)}
    detail["my score of daemon's item"] = [(x[0], myscore.get(x[0])) for x in gl[bad:bad + 2]]
    return check(label, False, "same ids and scores (1e-9)", detail)


def test_ranking(d, rng):
    now = int(time.time())
    vacancies, workers = gen_data(rng, now)
    a = d.conn(ADMIN_KEY)
    r = a.call("vacancy.put_many", {"vacancies": vacancies})
    check("ranking: vacancies loaded", r.get("count") == len(vacancies), len(vacancies), r)
    r = a.call("worker.put_many", {"workers": workers})
    check("ranking: workers loaded", r.get("count") == len(workers), len(workers), r)
    V = {v["id"]: R.vacancy_defaults(v) for v in vacancies}
    W = {w["id"]: R.worker_defaults(w) for w in workers}
    for v in V.values():
        v.setdefault("filled", 0)
    # make a few vacancies full but open: hire (which closes them), then put them back open
    full_cands = [v for v in vacancies if v["status"] == "open" and v["expires"] == 0][:6]
    hired_workers = [w for w in workers if w["status"] == "available"][-6:]
    for v, w in zip(full_cands, hired_workers):
        a.call("vacancy.put", {"vacancy": dict(v, headcount=1)})
        ref = a.call("referral.create", {"worker": w["id"], "vacancy": v["id"]})
        a.call("referral.update", {"id": ref["id"], "status": "hired"})
        a.call("vacancy.put", {"vacancy": dict(v, headcount=1, status="open")})
        V[v["id"]].update(headcount=1, filled=1, status="open")
        W[w["id"]]["status"] = "employed"
        got = a.call("vacancy.get", {"id": v["id"]})["vacancy"]
        check("ranking setup: a full vacancy put back open keeps filled",
              got["filled"] == 1 and got["status"] == "open", {"filled": 1, "status": "open"}, got)
    # one vacancy with filled < headcount after a hire stays matchable
    vlist = list(V.values())
    wlist = list(W.values())

    # sanity of my counts against the daemon's
    info = a.call("admin.info")
    check("ranking: open vacancies counted alike", info["vacancies_open"] == sum(v["status"] == "open" for v in vlist),
          sum(v["status"] == "open" for v in vlist), info["vacancies_open"])
    check("ranking: available workers counted alike",
          info["workers_available"] == sum(w["status"] == "available" for w in wlist),
          sum(w["status"] == "available" for w in wlist), info["workers_available"])

    vidf = R.vacancy_idf(vlist)
    widf = R.worker_idf(wlist)
    scopes = ["county", "city", "province", "all"]
    as_ofs = [None, now - 3 * 365 * 86400, now + 2 * 365 * 86400, now - 200 * 86400, 1893456000]
    limits = [None, 200, 5, 1, 37]
    c = d.conn(COUNSELOR_KEY)
    k = d.conn()
    nq = [0]

    def run_batch(conn, batch):
        """batch: list of (label, op, args, full, limit, recs)."""
        for i in range(0, len(batch), 50):
            part = batch[i:i + 50]
            t_sent = int(time.time())
            out = conn.pipeline([(op, args) for (_, op, args, _, _, _) in part])
            for (label, op, args, full_fn, limit, recs), resp in zip(part, out):
                nq[0] += 1
                if not resp.get("ok"):
                    check(label, False, "ok", resp)
                    continue
                full = full_fn(t_sent)
                compare(label, resp["result"].get("matches", []), full, limit, recs, op)

    def query(op, probe_arg, probe, recs, idf, scope, as_of, limit, label, known, send_scope=True):
        """One item of a batch: the request, and its answer by ranking v1 (as of the
        time the batch is sent when the request gives no as_of)."""
        args = dict(probe_arg)
        if send_scope:
            args["scope"] = scope
        if as_of is not None:
            args["as_of"] = as_of
        if limit is not None:
            args["limit"] = limit
        rank = R.match_vacancies if op == "match.vacancies" else R.match_workers

        def full_fn(t):
            return rank(probe, recs, scope, as_of if as_of is not None else t, None, idf)
        return (f"{label} scope={scope} as_of={as_of} limit={limit}", op, args, full_fn,
                limit or 20, known)

    def variants(i):
        """The scopes, each with and without an as_of, under varied limits, for probe i."""
        for si, scope in enumerate(scopes):
            for ai in range(2):
                yield (scope, None if ai == 0 else as_ofs[1 + (i + si) % 4],
                       limits[(i + si + ai) % len(limits)])

    # match.vacancies by stored worker
    batch = []
    wsample = rng.sample(wlist, 45)
    for wi, w in enumerate(wsample):
        for scope, as_of, limit in variants(wi):
            batch.append(query("match.vacancies", {"worker": w["id"]}, w, vlist, vidf, scope, as_of,
                               limit, f"match.vacancies worker={w['id']}", {**V, w["id"]: w},
                               send_scope=not (scope == "city" and wi % 2)))  # default: city
    run_batch(c, batch)

    # match.vacancies by profile (kiosk)
    batch = []
    for pi in range(40):
        _, pw = gen_data(rng, now, nv=0, nw=1)
        p = R.worker_defaults(pw[0])
        prof = {k2: v2 for k2, v2 in pw[0].items() if k2 not in ("id", "name", "national_id", "phone")}
        for scope, as_of, limit in variants(pi):
            batch.append(query("match.vacancies", {"profile": prof}, p, vlist, vidf, scope, as_of,
                               limit, f"match.vacancies profile#{pi}", {**V, "(profile)": prof}))
    run_batch(k, batch)

    # match.workers by vacancy (including closed, expired and full ones)
    batch = []
    vsample = rng.sample(vlist, 45) + [V[v["id"]] for v in full_cands[:3]]
    for vi, v in enumerate(vsample):
        for scope, as_of, limit in variants(vi):
            batch.append(query("match.workers", {"vacancy": v["id"]}, v, wlist, widf, scope, as_of,
                               limit, f"match.workers vacancy={v['id']}", {**W, v["id"]: v}))
    run_batch(c, batch)

    # explain: the parts add up to the score and agree with ranking v1
    for w in wsample[:10]:
        res = c.call("match.vacancies", {"worker": w["id"], "scope": "all", "limit": 200, "explain": True})
        for m in res["matches"]:
            ex = m.get("explain", {})
            v = V.get(m["id"])
            skill, occ, county, prio = R.score_parts(w, v, vidf)
            tot = ex.get("skill_part", 0) + ex.get("occupation", {}).get("bonus", 0) + ex.get("county_bonus", 0) + ex.get("priority_bonus", 0)
            wl = {x["id"]: x["level"] for x in w["skills"]}
            exp_sk = [(x["id"], vidf(x["id"]), wl[x["id"]], x["level"]) for x in v["skills"] if x["id"] in wl]
            got_sk = [(x.get("id"), x.get("idf"), x.get("worker_level"), x.get("vacancy_level")) for x in ex.get("skills", [])]
            good_sk = len(exp_sk) == len(got_sk) and all(
                e[0] == g[0] and abs(e[1] - g[1]) <= 1e-9 and e[2:] == g[2:] for e, g in zip(exp_sk, got_sk))
            check(f"explain skills of {w['id']} x {m['id']} (vacancy order, idf)", good_sk, exp_sk, got_sk)
            good = (abs(tot - m["score"]) <= 1e-9 and abs(ex.get("skill_part", -1) - skill) <= 1e-9
                    and abs(ex.get("occupation", {}).get("bonus", -1) - occ) <= 1e-12
                    and ex.get("county_bonus") == county and ex.get("priority_bonus") == prio)
            if not check(f"explain parts of {w['id']} x {m['id']}", good,
                         {"skill": skill, "occ": occ, "county": county, "prio": prio}, ex):
                break
    # filters narrow the list and do not change scores
    for w in wsample[:8]:
        full = R.match_vacancies(w, vlist, "all", now + 10, None, vidf)
        occ = OCCS[wsample.index(w) % len(OCCS)][:4]
        got = c.call("match.vacancies", {"worker": w["id"], "scope": "all", "as_of": now + 10, "occupation": occ, "limit": 200})
        exp = [x for x in full if V[x[0]]["occupation"].startswith(occ)]
        compare(f"match.vacancies filter occupation={occ} worker={w['id']}", got["matches"], exp, 200, V, "v")
        got = c.call("match.vacancies", {"worker": w["id"], "scope": "all", "as_of": now + 10, "min_wage": 8000, "limit": 200})
        exp = [x for x in full if V[x[0]]["wage_max"] == 0 or V[x[0]]["wage_max"] >= 8000]
        compare(f"match.vacancies filter min_wage=8000 worker={w['id']}", got["matches"], exp, 200, V, "v")
    for v in vsample[:8]:
        full = R.match_workers(v, wlist, "all", now + 10, None, widf)
        got = c.call("match.workers", {"vacancy": v["id"], "scope": "all", "as_of": now + 10, "category": "migrant", "limit": 200})
        exp = [x for x in full if W[x[0]]["category"] == "migrant"]
        compare(f"match.workers filter category=migrant vacancy={v['id']}", got["matches"], exp, 200, W, "w")
    # network_counts (admin): idf from the counts given instead of this store's
    nc_open = 1000
    nc_df = {sk: 1 + (i * 37) % 200 for i, sk in enumerate(SKILLS)}
    ncidf = lambda sk: math.log(1 + nc_open / nc_df[sk])  # noqa: E731
    for w in wsample[:6]:
        prof = {k2: v2 for k2, v2 in w.items() if k2 not in ("id", "name", "national_id", "phone")}
        got = a.call("match.vacancies", {"profile": prof, "scope": "all", "as_of": now + 10, "limit": 200,
                                         "network_counts": {"open": nc_open, "df": nc_df}})
        full = R.match_vacancies(w, vlist, "all", now + 10, None, ncidf)
        compare(f"match.vacancies with network_counts, profile of {w['id']}", got["matches"], full, 200, V, "v")
        check("network_counts: each match carries origin", all(m.get("origin") == "local" for m in got["matches"]),
              "origin local", got["matches"][:2])
    # a skill left out of network_counts has df 0 (protocol.md 5.10): no idf, so it is left
    # out as a skill no vacancy requires is; the matches are those of the profile without it
    # (a worker with skills whose desired occupations alone still find matches)
    w0, exp = None, []
    for w in sorted(W.values(), key=lambda x: x["id"]):
        if w["skills"]:
            exp = R.match_vacancies(dict(w, skills=[]), vlist, "all", now + 10, None, vidf)
            if exp:
                w0 = w
                break
    check("network_counts naming no skill: a worker to try it with", w0 is not None, "one", None)
    if w0 is not None:
        prof = {k2: v2 for k2, v2 in w0.items() if k2 not in ("id", "name", "national_id", "phone")}
        got_nc = a.call("match.vacancies", {"profile": prof, "scope": "all", "limit": 200, "as_of": now + 10,
                                            "network_counts": {"open": 1000, "df": {}}})
        compare(f"match.vacancies with network_counts naming no skill, profile of {w0['id']} "
                f"({len(exp)} expected)", got_nc["matches"], exp, 200, V, "v")
    check(f"ranking: {nq[0]} ranked queries compared", nq[0] > 300, "> 300", nq[0])

    # mutation round: closes, deletes, replacements, status changes, a partial hire; then rank again
    mrng = random.Random(rng.random())
    ids_v = sorted(V)
    ids_w = sorted(W)
    for vid in mrng.sample(ids_v, 12):
        if V[vid]["status"] == "open":
            a.call("vacancy.close", {"id": vid})
            V[vid]["status"] = "closed"
    for vid in mrng.sample(ids_v, 12):
        if vid in V and V[vid]["filled"] == 0:
            a.call("vacancy.delete", {"id": vid})
            del V[vid]
    for vid in mrng.sample(sorted(V), 15):
        nv, _ = gen_data(mrng, now, nv=1, nw=0)
        rec = dict(nv[0], id=vid)
        a.call("vacancy.put", {"vacancy": rec})
        V[vid] = dict(R.vacancy_defaults(rec), filled=V[vid]["filled"])
    for wid in mrng.sample(ids_w, 12):
        a.call("worker.delete", {"id": wid})
        del W[wid]
    for wid in mrng.sample(sorted(W), 15):
        _, nw = gen_data(mrng, now, nv=0, nw=1)
        rec = dict(nw[0], id=wid)
        a.call("worker.put", {"worker": rec})
        W[wid] = R.worker_defaults(rec)
    # a partial hire: headcount 3, one hired -> filled 1, still open and matchable
    vh = next(v for v in V.values() if v["status"] == "open" and v["expires"] == 0 and v["filled"] == 0)
    wh = next(w for w in W.values() if w["status"] == "available")
    rec = {k2: vh[k2] for k2 in vh if k2 != "filled"}
    rec["headcount"] = 3
    a.call("vacancy.put", {"vacancy": rec})
    ref = a.call("referral.create", {"worker": wh["id"], "vacancy": vh["id"]})
    a.call("referral.update", {"id": ref["id"], "status": "hired"})
    V[vh["id"]].update(headcount=3, filled=1)
    W[wh["id"]]["status"] = "employed"
    g = a.call("vacancy.get", {"id": vh["id"]})["vacancy"]
    check("partial hire: filled 1 of 3, still open", g["filled"] == 1 and g["status"] == "open",
          {"filled": 1, "status": "open"}, {"filled": g["filled"], "status": g["status"]})
    vlist = list(V.values())
    wlist = list(W.values())
    vidf = R.vacancy_idf(vlist)
    widf = R.worker_idf(wlist)
    batch = []
    for wi, w in enumerate(mrng.sample(wlist, 30)):
        for scope in scopes:
            as_of = None if wi % 2 else as_ofs[1 + wi % 4]
            batch.append(query("match.vacancies", {"worker": w["id"]}, w, vlist, vidf, scope, as_of, 200,
                               f"after mutations: match.vacancies worker={w['id']}", {**V, w["id"]: w}))
    run_batch(c, batch)
    batch = []
    for vi, v in enumerate(mrng.sample(vlist, 30) + [V[vh["id"]]]):
        for scope in scopes:
            as_of = None if vi % 2 else as_ofs[1 + vi % 4]
            batch.append(query("match.workers", {"vacancy": v["id"]}, v, wlist, widf, scope, as_of, 200,
                               f"after mutations: match.workers vacancy={v['id']}", {**W, v["id"]: v}))
    run_batch(c, batch)
    r = a.call("admin.check")
    check("admin.check ok after mutations", r.get("ok") is True, True, r)
    wsample = [w for w in wsample if w["id"] in W]
    a.close()
    c.close()
    k.close()
    return V, W, vlist, wlist, wsample, vsample


def test_ranking_edges(d):
    """Small hand-made cases on a fresh store: each rule of ranking v1 in isolation."""
    a = d.conn(ADMIN_KEY)
    as_of = 1893456000  # 2030-01-01T00:00:00Z
    vs = [
        vac("e-full", occupation="6-05-02-03", region="110105", skills=[{"id": "x1", "level": 2}]),
        vac("e-minor", occupation="6-05-02-01", region="110108"),
        vac("e-middle", occupation="6-05-01-01", region="110105"),
        vac("e-major", occupation="6-01-01-01", region="110105", skills=[{"id": "x2", "level": 4}]),
        vac("e-exp-eq", occupation="6-05-02-03", region="110105", expires=as_of),
        vac("e-exp-after", occupation="6-05-02-03", region="110105", expires=as_of + 1, priority_categories=["graduate"]),
        vac("e-age", occupation="6-05-02-03", region="110105", age_min=30, age_max=30),
        vac("e-age-no", occupation="6-05-02-03", region="110105", age_min=31),
        vac("e-wage-eq", occupation="6-05-02-03", region="110105", wage_max=5000),
        vac("e-wage-no", occupation="6-05-02-03", region="110105", wage_max=4999),
        vac("e-edu-eq", occupation="6-05-02-03", region="110105", education_min=3),
        vac("e-edu-no", occupation="6-05-02-03", region="110105", education_min=4),
        vac("e-closed", occupation="6-05-02-03", region="110105", status="closed", skills=[{"id": "x1", "level": 1}]),
        vac("e-prov", occupation="6-05-02-03", region="119999"),
        vac("e-other-prov", occupation="6-05-02-03", region="440305"),
    ]
    a.call("vacancy.put_many", {"vacancies": vs})
    w = wrk("e-w", birth_year=2000, region="110105", education=3, wage_min=5000, category="graduate",
            desired_occupations=["6-05-02-03", "6-05-02", "6-05", "6"], skills=[{"id": "x1", "level": 1}, {"id": "x2", "level": 5}])
    a.call("worker.put", {"worker": w})
    V = {v["id"]: R.vacancy_defaults(v) for v in vs}
    for v in V.values():
        v["filled"] = 0
    Wd = R.worker_defaults(w)
    idf = R.vacancy_idf(list(V.values()))
    for scope in ["county", "city", "province", "all"]:
        res = a.call("match.vacancies", {"worker": "e-w", "scope": scope, "as_of": as_of, "limit": 200})
        full = R.match_vacancies(Wd, list(V.values()), scope, as_of, None, idf)
        compare(f"edge cases scope={scope}", res["matches"], full, 200, V, "v")
    # hand-computed expectations, independent of ranking_v1.py
    res = a.call("match.vacancies", {"worker": "e-w", "scope": "all", "as_of": as_of, "limit": 200})
    got = {m["id"]: m["score"] for m in res["matches"]}
    n_open = 14
    exp = {
        "e-full": math.log(1 + n_open / 1) * 1 / 2 + 2.0 + 0.5,
        "e-minor": 1.2,
        "e-exp-after": 2.0 + 0.5 + 0.5,
        "e-age": 2.5, "e-wage-eq": 2.5, "e-edu-eq": 2.5, "e-prov": 2.0, "e-other-prov": 2.0,
    }
    check("edge: e-middle (occupation 0.6, no shared skill) is no match", "e-middle" not in got, "absent", got.get("e-middle"))
    check("edge: e-major (shared skill, occupation 0.2) matches with 0.2",
          abs(got.get("e-major", -1) - (math.log(1 + n_open / 1) * 1.0 + 0.2 + 0.5)) <= 1e-9,
          math.log(1 + n_open) + 0.7, got.get("e-major"))
    for vid, s in exp.items():
        check(f"edge: {vid} score", vid in got and abs(got[vid] - s) <= 1e-9, s, got.get(vid))
    for vid in ["e-exp-eq", "e-age-no", "e-wage-no", "e-edu-no", "e-closed"]:
        check(f"edge: {vid} is no match", vid not in got, "absent", got.get(vid))
    # age uses the calendar year in UTC (this daemon runs with TZ=Asia/Shanghai, UTC+8)
    a.call("vacancy.put", {"vacancy": vac("e-age30", occupation="2-02-10-01", region="320102", age_max=30, age_min=30)})
    prof = {"birth_year": 1999, "region": "320102", "desired_occupations": ["2-02-10-01"]}
    for ts, label, want in ((1893427200, "2029-12-31T16:00Z (2030 in UTC+8)", True),
                            (1893455999, "2029-12-31T23:59:59Z", True), (1893456000, "2030-01-01T00:00Z", False)):
        r = a.call("match.vacancies", {"profile": prof, "scope": "county", "as_of": ts})
        ids = [m["id"] for m in r["matches"]]
        check(f"age at as_of {label}: calendar year UTC", ("e-age30" in ids) == want, want, ids)
    # as_of before 1970
    V2 = dict(V)
    V2["e-age30"] = dict(R.vacancy_defaults(vac("e-age30", occupation="2-02-10-01", region="320102", age_max=30, age_min=30)), filled=0)
    idf2 = R.vacancy_idf(list(V2.values()))
    for ts in (-1, -86400 * 365 * 30):
        res = a.call("match.vacancies", {"worker": "e-w", "scope": "all", "as_of": ts, "limit": 200})
        full = R.match_vacancies(Wd, list(V2.values()), "all", ts, None, idf2)
        compare(f"edge cases as_of={ts} (before 1970)", res["matches"], full, 200, V2, "v")
    a.close()


def test_persistence(d, V, W, vlist, wlist, wsample, vsample):
    a = d.conn(ADMIN_KEY)
    before_v = {vid: a.call("vacancy.get", {"id": vid})["vacancy"] for vid in list(V)[:120]}
    before_w = {wid: a.call("worker.get", {"id": wid})["worker"] for wid in list(W)[:120]}
    as_of = int(time.time()) + 100
    before_m = {w["id"]: a.call("match.vacancies", {"worker": w["id"], "scope": "all", "as_of": as_of, "limit": 200})
                for w in wsample[:10]}
    info1 = a.call("admin.info")
    a.close()
    rc = d.stop()
    check("daemon exits 0 on SIGTERM", rc == 0, 0, rc)
    d.start()
    a = d.conn(ADMIN_KEY)
    after_v = {vid: a.call("vacancy.get", {"id": vid})["vacancy"] for vid in before_v}
    after_w = {wid: a.call("worker.get", {"id": wid})["worker"] for wid in before_w}
    check("vacancies unchanged after restart", after_v == before_v, "same records",
          [k2 for k2 in before_v if before_v[k2] != after_v.get(k2)][:5])
    check("workers (with personal fields) unchanged after restart", after_w == before_w, "same records",
          [k2 for k2 in before_w if before_w[k2] != after_w.get(k2)][:5])
    info2 = a.call("admin.info")
    for key in ("vacancies", "vacancies_open", "workers", "workers_available", "changelog_seq"):
        check(f"admin.info {key} unchanged after restart", info1[key] == info2[key], info1[key], info2[key])
    for wid, m in before_m.items():
        r = a.call("match.vacancies", {"worker": wid, "scope": "all", "as_of": as_of, "limit": 200})
        check(f"match.vacancies {wid} unchanged after restart", r == m, m, r)
    # "A success is durable when it is answered": answered writes survive a SIGKILL
    a.call("vacancy.put", {"vacancy": vac("after-kill-v", title="durable")})
    a.call("worker.put", {"worker": wrk("after-kill-w", name="Durable Name")})
    a.call("vacancy.put_many", {"vacancies": [vac(f"after-kill-{i}") for i in range(50)]})
    a.close()
    d.proc.kill()
    d.proc.wait()
    d.logf.close()
    d.proc = None
    d.start()
    a = d.conn(ADMIN_KEY)
    r = a.request("vacancy.get", {"id": "after-kill-v"})
    check("answered vacancy.put survives SIGKILL", r.get("ok") and r["result"]["vacancy"]["title"] == "durable", "durable", r)
    r = a.request("worker.get", {"id": "after-kill-w"})
    check("answered worker.put (personal field) survives SIGKILL",
          r.get("ok") and r["result"]["worker"].get("name") == "Durable Name", "Durable Name", r)
    r = a.request("vacancy.get", {"id": "after-kill-49"})
    check("answered put_many survives SIGKILL", r.get("ok") is True, "ok", r)
    a.close()


# ---------------------------------------------------------------------------


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    build = os.path.abspath(args[0])
    seed = 20260101
    keep = "--keep" in args
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="conf.")
    print(f"temp dir {tmp}, seed {seed}")
    da = Daemon(build, tmp, "a")
    db = Daemon(build, tmp, "b")
    t0 = time.time()
    try:
        da.start(log_level="debug")
        print(f"daemon A at {da.addr}")
        run_section("framing", test_framing, da)
        run_section("envelope", test_envelope, da)
        run_section("hello", test_hello, da)
        run_section("records", test_records, da)
        run_section("roles", test_roles, da)
        run_section("operations", test_operations, da, tmp)
        da.stop()
        section("logs")
        log = open(da.log, errors="replace").read()
        for val in ("Li Lei", "110105199001011234", "13800000000", "SECRET-VALUE-42"):
            check(f"personal value {val!r} never written to the log (debug level)", val not in log, "absent",
                  [ln for ln in log.splitlines() if val in ln][:3])
        db.start()
        print(f"daemon B at {db.addr}")
        res = [None]

        def rank():
            res[0] = test_ranking(db, rng)
        run_section("ranking", rank)
        if res[0]:
            run_section("persistence", test_persistence, db, *res[0])
        db.stop()
        dd = Daemon(build, tmp, "d", extra=["--idle-timeout", "2", "--max-clients", "3"])
        dd.start()
        run_section("connection limits", test_connection_limits, dd)
        dd.stop()
        dc = Daemon(build, tmp, "c", env={"TZ": "Asia/Shanghai"})
        dc.start()
        run_section("ranking edge cases", test_ranking_edges, dc)
        dc.stop()
    finally:
        for d in (da, db):
            try:
                d.stop()
            except Exception:
                pass
        if not keep and FAILED == 0:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"SUMMARY: {PASSED + FAILED} checks, {PASSED} passed, {FAILED} failed ({time.time() - t0:.1f} s)")
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
