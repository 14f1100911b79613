/* test_protocol.c - the wire contract against a running jobmatchd: every
 * error code the server produces, connection closing on bad frames,
 * pipelining and reply order. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

/* ---- bad_frame ---------------------------------------------------------- */

typedef struct bad_frame_case {
    const char *what;
    const uint8_t *bytes;  /* sent as is, length prefix included */
    size_t len;
} bad_frame_case_t;

/* Body of {"id": 9, "op": "ping"}. */
static const uint8_t ping_body[] = {0x82, 0xa2, 'i', 'd', 0x09, 0xa2, 'o', 'p',
                                    0xa4, 'p', 'i', 'n', 'g'};

Test(protocol, bad_frames_get_id0_bad_frame_and_close, .timeout = 30)
{
    const char *args[] = {"--max-frame", "4096", NULL};
    jt_daemon_t *d = jt_daemon_start(args);

    static const uint8_t len0[] = {0, 0, 0, 0};
    static const uint8_t len_over[] = {0, 0, 0x10, 0x01};   /* 4097 */
    static const uint8_t len_max[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t not_map[] = {0, 0, 0, 4, 0x93, 1, 2, 3};
    static const uint8_t str_body[] = {0, 0, 0, 4, 0xa3, 'a', 'b', 'c'};
    static const uint8_t huge_array[] = {0, 0, 0, 5, 0xdd, 0x07, 0xff, 0xff, 0xff};
    static const uint8_t huge_map[] = {0, 0, 0, 5, 0xdf, 0x7f, 0xff, 0xff, 0xff};
    static const uint8_t huge_str[] = {0, 0, 0, 8, 0x81, 0xa1, 'a', 0xdb,
                                       0x7f, 0xff, 0xff, 0xff};
    static const uint8_t truncated[] = {0, 0, 0, 4, 0x82, 0xa2, 'i', 'd'};
    static const uint8_t never_used[] = {0, 0, 0, 1, 0xc1};
    uint8_t trailing[4 + sizeof ping_body + 1];
    trailing[0] = trailing[1] = trailing[2] = 0;
    trailing[3] = sizeof ping_body + 1;
    memcpy(trailing + 4, ping_body, sizeof ping_body);
    trailing[4 + sizeof ping_body] = 0xc0;
    /* {"id": 9, "op": "ping", "a": [[[...]]]} with 32 arrays: the top map
     * is depth 1, so the innermost array is depth 33. */
    uint8_t deep[4 + sizeof ping_body + 3 + 32 + 1];
    size_t n = 4;
    memcpy(deep + n, ping_body, sizeof ping_body);
    deep[n] = 0x83;
    n += sizeof ping_body;
    deep[n++] = 0xa1;
    deep[n++] = 'a';
    for (int i = 0; i < 32; i++)
        deep[n++] = 0x91;
    deep[n++] = 0xc0;
    deep[0] = deep[1] = deep[2] = 0;
    deep[3] = (uint8_t)(n - 4);

    const bad_frame_case_t cases[] = {
        {"length 0", len0, sizeof len0},
        {"length max_frame + 1", len_over, sizeof len_over},
        {"length 0xFFFFFFFF", len_max, sizeof len_max},
        {"body an array", not_map, sizeof not_map},
        {"body a string", str_body, sizeof str_body},
        {"dd 07 ff ff ff", huge_array, sizeof huge_array},
        {"map32 declaring 2^31 pairs", huge_map, sizeof huge_map},
        {"str32 longer than the frame", huge_str, sizeof huge_str},
        {"truncated map", truncated, sizeof truncated},
        {"byte 0xc1", never_used, sizeof never_used},
        {"trailing bytes", trailing, sizeof trailing},
        {"nesting 33 deep", deep, n},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = jt_raw_connect(d);
        jt_raw_send(fd, cases[i].bytes, cases[i].len);
        jt_raw_expect_bad_frame(fd, cases[i].what);
        close(fd);
    }
    /* The daemon is still serving. */
    jm_client_t *c = jt_connect(d);
    jt_call_ok(c, "ping", NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(protocol, bad_frame_after_good_requests_answers_them_first, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    int fd = jt_raw_connect(d);
    /* Two pings and a bad frame in one write: both pings are answered in
     * order, then the bad_frame, then the close. */
    uint8_t buf[2 * (4 + sizeof ping_body) + 6];
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        buf[n++] = 0, buf[n++] = 0, buf[n++] = 0, buf[n++] = sizeof ping_body;
        memcpy(buf + n, ping_body, sizeof ping_body);
        buf[n + 4] = (uint8_t)(10 + i);  /* id 10, 11 */
        n += sizeof ping_body;
    }
    static const uint8_t bad[] = {0, 0, 0, 2, 0x91, 0x01};
    memcpy(buf + n, bad, sizeof bad);
    n += sizeof bad;
    jt_raw_send(fd, buf, n);

    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    for (int i = 0; i < 2; i++) {
        msgpack_object reply;
        cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
        cr_assert_eq(jt_get_int(&reply, "id"), 10 + i);
        cr_assert(jt_get_bool(&reply, "ok"));
        cr_assert(jt_str_is(jt_need(&reply, "result"), "pong"));
    }
    msgpack_zone_destroy(&zone);
    jt_raw_expect_bad_frame(fd, "array after two pings");
    close(fd);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(protocol, frames_at_the_limits_are_accepted, .timeout = 30)
{
    const char *args[] = {"--max-frame", "4096", NULL};
    jt_daemon_t *d = jt_daemon_start(args);

    /* A ping of exactly max_frame bytes: {"id": 9, "op": "ping", "pad": s}
     * with s sized to fill the frame. */
    uint8_t body[4096];
    memcpy(body, ping_body, sizeof ping_body);
    body[0] = 0x83;
    size_t n = sizeof ping_body;
    body[n++] = 0xa3, body[n++] = 'p', body[n++] = 'a', body[n++] = 'd';
    size_t pad = sizeof body - n - 3;  /* str16 header is 3 bytes */
    body[n++] = 0xda;
    body[n++] = (uint8_t)(pad >> 8);
    body[n++] = (uint8_t)pad;
    memset(body + n, 'x', pad);
    n += pad;
    cr_assert_eq(n, 4096);

    int fd = jt_raw_connect(d);
    jt_raw_send_frame(fd, body, n);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert_eq(jt_get_int(&reply, "id"), 9);
    cr_assert(jt_get_bool(&reply, "ok"), "a frame of exactly max_frame is refused");

    /* Nesting exactly 32 deep is fine: 31 arrays under the top map. */
    uint8_t deep[64];
    n = 0;
    memcpy(deep, ping_body, sizeof ping_body);
    deep[0] = 0x83;
    n = sizeof ping_body;
    deep[n++] = 0xa1;
    deep[n++] = 'a';
    for (int i = 0; i < 31; i++)
        deep[n++] = 0x91;
    deep[n++] = 0xc0;
    jt_raw_send_frame(fd, deep, n);
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert_eq(jt_get_int(&reply, "id"), 9);
    cr_assert(jt_get_bool(&reply, "ok"), "nesting 32 deep is refused");
    msgpack_zone_destroy(&zone);
    close(fd);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- bad_request in the envelope --------------------------------------- */

/* Sends body (a msgpack map packed from JSON) raw and returns the reply. */
static jm_reply_t *
send_raw_json(jm_client_t *c, const char *json)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_json(&sb, "%s", json);
    cr_assert_eq(jm_send_raw(c, sb.data, sb.size), 0, "%s", c->errstr);
    msgpack_sbuffer_destroy(&sb);
    jm_reply_t *r = NULL;
    int rc = jm_recv(c, &r);
    cr_assert(rc == 0 || rc == JM_ESERVER, "recv: %s", c->errstr);
    cr_assert_not_null(r);
    return r;
}

static void
expect_envelope_error(jm_client_t *c, const char *json, uint64_t want_id,
                      const char *code, const char *field)
{
    jm_reply_t *r = send_raw_json(c, json);
    cr_assert_eq(r->id, want_id, "%s: id %llu, want %llu", json,
                 (unsigned long long)r->id, (unsigned long long)want_id);
    jt_expect_error(r, code, field);
    jm_reply_free(r);
}

Test(protocol, envelope_errors_are_bad_request_and_keep_the_connection, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);

    expect_envelope_error(c, "{\"op\": \"ping\"}", 0, "bad_request", "id");
    expect_envelope_error(c, "{\"id\": \"seven\", \"op\": \"ping\"}", 0,
                          "bad_request", "id");
    expect_envelope_error(c, "{\"id\": -3, \"op\": \"ping\"}", 0,
                          "bad_request", "id");
    expect_envelope_error(c, "{\"id\": 7}", 7, "bad_request", "op");
    expect_envelope_error(c, "{\"id\": 7, \"op\": 12}", 7, "bad_request", "op");
    expect_envelope_error(c, "{\"id\": 7, \"op\": \"\"}", 7, "bad_request", "op");
    expect_envelope_error(c, "{\"id\": 8, \"op\": \"ping\", \"args\": [1]}", 8,
                          "bad_request", "args");
    expect_envelope_error(c, "{\"id\": 8, \"op\": \"ping\", \"args\": \"x\"}", 8,
                          "bad_request", "args");
    expect_envelope_error(c, "{\"id\": 9, \"op\": \"vacancy.fly\"}", 9,
                          "unknown_op", "vacancy.fly");

    /* Unknown keys are ignored; a nil args is an empty map. */
    jm_reply_t *r = send_raw_json(c, "{\"id\": 11, \"op\": \"ping\", \"zz\": [1, 2]}");
    cr_assert_eq(r->id, 11);
    jt_expect_ok(r, "ping with an unknown key");
    cr_assert(jt_str_is(&r->result, "pong"));
    jm_reply_free(r);
    r = send_raw_json(c, "{\"id\": 12, \"op\": \"ping\", \"args\": null}");
    cr_assert_eq(r->id, 12);
    jt_expect_ok(r, "ping with nil args");
    jm_reply_free(r);

    /* None of that closed the connection. */
    jt_call_ok(c, "ping", NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* Packs {"id": 5, "op": op} with op given as raw bytes. */
static void
pack_raw_op(msgpack_sbuffer *sb, const char *op, size_t op_len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    jt_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, 5);
    jt_pack_str(&pk, "op");
    msgpack_pack_str(&pk, op_len);
    msgpack_pack_str_body(&pk, op, op_len);
}

Test(protocol, invalid_utf8_is_bad_request_naming_the_field, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    static const char bad[] = "Acme \xc3\x28 Works";     /* broken 2-byte seq */
    static const char surrogate[] = "x\xed\xa0\x80";      /* U+D800 */
    static const char overlong[] = "\xc0\xaf";            /* overlong '/' */

    msgpack_sbuffer sb;
    msgpack_packer pk;

    /* In the op itself. */
    msgpack_sbuffer_init(&sb);
    pack_raw_op(&sb, "pi\xffng", 5);
    cr_assert_eq(jm_send_raw(c, sb.data, sb.size), 0);
    jm_reply_t *r = NULL;
    jm_recv(c, &r);
    cr_assert_not_null(r);
    cr_assert_eq(r->id, 5);
    jt_expect_error(r, "bad_request", "op");
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);

    /* In record string fields. */
    struct {
        const char *record, *field, *value;
        size_t len;
    } cases[] = {
        {"vacancy", "employer", bad, sizeof bad - 1},
        {"vacancy", "title", surrogate, sizeof surrogate - 1},
        {"vacancy", "employer", overlong, sizeof overlong - 1},
        {"worker", "name", bad, sizeof bad - 1},
        {"worker", "phone", surrogate, sizeof surrogate - 1},
        {"worker", "center", overlong, sizeof overlong - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool vac = strcmp(cases[i].record, "vacancy") == 0;
        json_t *rec = json_loads(vac ? jt_vacancy_json("u1") : jt_worker_json("u1"), 0, NULL);
        cr_assert_not_null(rec);
        json_object_del(rec, cases[i].field);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        jt_pack_str(&pk, cases[i].record);
        /* The record without the field, then the field with its bad bytes. */
        msgpack_pack_map(&pk, json_object_size(rec) + 1);
        const char *k;
        json_t *v;
        json_object_foreach(rec, k, v) {
            msgpack_sbuffer tmp;
            msgpack_sbuffer_init(&tmp);
            json_t *wrap = json_pack("{sO}", k, v);
            char *text = json_dumps(wrap, 0);
            jt_args_json(&tmp, "%s", text);
            /* Skip the one-entry map header, keep "k": v. */
            msgpack_sbuffer_write(&sb, tmp.data + 1, tmp.size - 1);
            free(text);
            json_decref(wrap);
            msgpack_sbuffer_destroy(&tmp);
        }
        jt_pack_str(&pk, cases[i].field);
        msgpack_pack_str(&pk, cases[i].len);
        msgpack_pack_str_body(&pk, cases[i].value, cases[i].len);
        json_decref(rec);

        r = jt_call(c, vac ? "vacancy.put" : "worker.put", &sb);
        char want[64];
        snprintf(want, sizeof want, "%s.%s", cases[i].record, cases[i].field);
        jt_expect_error(r, "bad_request", want);
        cr_assert(strstr(r->error_message, "UTF-8") != NULL,
                  "message '%s' does not say UTF-8", r->error_message);
        jm_reply_free(r);
        msgpack_sbuffer_destroy(&sb);
    }

    /* In an argument. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "id");
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "v\xfe" "1", 3);
    r = jt_call(c, "vacancy.get", &sb);
    jt_expect_error(r, "bad_request", "id");
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);

    cr_assert_eq(jt_admin_count(c, "vacancies"), 0);
    cr_assert_eq(jt_admin_count(c, "workers"), 0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- record rules ------------------------------------------------------- */

/* Puts base JSON record `kind` with key `remove` deleted (NULL = none) and
 * the keys of override_json (NULL = none) set, and expects bad_request
 * whose message names `field`. */
static void
expect_rule(jm_client_t *c, const char *kind, const char *remove,
            const char *override_json, const char *field)
{
    bool vac = strcmp(kind, "vacancy") == 0;
    json_error_t jerr;
    json_t *rec = json_loads(vac ? jt_vacancy_json("r1") : jt_worker_json("r1"), 0, &jerr);
    cr_assert_not_null(rec);
    if (remove)
        cr_assert_eq(json_object_del(rec, remove), 0, "no key %s", remove);
    if (override_json) {
        json_t *o = json_loads(override_json, 0, &jerr);
        cr_assert_not_null(o, "bad override %s: %s", override_json, jerr.text);
        json_object_update(rec, o);
        json_decref(o);
    }
    json_t *args = json_pack("{so}", kind, rec);
    char *text = json_dumps(args, 0);
    json_decref(args);
    jm_reply_t *r = jt_call_json(c, vac ? "vacancy.put" : "worker.put", "%s", text);
    cr_assert(!r->ok, "accepted a %s breaking %s: %s", kind, field, text);
    cr_assert_str_eq(r->error_code, "bad_request", "%s: %s", text, r->error_code);
    cr_assert(strstr(r->error_message, field) != NULL,
              "%s: message '%s' does not name %s", text, r->error_message, field);
    free(text);
    jm_reply_free(r);
}

static char *
long_string(size_t n, char ch)
{
    char *s = malloc(n + 1);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

Test(protocol, vacancy_rules_name_the_field, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    char buf[2048];
    char *s64 = long_string(65, 'a'), *s128 = long_string(129, 'b'),
         *s256 = long_string(257, 'c');

    /* The base record is valid. */
    jm_reply_t *r = jt_call_json(c, "vacancy.put", "{\"vacancy\": %s}", jt_vacancy_json("ok1"));
    jt_expect_ok(r, "base vacancy");
    jm_reply_free(r);

    expect_rule(c, "vacancy", "id", NULL, "vacancy.id");
    expect_rule(c, "vacancy", NULL, "{\"id\": \"\"}", "vacancy.id");
    expect_rule(c, "vacancy", NULL, "{\"id\": \"has space\"}", "vacancy.id");
    expect_rule(c, "vacancy", NULL, "{\"id\": \"slash/no\"}", "vacancy.id");
    snprintf(buf, sizeof buf, "{\"id\": \"%s\"}", s64);
    expect_rule(c, "vacancy", NULL, buf, "vacancy.id");
    expect_rule(c, "vacancy", NULL, "{\"id\": 17}", "vacancy.id");
    expect_rule(c, "vacancy", "employer", NULL, "vacancy.employer");
    expect_rule(c, "vacancy", NULL, "{\"employer\": \"\"}", "vacancy.employer");
    snprintf(buf, sizeof buf, "{\"employer\": \"%s\"}", s128);
    expect_rule(c, "vacancy", NULL, buf, "vacancy.employer");
    expect_rule(c, "vacancy", "title", NULL, "vacancy.title");
    snprintf(buf, sizeof buf, "{\"title\": \"%s\"}", s256);
    expect_rule(c, "vacancy", NULL, buf, "vacancy.title");
    expect_rule(c, "vacancy", "occupation", NULL, "vacancy.occupation");
    expect_rule(c, "vacancy", NULL, "{\"occupation\": \"6-05-02\"}", "vacancy.occupation");
    expect_rule(c, "vacancy", NULL, "{\"occupation\": \"6-05-02-0x\"}", "vacancy.occupation");
    expect_rule(c, "vacancy", NULL, "{\"occupation\": \"60502030\"}", "vacancy.occupation");
    expect_rule(c, "vacancy", "region", NULL, "vacancy.region");
    expect_rule(c, "vacancy", NULL, "{\"region\": \"11010\"}", "vacancy.region");
    expect_rule(c, "vacancy", NULL, "{\"region\": \"11010a\"}", "vacancy.region");
    expect_rule(c, "vacancy", NULL, "{\"region\": 110105}", "vacancy.region");
    expect_rule(c, "vacancy", NULL, "{\"skills\": {\"id\": \"x\"}}", "vacancy.skills");
    expect_rule(c, "vacancy", NULL, "{\"skills\": [{\"id\": \"x\", \"level\": 0}]}",
                "vacancy.skills[0].level");
    expect_rule(c, "vacancy", NULL,
                "{\"skills\": [{\"id\": \"x\", \"level\": 2}, {\"id\": \"y\", \"level\": 6}]}",
                "vacancy.skills[1].level");
    expect_rule(c, "vacancy", NULL, "{\"skills\": [{\"id\": \"x\"}]}",
                "vacancy.skills[0].level");
    expect_rule(c, "vacancy", NULL, "{\"skills\": [{\"id\": \"a b\", \"level\": 1}]}",
                "vacancy.skills[0].id");
    expect_rule(c, "vacancy", NULL,
                "{\"skills\": [{\"id\": \"x\", \"level\": 1}, {\"id\": \"x\", \"level\": 2}]}",
                "vacancy.skills[1]");
    expect_rule(c, "vacancy", NULL, "{\"skills\": [3]}", "vacancy.skills[0]");
    /* 65 skills. */
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"skills\": [");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s{\"id\": \"s%d\", \"level\": 1}",
                              i ? ", " : "", i);
    snprintf(buf + n, sizeof buf - n, "]}");
    expect_rule(c, "vacancy", NULL, buf, "vacancy.skills");
    expect_rule(c, "vacancy", NULL, "{\"education_min\": 8}", "vacancy.education_min");
    expect_rule(c, "vacancy", NULL, "{\"education_min\": -1}", "vacancy.education_min");
    expect_rule(c, "vacancy", NULL, "{\"age_min\": \"18\"}", "vacancy.age_min");
    expect_rule(c, "vacancy", NULL, "{\"age_max\": -5}", "vacancy.age_max");
    expect_rule(c, "vacancy", NULL, "{\"wage_min\": 3000.5}", "vacancy.wage_min");
    expect_rule(c, "vacancy", NULL, "{\"wage_max\": true}", "vacancy.wage_max");
    expect_rule(c, "vacancy", NULL, "{\"headcount\": 0}", "vacancy.headcount");
    expect_rule(c, "vacancy", NULL, "{\"priority_categories\": [\"veteran\"]}",
                "vacancy.priority_categories[0]");
    expect_rule(c, "vacancy", NULL, "{\"priority_categories\": \"graduate\"}",
                "vacancy.priority_categories");
    expect_rule(c, "vacancy", NULL, "{\"posted\": \"yesterday\"}", "vacancy.posted");
    expect_rule(c, "vacancy", NULL, "{\"expires\": -1}", "vacancy.expires");
    expect_rule(c, "vacancy", NULL, "{\"status\": \"paused\"}", "vacancy.status");
    expect_rule(c, "vacancy", NULL, "{\"status\": 0}", "vacancy.status");

    /* The record argument itself. */
    r = jt_call_json(c, "vacancy.put", "{}");
    jt_expect_error(r, "bad_request", "vacancy");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.put", "{\"vacancy\": [1, 2]}");
    jt_expect_error(r, "bad_request", "vacancy");
    jm_reply_free(r);

    /* Nothing but the valid base record was written. */
    cr_assert_eq(jt_admin_count(c, "vacancies"), 1);
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"r1\"}");
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    free(s64);
    free(s128);
    free(s256);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(protocol, worker_rules_name_the_field, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    char buf[2048];

    jm_reply_t *r = jt_call_json(c, "worker.put", "{\"worker\": %s}", jt_worker_json("ok1"));
    jt_expect_ok(r, "base worker");
    jm_reply_free(r);

    expect_rule(c, "worker", "id", NULL, "worker.id");
    expect_rule(c, "worker", NULL, "{\"id\": \"w#1\"}", "worker.id");
    expect_rule(c, "worker", NULL, "{\"name\": \"\"}", "worker.name");
    expect_rule(c, "worker", NULL, "{\"national_id\": 110101199001011234}",
                "worker.national_id");
    expect_rule(c, "worker", NULL, "{\"phone\": [\"138\"]}", "worker.phone");
    expect_rule(c, "worker", "birth_year", NULL, "worker.birth_year");
    expect_rule(c, "worker", NULL, "{\"birth_year\": 1899}", "worker.birth_year");
    expect_rule(c, "worker", NULL, "{\"birth_year\": 2101}", "worker.birth_year");
    expect_rule(c, "worker", NULL, "{\"birth_year\": \"1980\"}", "worker.birth_year");
    expect_rule(c, "worker", "region", NULL, "worker.region");
    expect_rule(c, "worker", NULL, "{\"region\": \"1101050\"}", "worker.region");
    expect_rule(c, "worker", NULL, "{\"education\": 8}", "worker.education");
    expect_rule(c, "worker", NULL, "{\"skills\": [{\"id\": \"x\", \"level\": 9}]}",
                "worker.skills[0].level");
    expect_rule(c, "worker", NULL, "{\"skills\": [{\"level\": 2}]}", "worker.skills[0].id");
    expect_rule(c, "worker", NULL, "{\"desired_occupations\": [\"6-0\"]}",
                "worker.desired_occupations[0]");
    expect_rule(c, "worker", NULL, "{\"desired_occupations\": [\"6-05-02-03-01\"]}",
                "worker.desired_occupations[0]");
    expect_rule(c, "worker", NULL, "{\"desired_occupations\": [\"6\", 7]}",
                "worker.desired_occupations[1]");
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"desired_occupations\": [");
    for (int i = 0; i < 17; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"6-0%d\"", i ? ", " : "", i % 10);
    snprintf(buf + n, sizeof buf - n, "]}");
    expect_rule(c, "worker", NULL, buf, "worker.desired_occupations");
    expect_rule(c, "worker", NULL, "{\"wage_min\": -1}", "worker.wage_min");
    expect_rule(c, "worker", NULL, "{\"category\": \"retired\"}", "worker.category");
    char *s65 = long_string(65, 'k');
    snprintf(buf, sizeof buf, "{\"center\": \"%s\"}", s65);
    free(s65);
    expect_rule(c, "worker", NULL, buf, "worker.center");
    expect_rule(c, "worker", NULL, "{\"registered\": 1.0}", "worker.registered");
    expect_rule(c, "worker", NULL, "{\"status\": \"busy\"}", "worker.status");

    r = jt_call_json(c, "worker.put", "{\"worker\": \"w1\"}");
    jt_expect_error(r, "bad_request", "worker");
    jm_reply_free(r);

    cr_assert_eq(jt_admin_count(c, "workers"), 1);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- unauthorized, forbidden, not_found -------------------------------- */

static void
expect_role(jm_client_t *c, const char *role)
{
    jm_reply_t *r = jt_call_json(c, "hello", "{\"protocol\": 1}");
    jt_expect_ok(r, "hello");
    cr_assert_str_eq(jt_get_str(&r->result, "role"), role);
    jm_reply_free(r);
}

Test(protocol, hello_reports_the_server_and_role, .timeout = 30)
{
    const char *args[] = {"--node", "city-110100", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect(d);
    jm_reply_t *r = jt_call_json(c, "hello", "{\"protocol\": 1}");
    jt_expect_ok(r, "hello");
    cr_assert_str_eq(jt_get_str(&r->result, "server"), "jobmatchd");
    cr_assert_gt(strlen(jt_get_str(&r->result, "version")), 0);
    cr_assert_eq(jt_get_int(&r->result, "protocol"), 1);
    cr_assert_str_eq(jt_get_str(&r->result, "role"), "kiosk");
    cr_assert_str_eq(jt_get_str(&r->result, "node"), "city-110100");
    jm_reply_free(r);
    r = jt_call_json(c, "hello", "{\"protocol\": 2}");
    jt_expect_error(r, "bad_request", "protocol");
    jm_reply_free(r);
    r = jt_call(c, "ping", NULL);
    jt_expect_ok(r, "ping");
    cr_assert(jt_str_is(&r->result, "pong"));
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(protocol, wrong_key_is_unauthorized_and_keeps_the_role, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);

    jm_reply_t *r = jt_call_json(c, "hello", "{\"protocol\": 1, \"key\": \"not-the-key\"}");
    jt_expect_error(r, "unauthorized", NULL);
    jm_reply_free(r);
    expect_role(c, "kiosk");
    /* Still a kiosk: writing is forbidden. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_vacancy(&sb, "v1", "110105", "6-05-02-03", "weld:2");
    r = jt_call(c, "vacancy.put", &sb);
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);

    /* An admin that presents a wrong key stays admin. */
    r = jt_call_json(c, "hello", "{\"protocol\": 1, \"key\": \"%s\"}", JT_ADMIN_KEY);
    jt_expect_ok(r, "hello admin");
    jm_reply_free(r);
    r = jt_call_json(c, "hello", "{\"protocol\": 1, \"key\": \"%sx\"}", JT_ADMIN_KEY);
    jt_expect_error(r, "unauthorized", NULL);
    jm_reply_free(r);
    expect_role(c, "admin");
    r = jt_call(c, "vacancy.put", &sb);
    jt_expect_ok(r, "admin put after a failed hello");
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);

    /* An empty key or a key of the wrong type is a bad request. */
    r = jt_call_json(c, "hello", "{\"protocol\": 1, \"key\": 42}");
    jt_expect_error(r, "bad_request", "key");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(protocol, kiosk_writes_are_forbidden, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_vacancy(&sb, "v1", "110105", "6-05-02-03", "weld:2");
    jm_reply_t *r = jt_call(c, "vacancy.put", &sb);
    jt_expect_error(r, "forbidden", "vacancy.put");
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"v1\"}");
    jt_expect_error(r, "not_found", NULL);  /* the put did not happen */
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(protocol, missing_records_are_not_found, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    const char *ops[] = {"vacancy.get", "vacancy.delete", "vacancy.close",
                         "worker.get", "worker.delete"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        jm_reply_t *r = jt_call_json(c, ops[i], "{\"id\": \"nobody-%zu\"}", i);
        cr_assert(!r->ok, "%s of a missing id succeeded", ops[i]);
        cr_assert_str_eq(r->error_code, "not_found", "%s: %s", ops[i], r->error_code);
        char id[32];
        snprintf(id, sizeof id, "nobody-%zu", i);
        cr_assert(strstr(r->error_message, id), "%s: message '%s'", ops[i],
                  r->error_message);
        jm_reply_free(r);
    }
    /* A malformed id is a bad request, not a miss. */
    jm_reply_t *r = jt_call_json(c, "vacancy.get", "{\"id\": \"a b\"}");
    jt_expect_error(r, "bad_request", "id");
    jm_reply_free(r);
    r = jt_call_json(c, "worker.get", "{}");
    jt_expect_error(r, "bad_request", "id");
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), 0, "a failed write was logged");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- overloaded --------------------------------------------------------- */

Test(protocol, connections_over_max_clients_get_overloaded, .timeout = 30)
{
    const char *args[] = {"--max-clients", "2", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *a = jt_connect(d), *b = jt_connect(d);
    /* Both are accepted and served before the third arrives. */
    jt_call_ok(a, "ping", NULL);
    jt_call_ok(b, "ping", NULL);

    int fd = jt_raw_connect(d);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0, "no overloaded frame");
    cr_assert_eq(jt_get_int(&reply, "id"), 0);
    cr_assert_eq(jt_get_bool(&reply, "ok"), false);
    cr_assert(jt_str_is(jt_need(jt_need(&reply, "error"), "code"), "overloaded"));
    cr_assert(jt_raw_closed(fd));
    close(fd);
    msgpack_zone_destroy(&zone);

    /* The first two are unaffected; once one leaves there is room again. */
    jt_call_ok(a, "ping", NULL);
    jm_close(b);
    jm_client_t *c = NULL;
    for (int i = 0; i < 200 && !c; i++) {
        c = jt_connect(d);
        jm_reply_t *r = NULL;
        int rc = jm_call(c, "ping", NULL, 0, &r);
        if (rc != 0) {
            /* The close of b may not have been seen yet. */
            jm_reply_free(r);
            jm_close(c);
            c = NULL;
            usleep(10000);
            continue;
        }
        jm_reply_free(r);
    }
    cr_assert_not_null(c, "no room after a client left");
    jm_close(c);
    jm_close(a);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- pipelining ---------------------------------------------------------- */

enum expect { EXP_PUT, EXP_GET, EXP_PONG, EXP_NOT_FOUND, EXP_BAD, EXP_LIST };

Test(protocol, pipelined_requests_are_answered_in_order, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    enum { N = 200, BAD_AT = 97, RAW_AT = 151 };
    uint64_t ids[N];
    enum expect want[N];
    char names[N][16];

    for (int i = 0; i < N; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        uint64_t id = 0;
        int rc;
        snprintf(names[i], sizeof names[i], "p%d", i);
        if (i == BAD_AT) {
            /* A put breaking a rule, in the middle of the stream. */
            jt_args_vacancy(&sb, names[i], "11010", "6-05-02-03", "a:1");
            rc = jm_send(c, "vacancy.put", sb.data, sb.size, &id);
            want[i] = EXP_BAD;
        } else if (i == RAW_AT) {
            /* A raw request with an id of our choosing and args not a map. */
            jt_args_json(&sb, "{\"id\": 900001, \"op\": \"ping\", \"args\": 5}");
            rc = jm_send_raw(c, sb.data, sb.size);
            id = 900001;
            want[i] = EXP_BAD;
        } else if (i % 4 == 0) {
            jt_args_vacancy(&sb, names[i], "110105", "6-05-02-03", "a:1,b:2");
            rc = jm_send(c, "vacancy.put", sb.data, sb.size, &id);
            want[i] = EXP_PUT;
        } else if (i % 4 == 1) {
            /* Reads the vacancy put just before: a pipelined read sees the
             * write ahead of it. */
            snprintf(names[i], sizeof names[i], "p%d", i - 1);
            jt_args_id(&sb, names[i]);
            rc = jm_send(c, "vacancy.get", sb.data, sb.size, &id);
            want[i] = EXP_GET;
        } else if (i % 8 == 2) {
            rc = jm_send(c, "ping", NULL, 0, &id);
            want[i] = EXP_PONG;
        } else if (i % 8 == 6) {
            jt_args_json(&sb, "{\"limit\": 1000}");
            rc = jm_send(c, "vacancy.list", sb.data, sb.size, &id);
            want[i] = EXP_LIST;
        } else {
            jt_args_id(&sb, "never-put");
            rc = jm_send(c, "vacancy.get", sb.data, sb.size, &id);
            want[i] = EXP_NOT_FOUND;
        }
        cr_assert_eq(rc, 0, "send %d: %s", i, c->errstr);
        ids[i] = id;
        msgpack_sbuffer_destroy(&sb);
    }

    int puts_before = 0;
    for (int i = 0; i < N; i++) {
        jm_reply_t *r = NULL;
        int rc = jm_recv(c, &r);
        cr_assert(rc == 0 || rc == JM_ESERVER, "recv %d: %s", i, c->errstr);
        cr_assert_eq(r->id, ids[i], "reply %d has id %llu, want %llu", i,
                     (unsigned long long)r->id, (unsigned long long)ids[i]);
        switch (want[i]) {
        case EXP_PUT:
            jt_expect_ok(r, "pipelined put");
            cr_assert_str_eq(jt_get_str(&r->result, "id"), names[i]);
            cr_assert(jt_get_bool(&r->result, "created"));
            puts_before++;
            break;
        case EXP_GET:
            jt_expect_ok(r, "pipelined get after put");
            cr_assert_str_eq(jt_get_str(jt_need(&r->result, "vacancy"), "id"), names[i]);
            break;
        case EXP_PONG:
            jt_expect_ok(r, "pipelined ping");
            cr_assert(jt_str_is(&r->result, "pong"));
            break;
        case EXP_LIST: {
            jt_expect_ok(r, "pipelined list");
            /* The list sees exactly the puts answered before it. */
            const msgpack_object *v = jt_need(&r->result, "vacancies");
            cr_assert_eq(v->type, MSGPACK_OBJECT_ARRAY);
            cr_assert_eq(v->via.array.size, (uint32_t)puts_before,
                         "list %d saw %u vacancies, want %d", i,
                         v->via.array.size, puts_before);
            break;
        }
        case EXP_NOT_FOUND:
            jt_expect_error(r, "not_found", NULL);
            break;
        case EXP_BAD:
            jt_expect_error(r, "bad_request", i == BAD_AT ? "vacancy.region" : "args");
            break;
        }
        jm_reply_free(r);
    }
    cr_assert_eq(jt_admin_count(c, "vacancies"), (uint64_t)puts_before);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(protocol, pipelined_write_then_read_sees_the_write, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    msgpack_sbuffer put, get, del;
    msgpack_sbuffer_init(&put);
    msgpack_sbuffer_init(&get);
    msgpack_sbuffer_init(&del);
    jt_args_worker(&put, "w-pipe", "310101", "2-02", "c:3");
    jt_args_id(&get, "w-pipe");
    jt_args_id(&del, "w-pipe");
    uint64_t id[4];
    cr_assert_eq(jm_send(c, "worker.put", put.data, put.size, &id[0]), 0);
    cr_assert_eq(jm_send(c, "worker.get", get.data, get.size, &id[1]), 0);
    cr_assert_eq(jm_send(c, "worker.delete", del.data, del.size, &id[2]), 0);
    cr_assert_eq(jm_send(c, "worker.get", get.data, get.size, &id[3]), 0);

    jm_reply_t *r;
    cr_assert_eq(jm_recv(c, &r), 0);
    cr_assert_eq(r->id, id[0]);
    jm_reply_free(r);
    cr_assert_eq(jm_recv(c, &r), 0, "the get after the put failed: %s", c->errstr);
    cr_assert_eq(r->id, id[1]);
    cr_assert_str_eq(jt_get_str(jt_need(&r->result, "worker"), "region"), "310101");
    jm_reply_free(r);
    cr_assert_eq(jm_recv(c, &r), 0);
    cr_assert_eq(r->id, id[2]);
    jm_reply_free(r);
    cr_assert_eq(jm_recv(c, &r), JM_ESERVER, "the get after the delete found it");
    cr_assert_eq(r->id, id[3]);
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&put);
    msgpack_sbuffer_destroy(&get);
    msgpack_sbuffer_destroy(&del);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}
