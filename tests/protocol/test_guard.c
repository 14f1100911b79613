/* test_guard.c - the structural check of untrusted msgpack bodies: every
 * type of the format, lying lengths, nesting limits, truncation and
 * trailing bytes. Where the guard accepts, msgpack-c must parse the body
 * too, which the tests check as well. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "guard.h"

/* A growable byte buffer for hand-built bodies. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put1(bytes_t *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put_fill(bytes_t *b, uint8_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put1(b, v);
}

/* Parses with msgpack-c: true when it reads exactly one object spanning
 * all len bytes. */
static bool msgpack_accepts(const uint8_t *p, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return rc =
        msgpack_unpack_next(&u, (const char *)p, len, &off);
    bool ok = rc == MSGPACK_UNPACK_SUCCESS && off == len &&
              u.data.type == MSGPACK_OBJECT_MAP;
    msgpack_unpacked_destroy(&u);
    return ok;
}

/* The msgpack_objects msgpack-c decodes o into: o itself, its elements,
 * and each key and value of a map. */
static size_t count_objects(const msgpack_object *o)
{
    size_t n = 1;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++)
            n += count_objects(&o->via.array.ptr[i]);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++)
            n += count_objects(&o->via.map.ptr[i].key) +
                 count_objects(&o->via.map.ptr[i].val);
    }
    return n;
}

/* The guard's element count of an accepted body must be what msgpack-c
 * decodes it into: the engine bounds a request's memory by it. */
static void assert_elements_as_decoded(const uint8_t *p, size_t len)
{
    size_t elements = 0;
    pr_error_t err = {0};
    cr_assert_eq(pr_guard_check(p, len, PR_MAX_DEPTH, &elements, &err), 0, "%s",
                 err.message);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, (const char *)p, len, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(elements, count_objects(&u.data));
    msgpack_unpacked_destroy(&u);
}

static int check(const bytes_t *b, pr_error_t *err)
{
    return pr_guard_check(b->p, b->len, PR_MAX_DEPTH, NULL, err);
}

/* One encoded value of each msgpack type. */
typedef struct {
    const char *name;
    const uint8_t *bytes;
    size_t len;
} sample_t;

#define S(name, ...)                                                        \
    {name, (const uint8_t[]){__VA_ARGS__},                                  \
     sizeof((const uint8_t[]){__VA_ARGS__})}

static const sample_t samples[] = {
    S("nil", 0xc0),
    S("false", 0xc2),
    S("true", 0xc3),
    S("positive fixint", 0x00),
    S("positive fixint max", 0x7f),
    S("negative fixint", 0xe0),
    S("negative fixint -1", 0xff),
    S("uint8", 0xcc, 0xff),
    S("uint16", 0xcd, 0xff, 0xff),
    S("uint32", 0xce, 0xff, 0xff, 0xff, 0xff),
    S("uint64", 0xcf, 1, 2, 3, 4, 5, 6, 7, 8),
    S("int8", 0xd0, 0x80),
    S("int16", 0xd1, 0x80, 0x00),
    S("int32", 0xd2, 0x80, 0, 0, 0),
    S("int64", 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0),
    S("float32", 0xca, 0x3f, 0x80, 0, 0),
    S("float64", 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0),
    S("fixstr empty", 0xa0),
    S("fixstr", 0xa3, 'a', 'b', 'c'),
    S("str8", 0xd9, 2, 'h', 'i'),
    S("str16", 0xda, 0, 2, 'h', 'i'),
    S("str32", 0xdb, 0, 0, 0, 2, 'h', 'i'),
    S("bin8", 0xc4, 1, 0xff),
    S("bin16", 0xc5, 0, 1, 0xff),
    S("bin32", 0xc6, 0, 0, 0, 1, 0xff),
    S("fixarray empty", 0x90),
    S("fixarray", 0x92, 0x01, 0xc0),
    S("array16", 0xdc, 0, 2, 0x01, 0x02),
    S("array32", 0xdd, 0, 0, 0, 1, 0xc3),
    S("fixmap empty", 0x80),
    S("fixmap", 0x81, 0xa1, 'k', 0x01),
    S("map16", 0xde, 0, 1, 0x01, 0x02),
    S("map32", 0xdf, 0, 0, 0, 1, 0xc0, 0xc0),
    S("fixext1", 0xd4, 0x01, 0xaa),
    S("fixext2", 0xd5, 0x01, 0xaa, 0xbb),
    S("fixext4", 0xd6, 0x01, 1, 2, 3, 4),
    S("fixext8", 0xd7, 0x01, 1, 2, 3, 4, 5, 6, 7, 8),
    S("fixext16", 0xd8, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
      15, 16),
    S("ext8", 0xc7, 2, 0x05, 0xaa, 0xbb),
    S("ext16", 0xc8, 0, 2, 0x05, 0xaa, 0xbb),
    S("ext32", 0xc9, 0, 0, 0, 2, 0x05, 0xaa, 0xbb),
};

