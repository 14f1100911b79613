#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/).

corpus/request/: one request frame body per file (no length prefix), as
fuzz_request takes it. `op-<operation>*` files are valid requests, one or
more per operation of the server's table (tests/integration/test_fuzz_seeds.c
checks every operation has one and that the daemon accepts it); `bad-*`
files are hostile bodies.

corpus/frame/: three configuration bytes (max_frame 4096, a chunk seed),
then a byte stream as a client would send it, as fuzz_frame takes it.

Run it after adding an operation (add a valid request to REQUESTS) and
commit what it writes. Needs python3-msgpack.
"""
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))

VACANCY = {
    "id": "v-2", "employer": "Acme Machinery", "title": "Welder",
    "occupation": "6-05-02-03", "region": "110105",
    "skills": [{"id": "weld", "level": 3}, {"id": "forklift", "level": 1}],
    "education_min": 3, "age_min": 18, "age_max": 55,
    "wage_min": 6000, "wage_max": 9000, "headcount": 2,
    "priority_categories": ["laid_off", "graduate"],
    "posted": 1767225600, "expires": 0, "status": "open",
}
WORKER = {
    "id": "w-2", "name": "Wang Fang", "national_id": "110105199001011234",
    "phone": "13800000000", "birth_year": 1990, "region": "110105",
    "education": 3, "skills": [{"id": "weld", "level": 4}],
    "desired_occupations": ["6-05", "6-05-02-03"], "wage_min": 5000,
    "category": "laid_off", "center": "c-1", "registered": 1767225600,
    "status": "available",
}
PROFILE = {k: v for k, v in WORKER.items()
           if k not in ("id", "name", "national_id", "phone")}

# (file name, op, args). Records v-1, v-9 and w-1, fair fair-1 (of v-1 and
# w-1), referral r-1 (of w-1 to v-9, referred) and alert subscriptions 1 and
# 2 exist in the harness's store.
REQUESTS = [
    ("op-hello", "hello", {"protocol": 1}),
    ("op-hello-key", "hello", {"protocol": 1, "key": "desk-key"}),
    ("op-ping", "ping", None),
    ("op-vacancy.get", "vacancy.get", {"id": "v-1"}),
    ("op-vacancy.list", "vacancy.list", {"region": "1101", "occupation": "6-05",
                                         "status": "open", "limit": 5}),
    ("op-vacancy.put", "vacancy.put", {"vacancy": VACANCY}),
    ("op-vacancy.put_many", "vacancy.put_many",
     {"vacancies": [VACANCY, dict(VACANCY, id="v-3", region="110108")]}),
    ("op-vacancy.delete", "vacancy.delete", {"id": "v-1"}),
    ("op-vacancy.close", "vacancy.close", {"id": "v-1"}),
    ("op-worker.get", "worker.get", {"id": "w-1"}),
    ("op-worker.list", "worker.list", {"region": "11", "category": "laid_off",
                                       "status": "available", "limit": 10}),
    ("op-worker.put", "worker.put", {"worker": WORKER}),
    ("op-worker.put_many", "worker.put_many",
     {"workers": [WORKER, dict(WORKER, id="w-3", category="graduate")]}),
    ("op-worker.delete", "worker.delete", {"id": "w-1"}),
    ("op-match.vacancies", "match.vacancies",
     {"worker": "w-1", "scope": "all", "limit": 10, "explain": True}),
    ("op-match.vacancies-profile", "match.vacancies",
     {"profile": PROFILE, "scope": "province", "occupation": "6-05",
      "employer": "Acme", "min_wage": 5000, "as_of": 1767225600}),
    ("op-match.workers", "match.workers",
     {"vacancy": "v-1", "scope": "city", "explain": True, "category": "laid_off"}),
    ("op-match.explain", "match.explain", {"worker": "w-1", "vacancy": "v-1",
                                           "scope": "county"}),
    ("op-fair.create", "fair.create", {"id": "fair-2", "name": "Autumn fair",
                                       "region": "110105", "date": 1775000000}),
    ("op-fair.register", "fair.register", {"fair": "fair-1", "vacancies": ["v-1"],
                                           "workers": ["w-1"]}),
    ("op-fair.unregister", "fair.unregister", {"fair": "fair-1", "workers": ["w-1"]}),
    ("op-fair.get", "fair.get", {"fair": "fair-1"}),
    ("op-fair.allocate", "fair.allocate", {"fair": "fair-1", "scope": "city",
                                           "as_of": 1767225600}),
    ("op-alert.subscribe", "alert.subscribe", {"worker": "w-1", "min_score": 1.5,
                                               "scope": "province", "occupation": "6-05",
                                               "min_wage": 3000}),
    ("op-alert.subscribe-vacancy", "alert.subscribe", {"vacancy": "v-1",
                                                       "category": "laid_off"}),
    ("op-alert.unsubscribe", "alert.unsubscribe", {"subscription": 2}),
    ("op-alert.listen", "alert.listen", {"subscription": 1}),
    ("op-alert.list", "alert.list", {"subscription": 1, "after": 0, "limit": 10}),
    ("op-alert.subscriptions", "alert.subscriptions", {"worker": "w-1"}),
    ("op-admin.info", "admin.info", None),
    ("op-admin.check", "admin.check", None),
    ("op-audit.list", "audit.list", {"worker": "w-1", "key": "desk",
                                     "since": 0, "limit": 10}),
    # A bare name: the daemon that test_fuzz_seeds starts has a backup_dir.
    ("op-admin.backup", "admin.backup", {"path": "seed-copy"}),
    ("op-admin.stats", "admin.stats", None),
    ("op-referral.create", "referral.create", {"worker": "w-1", "vacancy": "v-1",
                                               "note": "good fit"}),
    ("op-referral.update", "referral.update", {"id": "r-1", "status": "interviewed",
                                               "note": "met on Monday"}),
    ("op-referral.get", "referral.get", {"id": "r-1"}),
    ("op-referral.list", "referral.list", {"worker": "w-1", "status": "referred",
                                           "limit": 10}),
    ("op-stats.supply_demand", "stats.supply_demand",
     {"period": "2026-Q1", "region": "11", "by": "minor", "occupation": "6-05"}),
    ("op-stats.wages", "stats.wages", {"region": "1101", "by": "city",
                                       "flag_limit": 10}),
    ("op-stats.reemployment", "stats.reemployment", {"period": "2026",
                                                     "region": "110105"}),
    ("op-occupation.suggest", "occupation.suggest", {"text": "抖音客服专员", "limit": 5}),
    ("op-sync.pull", "sync.pull", {"after": 0, "limit": 100}),
    ("op-match.counts", "match.counts", {"skills": ["weld", "cook"]}),
    ("op-match.vacancies-network", "match.vacancies",
     {"profile": {"birth_year": 1990, "region": "110105",
                  "skills": [{"id": "weld", "level": 3}]}, "scope": "network"}),
    ("op-stats.supply_demand-network", "stats.supply_demand",
     {"period": "2026", "network": True}),
]


def request(op, args, rid=7):
    req = {"id": rid, "op": op}
    if args is not None:
        req["args"] = args
    return msgpack.packb(req)


def nested(levels):
    """{"id": 1, "op": "ping", "a": [[[...]]]}: the top map is level 1."""
    inner = b"\x91" * (levels - 1) + b"\xc0"
    return b"\x83\xa2id\x01\xa2op\xa4ping\xa1a" + inner


PING = request("ping", None)

# Hostile bodies: each must be refused or answered without harm.
BAD_BODIES = [
    ("bad-array32-declares-4g", b"\xdd\xff\x00\x00\x00"),
    ("bad-map32-declares-2g", b"\xdf\x7f\xff\xff\xff"),
    ("bad-str32-longer-than-frame", b"\x81\xa1a\xdb\x7f\xff\xff\xff"),
    ("bad-bin32-longer-than-frame", b"\x81\xa1a\xc6\xff\xff\xff\xff"),
    ("bad-ext32-longer-than-frame", b"\x81\xa1a\xc9\x00\x01\x00\x00\x01"),
    ("bad-nesting-33", nested(33)),
    ("bad-nesting-1000", nested(1000)),
    ("bad-nesting-100000", nested(100000)),
    ("bad-truncated", PING[:-2]),
    ("bad-trailing", PING + b"\xc0"),
    ("bad-c1", b"\x81\xa1a\xc1"),
    ("bad-not-a-map", msgpack.packb([1, 2, 3])),
    ("bad-http", b"GET / HTTP/1.0\r\n\r\n"),
    ("bad-huge-array-of-nil", msgpack.packb({"id": 1, "op": "ping",
                                             "a": [None] * 3000})),
    ("bad-huge-map", msgpack.packb({"id": 1, "op": "ping",
                                    "m": {str(i): i for i in range(1000)}})),
    ("bad-id-string", request("ping", None, rid="7")),
    ("bad-id-negative", msgpack.packb({"id": -1, "op": "ping"})),
    ("bad-op-binary", msgpack.packb({"id": 1, "op": b"ping"}, use_bin_type=True)),
    ("bad-op-invalid-utf8", b"\x82\xa2id\x01\xa2op\xa4p\xffng"),
    ("bad-args-array", msgpack.packb({"id": 1, "op": "ping", "args": [1]})),
    ("bad-unknown-op", request("vacancy.fly", {})),
    ("bad-float-int", request("vacancy.list", {"limit": 1.0})),
    ("bad-skill-level-wrong-type", request("worker.put", {"worker": dict(
        WORKER, skills=[{"id": "weld", "level": "4"}])})),
    ("bad-employer-invalid-utf8", b"\x83\xa2id\x01\xa2op\xabvacancy.put\xa4args"
     b"\x81\xa7vacancy\x85\xa2id\xa1x\xa8employer\xa2\xc3\x28\xa5title\xa1t"
     b"\xaaoccupation\xaa6-05-02-03\xa6region\xa6110105"),
    ("bad-put-many-count-beyond-bytes", request("worker.put_many",
                                                {"workers": [{}] * 300})),
    ("bad-profile-and-worker", request("match.vacancies",
                                       {"worker": "w-1", "profile": PROFILE})),
    ("bad-cursor", request("vacancy.list", {"cursor": "\u00e9t\u00e9"})),
    ("bad-duplicate-keys", b"\x83\xa2id\x01\xa2op\xa4ping\xa2id\xa1x"),
]


def stream_seed(name, stream, chunk_seed=1):
    # max_frame = 16 + (b0 << 8 | b1) % 8192 = 4096
    return name, struct.pack(">HB", 4096 - 16, chunk_seed) + stream


def framed(body):
    return struct.pack(">I", len(body)) + body


FRAME_SEEDS = [
    stream_seed("ping", framed(PING)),
    stream_seed("pipelined", b"".join(framed(request(op, a, i + 1))
                                      for i, (_, op, a) in enumerate(REQUESTS[:8])), 7),
    stream_seed("len-0", b"\x00\x00\x00\x00" + PING),
    stream_seed("len-max", framed(msgpack.packb({"id": 1, "op": "ping",
                                                 "pad": "x" * (4096 - 23)}))),
    stream_seed("len-max-plus-1", b"\x00\x00\x10\x01" + b"\x80" * 64),
    stream_seed("len-ffffffff", b"\xff\xff\xff\xff" + PING),
    stream_seed("http", b"GET / HTTP/1.0\r\n\r\n"),
    stream_seed("lying-short", b"\x00\x00\x00\x05" + PING),
    stream_seed("lying-long", b"\x00\x00\x00\x40" + PING + framed(PING)),
    stream_seed("truncated-frame", framed(PING)[:-3], 3),
    stream_seed("truncated-prefix", framed(PING) + b"\x00\x00", 5),
] + [stream_seed("body-" + name, framed(body), 11) for name, body in BAD_BODIES
   if len(body) <= 4096]


def write(dirname, items):
    path = os.path.join(HERE, "corpus", dirname)
    os.makedirs(path, exist_ok=True)
    for name, data in items:
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    write("request", [(name, request(op, args)) for name, op, args in REQUESTS])
    write("request", BAD_BODIES)
    write("frame", FRAME_SEEDS)


if __name__ == "__main__":
    main()
