/* test_message.c - the request envelope, argument getters, UTF-8
 * validation and the response envelope. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "message.h"

/* Objects unpacked in a test, and the bytes their strings point into,
 * live until the test ends. */
static msgpack_unpacked unpacked[16];
static msgpack_sbuffer sbufs[16];
static int n_unpacked;

static void fini(void)
{
    for (int i = 0; i < n_unpacked; i++) {
        msgpack_unpacked_destroy(&unpacked[i]);
        msgpack_sbuffer_destroy(&sbufs[i]);
    }
    n_unpacked = 0;
}

TestSuite(message, .fini = fini);

/* Unpacks the packed bytes of sb into a tree that lives until the test
 * ends; takes over sb. */
static const msgpack_object *unpack_sbuf(msgpack_sbuffer *sb)
{
    cr_assert_lt(n_unpacked, 16);
    sbufs[n_unpacked] = *sb;
    msgpack_unpacked *u = &unpacked[n_unpacked++];
    msgpack_unpacked_init(u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(u, sb->data, sb->size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb->size);
    return &u->data;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pk_raw(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str_with_body(pk, s, n);
}

/* A request map {"id": id, "op": op, "args": {"n": 1}}; pieces are left
 * out with flags: 1 no id, 2 no op, 4 no args. */
static const msgpack_object *request(uint64_t id, const char *op,
                                     unsigned omit)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3 - !!(omit & 1) - !!(omit & 2) - !!(omit & 4));
    if (!(omit & 1)) {
        pk_str(&pk, "id");
        msgpack_pack_uint64(&pk, id);
    }
    if (!(omit & 2)) {
        pk_str(&pk, "op");
        pk_str(&pk, op);
    }
    if (!(omit & 4)) {
        pk_str(&pk, "args");
        msgpack_pack_map(&pk, 1);
        pk_str(&pk, "n");
        msgpack_pack_int(&pk, 1);
    }
    return unpack_sbuf(&sb);
}

Test(message, decode_request)
{
    pr_request_t req;
    pr_error_t err = {0};
    cr_assert_eq(pr_request_decode(request(42, "vacancy.get", 0), &req, &err),
                 0);
    cr_assert_eq(req.id, 42);
    cr_assert(pr_str_eq(req.op, "vacancy.get"));
    cr_assert_eq(req.args->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(req.args->via.map.size, 1);
}

Test(message, decode_request_largest_id)
{
    pr_request_t req;
    cr_assert_eq(pr_request_decode(request(UINT64_MAX, "ping", 4), &req,
                                   NULL), 0);
    cr_assert_eq(req.id, UINT64_MAX);
    cr_assert_eq(req.args->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(req.args->via.map.size, 0);
}

Test(message, args_nil_is_empty)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "id");
    msgpack_pack_int(&pk, 0);
    pk_str(&pk, "op");
    pk_str(&pk, "ping");
    pk_str(&pk, "args");
    msgpack_pack_nil(&pk);
    pr_request_t req;
    cr_assert_eq(pr_request_decode(unpack_sbuf(&sb), &req, NULL), 0);
    cr_assert_eq(req.id, 0);
    cr_assert_eq(req.args->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(req.args->via.map.size, 0);
}

/* Packs {"id": <id value>, "op": <op value>, "args": <args value>, "x": 1}
 * where each value is written by a code: the caller picks. */
enum val { V_ABSENT, V_UINT7, V_NEG, V_FLOAT, V_STR, V_NIL, V_MAP, V_ARRAY,
           V_EMPTY_STR, V_LONG_STR, V_STR64, V_BAD_UTF8 };

static void pk_val(msgpack_packer *pk, enum val v)
{
    char buf[80];
    switch (v) {
    case V_ABSENT: break;
    case V_UINT7: msgpack_pack_uint8(pk, 7); break;
    case V_NEG: msgpack_pack_int(pk, -1); break;
    case V_FLOAT: msgpack_pack_double(pk, 7.0); break;
    case V_STR: pk_str(pk, "ping"); break;
    case V_NIL: msgpack_pack_nil(pk); break;
    case V_MAP: msgpack_pack_map(pk, 0); break;
    case V_ARRAY: msgpack_pack_array(pk, 0); break;
    case V_EMPTY_STR: pk_str(pk, ""); break;
    case V_LONG_STR:
        memset(buf, 'a', 65);
        pk_raw(pk, buf, 65);
        break;
    case V_STR64:
        memset(buf, 'a', 64);
        pk_raw(pk, buf, 64);
        break;
    case V_BAD_UTF8: pk_raw(pk, "pi\xc0\x80ng", 6); break;
    }
}

static const msgpack_object *envelope(enum val id, enum val op,
                                      enum val args)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1 + (id != V_ABSENT) + (op != V_ABSENT) +
                              (args != V_ABSENT));
    pk_str(&pk, "unknown");
    msgpack_pack_true(&pk);
    if (id != V_ABSENT) {
        pk_str(&pk, "id");
        pk_val(&pk, id);
    }
    if (op != V_ABSENT) {
        pk_str(&pk, "op");
        pk_val(&pk, op);
    }
    if (args != V_ABSENT) {
        pk_str(&pk, "args");
        pk_val(&pk, args);
    }
    return unpack_sbuf(&sb);
}