#define N_SAMPLES (sizeof samples / sizeof samples[0])

/* Wraps a value as {"k": value}. */
static void wrap(bytes_t *b, const uint8_t *v, size_t n)
{
    b->len = 0;
    put1(b, 0x81);
    put1(b, 0xa1);
    put1(b, 'k');
    put(b, v, n);
}

Test(guard, every_type_accepted_as_a_value)
{
    bytes_t b = {0};
    for (size_t i = 0; i < N_SAMPLES; i++) {
        wrap(&b, samples[i].bytes, samples[i].len);
        pr_error_t err = {0};
        cr_assert_eq(check(&b, &err), 0, "%s: %s", samples[i].name,
                     err.message);
        cr_assert(msgpack_accepts(b.p, b.len), "%s", samples[i].name);
    }
    free(b.p);
}

Test(guard, every_type_accepted_as_a_key)
{
    bytes_t b = {0};
    for (size_t i = 0; i < N_SAMPLES; i++) {
        b.len = 0;
        put1(&b, 0x81);
        put(&b, samples[i].bytes, samples[i].len);
        put1(&b, 0xc0);
        pr_error_t err = {0};
        cr_assert_eq(check(&b, &err), 0, "%s: %s", samples[i].name,
                     err.message);
    }
    free(b.p);
}

Test(guard, all_types_in_one_map)
{
    bytes_t b = {0};
    put1(&b, 0xde);
    put1(&b, 0);
    put1(&b, (uint8_t)N_SAMPLES);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        put1(&b, 0xcc);
        put1(&b, (uint8_t)i);
        put(&b, samples[i].bytes, samples[i].len);
    }
    pr_error_t err = {0};
    cr_assert_eq(check(&b, &err), 0, "%s", err.message);
    cr_assert(msgpack_accepts(b.p, b.len));
    assert_elements_as_decoded(b.p, b.len);

    /* Every proper prefix is cut short and must be refused. */
    for (size_t n = 0; n < b.len; n++) {
        cr_assert_eq(pr_guard_check(b.p, n, PR_MAX_DEPTH, NULL, &err), -1,
                     "prefix of %zu bytes", n);
        cr_assert_eq(err.code, PR_BAD_FRAME);
    }
    free(b.p);
}

Test(guard, every_prefix_of_each_value_refused)
{
    bytes_t b = {0};
    for (size_t i = 0; i < N_SAMPLES; i++) {
        wrap(&b, samples[i].bytes, samples[i].len);
        for (size_t n = 0; n < b.len; n++) {
            pr_error_t err = {0};
            cr_assert_eq(pr_guard_check(b.p, n, PR_MAX_DEPTH, NULL, &err), -1,
                         "%s prefix %zu", samples[i].name, n);
            cr_assert_eq(err.code, PR_BAD_FRAME);
        }
    }
    free(b.p);
}

Test(guard, empty_map_body)
{
    const uint8_t body[] = {0x80};
    cr_assert_eq(pr_guard_check(body, 1, PR_MAX_DEPTH, NULL, NULL), 0);
}

Test(guard, empty_body)
{
    pr_error_t err = {0};
    cr_assert_eq(pr_guard_check((const uint8_t *)"", 0, PR_MAX_DEPTH, NULL, &err),
                 -1);
    cr_assert_eq(err.code, PR_BAD_FRAME);
}