Test(message, envelope_errors)
{
    struct {
        enum val id, op, args;
        int rc;
        uint64_t want_id;
        const char *msg;
    } cases[] = {
        {V_UINT7, V_STR, V_ABSENT, 0, 7, NULL},
        {V_UINT7, V_STR, V_MAP, 0, 7, NULL},
        {V_UINT7, V_STR64, V_NIL, 0, 7, NULL},
        {V_ABSENT, V_STR, V_MAP, -1, 0, "id: required"},
        {V_NIL, V_STR, V_MAP, -1, 0, "id: required"},
        {V_NEG, V_STR, V_MAP, -1, 0, "id: must be a non-negative integer"},
        {V_FLOAT, V_STR, V_MAP, -1, 0, "id: must be a non-negative integer"},
        {V_STR, V_STR, V_MAP, -1, 0, "id: must be a non-negative integer"},
        {V_UINT7, V_ABSENT, V_MAP, -1, 7, "op: required"},
        {V_UINT7, V_NIL, V_MAP, -1, 7, "op: required"},
        {V_UINT7, V_UINT7, V_MAP, -1, 7, "op: must be a string"},
        {V_UINT7, V_EMPTY_STR, V_MAP, -1, 7, "op: must be 1..64 bytes"},
        {V_UINT7, V_LONG_STR, V_MAP, -1, 7, "op: must be 1..64 bytes"},
        {V_UINT7, V_BAD_UTF8, V_MAP, -1, 7, "op: invalid UTF-8"},
        {V_UINT7, V_STR, V_ARRAY, -1, 7, "args: must be a map"},
        {V_UINT7, V_STR, V_STR, -1, 7, "args: must be a map"},
        {V_UINT7, V_STR, V_UINT7, -1, 7, "args: must be a map"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pr_request_t req;
        pr_error_t err = {0};
        int rc = pr_request_decode(
            envelope(cases[i].id, cases[i].op, cases[i].args), &req, &err);
        fini();
        cr_assert_eq(rc, cases[i].rc, "case %zu", i);
        cr_assert_eq(req.id, cases[i].want_id, "case %zu", i);
        if (rc < 0) {
            cr_assert_eq(err.code, PR_BAD_REQUEST);
            cr_assert_str_eq(err.message, cases[i].msg, "case %zu", i);
        }
    }
}

Test(message, decode_non_map_root)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_ARRAY};
    pr_request_t req;
    pr_error_t err = {0};
    cr_assert_eq(pr_request_decode(&o, &req, &err), -1);
    cr_assert_eq(err.code, PR_BAD_REQUEST);
    cr_assert_eq(req.id, 0);
}

/* A map with a variety of fields for the getters. */
static const msgpack_object *fields(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 13);
    msgpack_pack_int(&pk, 5);          /* a non-string key is skipped */
    msgpack_pack_int(&pk, 5);
    pk_str(&pk, "s");
    pk_str(&pk, "hello");
    pk_str(&pk, "s");                  /* duplicate: the first one wins */
    pk_str(&pk, "second");
    pk_str(&pk, "empty");
    pk_str(&pk, "");
    pk_str(&pk, "bad");
    pk_raw(&pk, "a\xed\xa0\x80", 4);
    pk_str(&pk, "n");
    msgpack_pack_int(&pk, 150);
    pk_str(&pk, "neg");
    msgpack_pack_int64(&pk, INT64_MIN);
    pk_str(&pk, "big");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    pk_str(&pk, "f");
    msgpack_pack_double(&pk, 3.0);
    pk_str(&pk, "nil");
    msgpack_pack_nil(&pk);
    pk_str(&pk, "t");
    msgpack_pack_true(&pk);
    pk_str(&pk, "fl");
    msgpack_pack_false(&pk);
    pk_str(&pk, "limit");
    msgpack_pack_int(&pk, 201);
    return unpack_sbuf(&sb);
}

Test(message, map_get)
{
    const msgpack_object *m = fields();
    const msgpack_object *s = pr_map_get(m, "s");
    cr_assert_not_null(s);
    cr_assert_eq(s->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(s->via.str.size, 5);
    cr_assert_null(pr_map_get(m, "missing"));
    cr_assert_null(pr_map_get(m, "S"));
    cr_assert_null(pr_map_get(m, ""));
    cr_assert_null(pr_map_get(s, "s"));
    cr_assert_null(pr_map_get(NULL, "s"));
    cr_assert_not_null(pr_map_get(m, "nil"));
}

Test(message, get_str)
{
    const msgpack_object *m = fields();
    pr_str_t out = {NULL, 0};
    pr_error_t err = {0};
    cr_assert_eq(pr_get_str(m, "s", "args.s", PR_REQUIRED, 1, 10, &out, &err),
                 0);
    cr_assert(pr_str_eq(out, "hello"));

    out.ptr = "untouched";
    cr_assert_eq(pr_get_str(m, "missing", "args.missing", 0, 1, 10, &out,
                            &err), 1);
    cr_assert_str_eq(out.ptr, "untouched");
    cr_assert_eq(pr_get_str(m, "nil", "args.nil", 0, 1, 10, &out, &err), 1);

    cr_assert_eq(pr_get_str(m, "missing", "args.missing", PR_REQUIRED, 1, 10,
                            &out, &err), -1);
    cr_assert_eq(err.code, PR_BAD_REQUEST);
    cr_assert_str_eq(err.message, "args.missing: required");
    cr_assert_eq(pr_get_str(m, "nil", "args.nil", PR_REQUIRED, 1, 10, &out,
                            &err), -1);
    cr_assert_str_eq(err.message, "args.nil: required");

    cr_assert_eq(pr_get_str(m, "n", "args.n", 0, 1, 10, &out, &err), -1);
    cr_assert_str_eq(err.message, "args.n: must be a string");
    cr_assert_eq(pr_get_str(m, "s", "vacancy.title", 0, 1, 4, &out, &err),
                 -1);
    cr_assert_str_eq(err.message, "vacancy.title: must be 1..4 bytes");
    cr_assert_eq(pr_get_str(m, "s", "args.s", 0, 6, 10, &out, &err), -1);
    cr_assert_eq(pr_get_str(m, "s", "args.s", 0, 5, 5, &out, &err), 0);
    cr_assert_eq(pr_get_str(m, "s", "args.s", 0, 4, 4, &out, &err), -1);
    cr_assert_str_eq(err.message, "args.s: must be 4 bytes");
    cr_assert_eq(pr_get_str(m, "bad", "args.bad", 0, 0, 10, &out, &err), -1);
    cr_assert_str_eq(err.message, "args.bad: invalid UTF-8");

    /* A present empty string is not confused with an absent one. */
    cr_assert_eq(pr_get_str(m, "empty", "args.empty", 0, 0, 10, &out, &err),
                 0);
    cr_assert_not_null(out.ptr);
    cr_assert_eq(out.len, 0);
    cr_assert_eq(pr_get_str(m, "empty", "args.empty", 0, 1, 10, &out, &err),
                 -1);
}

Test(message, get_int)
{
    const msgpack_object *m = fields();
    int64_t v = -5;
    pr_error_t err = {0};
    cr_assert_eq(pr_get_int(m, "n", "args.n", PR_REQUIRED, 0, 150, &v, &err),
                 0);
    cr_assert_eq(v, 150);
    cr_assert_eq(pr_get_int(m, "n", "args.n", 0, 151, 200, &v, &err), -1);
    cr_assert_str_eq(err.message, "args.n: must be an integer 151..200");
    cr_assert_eq(pr_get_int(m, "n", "args.n", 0, 0, 149, &v, &err), -1);

    cr_assert_eq(pr_get_int(m, "limit", "args.limit", 0, 1, 200, &v, &err),
                 -1);
    cr_assert_eq(err.code, PR_BAD_REQUEST);
    cr_assert_str_eq(err.message, "args.limit: must be an integer 1..200");

    cr_assert_eq(pr_get_int(m, "neg", "args.neg", 0, INT64_MIN, INT64_MAX,
                            &v, &err), 0);
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(pr_get_int(m, "neg", "args.neg", 0, 0, INT64_MAX, &v, &err),
                 -1);
    cr_assert_str_eq(err.message, "args.neg: must be an integer >= 0");

    /* Above INT64_MAX is out of every range, and the message says the
     * upper bound the value broke. */
    cr_assert_eq(pr_get_int(m, "big", "args.big", 0, INT64_MIN, INT64_MAX,
                            &v, &err), -1);
    cr_assert_str_eq(err.message,
                     "args.big: must be an integer -9223372036854775808..9223372036854775807");
    cr_assert_eq(pr_get_int(m, "big", "args.big", 0, 0, INT64_MAX, &v, &err), -1);
    cr_assert_str_eq(err.message, "args.big: must be an integer 0..9223372036854775807");

    cr_assert_eq(pr_get_int(m, "f", "args.f", 0, 0, 10, &v, &err), -1);
    cr_assert_str_eq(err.message, "args.f: must be an integer 0..10");
    cr_assert_eq(pr_get_int(m, "s", "args.s", 0, 0, 10, &v, &err), -1);
    cr_assert_eq(pr_get_int(m, "t", "args.t", 0, 0, 10, &v, &err), -1);

    v = 99;
    cr_assert_eq(pr_get_int(m, "missing", "args.missing", 0, 0, 10, &v, &err),
                 1);
    cr_assert_eq(v, 99);
    cr_assert_eq(pr_get_int(m, "nil", "args.nil", 0, 0, 10, &v, &err), 1);
    cr_assert_eq(pr_get_int(m, "missing", "args.missing", PR_REQUIRED, 0, 10,
                            &v, &err), -1);
    cr_assert_str_eq(err.message, "args.missing: required");
}

Test(message, get_bool)
{
    const msgpack_object *m = fields();
    bool b = false;
    pr_error_t err = {0};
    cr_assert_eq(pr_get_bool(m, "t", "args.t", 0, &b, &err), 0);
    cr_assert(b);
    cr_assert_eq(pr_get_bool(m, "fl", "args.fl", PR_REQUIRED, &b, &err), 0);
    cr_assert_not(b);
    cr_assert_eq(pr_get_bool(m, "n", "args.explain", 0, &b, &err), -1);
    cr_assert_str_eq(err.message, "args.explain: must be a boolean");
    b = true;
    cr_assert_eq(pr_get_bool(m, "missing", "args.x", 0, &b, &err), 1);
    cr_assert(b);
    cr_assert_eq(pr_get_bool(m, "nil", "args.x", 0, &b, &err), 1);
    cr_assert_eq(pr_get_bool(m, "missing", "args.x", PR_REQUIRED, &b, &err),
                 -1);
    cr_assert_str_eq(err.message, "args.x: required");
}

Test(message, str_eq)
{
    pr_str_t s = {"abc", 3};
    cr_assert(pr_str_eq(s, "abc"));
    cr_assert_not(pr_str_eq(s, "ab"));
    cr_assert_not(pr_str_eq(s, "abcd"));
    pr_str_t absent = {NULL, 0};
    cr_assert_not(pr_str_eq(absent, ""));
    pr_str_t empty = {"", 0};
    cr_assert(pr_str_eq(empty, ""));
}

#define U(s) pr_utf8_valid(s, sizeof(s) - 1)

Test(message, utf8_valid_sequences)
{
    cr_assert(pr_utf8_valid("", 0));
    cr_assert(U("plain ascii text, longer than eight bytes"));
    cr_assert(U("\x7f"));
    cr_assert(U("\xc2\x80"));           /* U+0080 */
    cr_assert(U("\xdf\xbf"));           /* U+07FF */
    cr_assert(U("\xe0\xa0\x80"));       /* U+0800 */
    cr_assert(U("\xed\x9f\xbf"));       /* U+D7FF */
    cr_assert(U("\xee\x80\x80"));       /* U+E000 */
    cr_assert(U("\xef\xbf\xbf"));       /* U+FFFF */
    cr_assert(U("\xf0\x90\x80\x80"));   /* U+10000 */
    cr_assert(U("\xf4\x8f\xbf\xbf"));   /* U+10FFFF */
    cr_assert(U("北京市朝阳区 - 电工 ok"));
    cr_assert(pr_utf8_valid("a\0b", 3));
}

Test(message, utf8_invalid_sequences)
{
    cr_assert_not(U("\x80"));               /* lone continuation */
    cr_assert_not(U("\xbf"));
    cr_assert_not(U("\xc0\x80"));           /* overlong NUL */
    cr_assert_not(U("\xc1\xbf"));           /* overlong */
    cr_assert_not(U("\xe0\x80\x80"));       /* overlong three-byte */
    cr_assert_not(U("\xe0\x9f\xbf"));
    cr_assert_not(U("\xed\xa0\x80"));       /* U+D800 */
    cr_assert_not(U("\xed\xbf\xbf"));       /* U+DFFF */
    cr_assert_not(U("\xf0\x80\x80\x80"));   /* overlong four-byte */
    cr_assert_not(U("\xf0\x8f\xbf\xbf"));
    cr_assert_not(U("\xf4\x90\x80\x80"));   /* U+110000 */
    cr_assert_not(U("\xf5\x80\x80\x80"));
    cr_assert_not(U("\xff"));
    cr_assert_not(U("\xfe"));
    cr_assert_not(U("\xc2"));               /* truncated */
    cr_assert_not(U("\xe2\x82"));
    cr_assert_not(U("\xf0\x9f\x98"));
    cr_assert_not(U("\xc2\x41"));           /* bad continuation */
    cr_assert_not(U("\xe2\x41\x82"));
    cr_assert_not(U("\xe2\x82\x41"));
    cr_assert_not(U("\xf0\x9f\x41\x80"));
    cr_assert_not(U("\xf0\x9f\x98\x41"));
    cr_assert_not(U("12345678\xe2\x82"));   /* truncated after a fast run */
}

/* A single bad byte anywhere in a long ASCII run is found, whichever
 * position it takes relative to the eight-byte fast path. */
Test(message, utf8_bad_byte_at_every_offset)
{
    char buf[40];
    for (size_t pos = 0; pos < sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = (char)0x80;
        cr_assert_not(pr_utf8_valid(buf, sizeof buf), "pos %zu", pos);
        buf[pos] = 'b';
        cr_assert(pr_utf8_valid(buf, sizeof buf), "pos %zu", pos);
    }
    /* A valid multibyte sequence straddling an eight-byte boundary. */
    for (size_t pos = 0; pos + 4 <= sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        memcpy(buf + pos, "\xf0\x9f\x98\x80", 4);
        cr_assert(pr_utf8_valid(buf, sizeof buf), "pos %zu", pos);
        cr_assert_not(pr_utf8_valid(buf, pos + 3), "pos %zu", pos);
    }
}

Test(message, pack_ok)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pr_pack_ok_begin(&pk, 99);
    pr_pack_cstr(&pk, "pong");
    const msgpack_object *o = unpack_sbuf(&sb);
    cr_assert_eq(o->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(o->via.map.size, 3);
    const msgpack_object *id = pr_map_get(o, "id");
    cr_assert_eq(id->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(id->via.u64, 99);
    const msgpack_object *ok = pr_map_get(o, "ok");
    cr_assert_eq(ok->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert(ok->via.boolean);
    const msgpack_object *res = pr_map_get(o, "result");
    cr_assert_eq(res->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(res->via.str.size, 4);
    cr_assert_eq(memcmp(res->via.str.ptr, "pong", 4), 0);
}

Test(message, pack_error)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pr_error_t err;
    pr_fail(&err, PR_BAD_REQUEST, "vacancy.title: required");
    pr_pack_error(&pk, 0, &err);
    const msgpack_object *o = unpack_sbuf(&sb);
    cr_assert_eq(o->via.map.size, 3);
    cr_assert_eq(pr_map_get(o, "id")->via.u64, 0);
    const msgpack_object *ok = pr_map_get(o, "ok");
    cr_assert_eq(ok->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert_not(ok->via.boolean);
    const msgpack_object *e = pr_map_get(o, "error");
    cr_assert_eq(e->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(e->via.map.size, 2);
    pr_str_t code, msg;
    cr_assert_eq(pr_get_str(e, "code", "code", PR_REQUIRED, 1, 64, &code,
                            NULL), 0);
    cr_assert(pr_str_eq(code, "bad_request"));
    cr_assert_eq(pr_get_str(e, "message", "message", PR_REQUIRED, 0, 1000,
                            &msg, NULL), 0);
    cr_assert(pr_str_eq(msg, "vacancy.title: required"));
}

Test(message, pack_str_forms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    pr_pack_str(&pk, (pr_str_t){"abcdef", 3});
    pr_pack_str(&pk, (pr_str_t){NULL, 5});
    pr_pack_cstr(&pk, "");
    pr_pack_cstr(&pk, "xyz");
    const msgpack_object *o = unpack_sbuf(&sb);
    cr_assert_eq(o->via.array.size, 4);
    const msgpack_object *a = o->via.array.ptr;
    cr_assert_eq(a[0].via.str.size, 3);
    cr_assert_eq(memcmp(a[0].via.str.ptr, "abc", 3), 0);
    cr_assert_eq(a[1].type, MSGPACK_OBJECT_STR);
    cr_assert_eq(a[1].via.str.size, 0);
    cr_assert_eq(a[2].via.str.size, 0);
    cr_assert_eq(a[3].via.str.size, 3);
}