Test(guard, huge_array_bodies_refused)
{
    const uint8_t a[] = {0xdd, 0x07, 0xff, 0xff, 0xff};
    const uint8_t b[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    pr_error_t err = {0};
    cr_assert_eq(pr_guard_check(a, sizeof a, PR_MAX_DEPTH, NULL, &err), -1);
    cr_assert_eq(err.code, PR_BAD_FRAME);
    cr_assert_str_eq(err.message, "body is not a map");
    cr_assert_eq(pr_guard_check(b, sizeof b, PR_MAX_DEPTH, NULL, &err), -1);
    cr_assert_str_eq(err.message, "body is not a map");
}

Test(guard, lying_array_counts_inside_a_map)
{
    bytes_t b = {0};
    const uint8_t v1[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    wrap(&b, v1, sizeof v1);
    pr_error_t err = {0};
    cr_assert_eq(check(&b, &err), -1);
    cr_assert_str_eq(err.message,
                     "declared array of 4294967295 elements exceeds the "
                     "frame");

    const uint8_t v2[] = {0xdc, 0x00, 0x03, 0x01, 0x02};
    wrap(&b, v2, sizeof v2);
    cr_assert_eq(check(&b, &err), -1);
    cr_assert_str_eq(err.message,
                     "declared array of 3 elements exceeds the frame");
    free(b.p);
}

Test(guard, lying_lengths_of_str_bin_ext_map)
{
    struct {
        uint8_t v[8];
        size_t n;
        const char *msg;
    } cases[] = {
        {{0xdb, 0, 0, 1, 0, 'x'}, 6,
         "declared string of 256 bytes exceeds the frame"},
        {{0xdb, 0xff, 0xff, 0xff, 0xff}, 5,
         "declared string of 4294967295 bytes exceeds the frame"},
        {{0xd9, 3, 'a', 'b'}, 4, "declared string of 3 bytes exceeds the frame"},
        {{0xa5, 'a'}, 2, "declared string of 5 bytes exceeds the frame"},
        {{0xc6, 0x80, 0, 0, 0, 1}, 6,
         "declared binary of 2147483648 bytes exceeds the frame"},
        {{0xc4, 2, 1}, 3, "declared binary of 2 bytes exceeds the frame"},
        {{0xc9, 0, 1, 0, 0, 1, 2}, 7,
         "declared extension of 65536 bytes exceeds the frame"},
        {{0xdf, 0xff, 0xff, 0xff, 0xff}, 5,
         "declared map of 4294967295 entries exceeds the frame"},
        {{0xde, 0, 2, 1, 2, 3}, 6,
         "declared map of 2 entries exceeds the frame"},
    };
    bytes_t b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wrap(&b, cases[i].v, cases[i].n);
        pr_error_t err = {0};
        cr_assert_eq(check(&b, &err), -1, "case %zu", i);
        cr_assert_eq(err.code, PR_BAD_FRAME);
        cr_assert_str_eq(err.message, cases[i].msg, "case %zu", i);
    }
    free(b.p);
}

Test(guard, lying_root_map)
{
    const uint8_t m32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    pr_error_t err = {0};
    cr_assert_eq(pr_guard_check(m32, sizeof m32, PR_MAX_DEPTH, NULL, &err), -1);
    cr_assert_str_eq(err.message,
                     "declared map of 4294967295 entries exceeds the frame");
    const uint8_t m1[] = {0x81, 0x01};
    cr_assert_eq(pr_guard_check(m1, sizeof m1, PR_MAX_DEPTH, NULL, &err), -1);
}

/* Counts that fit the bytes left on their own but not together with what
 * the enclosing containers still owe are refused before descending. */
Test(guard, count_checked_against_what_parents_still_owe)
{
    bytes_t b = {0};
    /* {"a": [5 elements], "b": ...}: five bytes follow the array header,
     * but the outer map still owes "b" and its value. */
    put1(&b, 0x82);
    put1(&b, 0xa1);
    put1(&b, 'a');
    put1(&b, 0x95);
    put_fill(&b, 0x01, 5);
    pr_error_t err = {0};
    cr_assert_eq(check(&b, &err), -1);
    cr_assert_str_eq(err.message,
                     "declared array of 5 elements exceeds the frame");
    free(b.p);
}

/* Builds a body nested `levels` deep: the map, then levels - 1 arrays,
 * the innermost one empty. */
static void nested(bytes_t *b, size_t levels)
{
    b->len = 0;
    put1(b, 0x81);
    put1(b, 0xa1);
    put1(b, 'k');
    if (levels >= 2) {
        put_fill(b, 0x91, levels - 2);
        put1(b, 0x90);
    } else {
        put1(b, 0xc0);
    }
}

Test(guard, nesting_limit)
{
    bytes_t b = {0};
    pr_error_t err = {0};
    nested(&b, 32);
    cr_assert_eq(check(&b, &err), 0, "%s", err.message);
    cr_assert(msgpack_accepts(b.p, b.len));

    nested(&b, 33);
    cr_assert_eq(check(&b, &err), -1);
    cr_assert_eq(err.code, PR_BAD_FRAME);
    cr_assert_str_eq(err.message, "nesting deeper than 32 levels");
    /* The guard and msgpack-c draw the line at the same place. */
    cr_assert_not(msgpack_accepts(b.p, b.len));

    nested(&b, 1);
    cr_assert_eq(pr_guard_check(b.p, b.len, 1, NULL, &err), 0);
    nested(&b, 2);
    cr_assert_eq(pr_guard_check(b.p, b.len, 1, NULL, &err), -1);
    cr_assert_str_eq(err.message, "nesting deeper than 1 levels");
    free(b.p);
}

Test(guard, nested_maps_limit)
{
    bytes_t b = {0};
    pr_error_t err = {0};
    for (size_t levels = 31; levels <= 33; levels++) {
        b.len = 0;
        for (size_t i = 0; i < levels - 1; i++) {
            put1(&b, 0x81);
            put1(&b, 0x00);
        }
        put1(&b, 0x80);
        int rc = check(&b, &err);
        cr_assert_eq(rc, levels <= 32 ? 0 : -1, "levels %zu", levels);
    }
    free(b.p);
}

Test(guard, deep_nesting_rejected_fast, .timeout = 5)
{
    bytes_t b = {0};
    put1(&b, 0x81);
    put1(&b, 0x00);
    put_fill(&b, 0x91, 100000);
    put1(&b, 0xc0);
    pr_error_t err = {0};
    clock_t t0 = clock();
    cr_assert_eq(check(&b, &err), -1);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    cr_assert_str_eq(err.message, "nesting deeper than 32 levels");
    cr_assert_lt(secs, 0.05);
    free(b.p);
}

Test(guard, trailing_bytes)
{
    const uint8_t a[] = {0x80, 0x00};
    const uint8_t c[] = {0x81, 0x01, 0x02, 0x80};
    pr_error_t err = {0};
    cr_assert_eq(pr_guard_check(a, sizeof a, PR_MAX_DEPTH, NULL, &err), -1);
    cr_assert_eq(err.code, PR_BAD_FRAME);
    cr_assert(strstr(err.message, "trailing bytes after the map") != NULL);
    cr_assert_eq(pr_guard_check(c, sizeof c, PR_MAX_DEPTH, NULL, &err), -1);
    cr_assert(strstr(err.message, "trailing bytes after the map") != NULL);
}

Test(guard, root_must_be_a_map)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        uint8_t h = samples[i].bytes[0];
        bool is_map = (h >= 0x80 && h <= 0x8f) || h == 0xde || h == 0xdf;
        pr_error_t err = {0};
        int rc = pr_guard_check(samples[i].bytes, samples[i].len,
                                PR_MAX_DEPTH, NULL, &err);
        if (is_map) {
            cr_assert_eq(rc, 0, "%s", samples[i].name);
        } else {
            cr_assert_eq(rc, -1, "%s", samples[i].name);
            cr_assert_str_eq(err.message, "body is not a map");
        }
    }
}

Test(guard, never_used_byte_c1)
{
    const uint8_t v[] = {0xc1};
    bytes_t b = {0};
    wrap(&b, v, 1);
    pr_error_t err = {0};
    cr_assert_eq(check(&b, &err), -1);
    cr_assert_eq(err.code, PR_BAD_FRAME);
    cr_assert(strstr(err.message, "0xc1") != NULL, "%s", err.message);
    /* As a key, too. */
    const uint8_t k[] = {0x81, 0xc1, 0xc0};
    cr_assert_eq(pr_guard_check(k, sizeof k, PR_MAX_DEPTH, NULL, &err), -1);
    free(b.p);
}

/* Random bodies: whatever the guard accepts, msgpack-c parses completely
 * as one map. Mutations of a valid body exercise the interesting paths. */
Test(guard, accepted_bodies_parse, .timeout = 30)
{
    bytes_t base = {0};
    put1(&base, 0xde);
    put1(&base, 0);
    put1(&base, (uint8_t)N_SAMPLES);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        put1(&base, (uint8_t)i);
        put(&base, samples[i].bytes, samples[i].len);
    }
    srand(7);
    uint8_t *m = malloc(base.len);
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(m, base.p, base.len);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++)
            m[rand() % base.len] = (uint8_t)rand();
        size_t n = base.len - (size_t)(rand() % 4);
        pr_error_t err = {0};
        if (pr_guard_check(m, n, PR_MAX_DEPTH, NULL, &err) == 0) {
            accepted++;
            cr_assert(msgpack_accepts(m, n), "iteration %d", iter);
            assert_elements_as_decoded(m, n);
        } else {
            cr_assert_eq(err.code, PR_BAD_FRAME);
            cr_assert_neq(err.message[0], '\0');
        }
    }
    cr_assert_gt(accepted, 0);
    free(m);
    free(base.p);
}
