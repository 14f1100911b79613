/* test_json.c - libjobmatch's JSON <-> msgpack conversion, both ways:
 * integer encodings and signs, uint64 beyond int64, floats, nesting and
 * key order, Unicode and escapes, bin/ext, and the errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <msgpack.h>

#include "jobmatch.h"

/* Packs json and unpacks the result into *obj (zone owned by *zone). */
static void
to_object(const char *json, msgpack_sbuffer *sb, msgpack_zone **zone,
          msgpack_object *obj)
{
    char err[128];
    size_t off = 0;

    msgpack_sbuffer_init(sb);
    cr_assert_eq(jm_json_to_msgpack(json, sb, err, sizeof err), 0,
                 "conversion failed: %s", err);
    *zone = msgpack_zone_new(1024);
    cr_assert_eq(msgpack_unpack(sb->data, sb->size, &off, *zone, obj),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb->size);
}

/* JSON text -> msgpack -> JSON text (compact). Caller frees. */
static char *
round_trip(const char *json)
{
    msgpack_sbuffer sb;
    msgpack_zone *zone;
    msgpack_object o;
    char *out;

    to_object(json, &sb, &zone, &o);
    out = jm_msgpack_to_json(&o, false);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_not_null(out);
    return out;
}

/* Packs one object with fn and returns its JSON. */
static char *
packed_to_json(const msgpack_sbuffer *sb, bool pretty)
{
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    size_t off = 0;
    char *out;

    cr_assert_eq(msgpack_unpack(sb->data, sb->size, &off, zone, &o),
                 MSGPACK_UNPACK_SUCCESS);
    out = jm_msgpack_to_json(&o, pretty);
    msgpack_zone_free(zone);
    return out;
}

Test(json, integers_keep_type_and_sign)
{
    msgpack_sbuffer sb;
    msgpack_zone *zone;
    msgpack_object o;

    to_object("[0, 1, -1, 127, 128, -33, 4294967296, "
              "9223372036854775807, -9223372036854775808]", &sb, &zone, &o);
    cr_assert_eq(o.type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(o.via.array.size, 9);
    msgpack_object *a = o.via.array.ptr;
    cr_assert_eq(a[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(a[0].via.u64, 0);
    cr_assert_eq(a[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(a[2].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_assert_eq(a[2].via.i64, -1);
    cr_assert_eq(a[4].via.u64, 128);
    cr_assert_eq(a[5].via.i64, -33);
    cr_assert_eq(a[6].via.u64, 4294967296ull);
    cr_assert_eq(a[7].via.u64, 9223372036854775807ull);
    cr_assert_eq(a[8].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_assert_eq(a[8].via.i64, INT64_MIN);
    /* Small values use the one-byte fixint forms: 0x01 and 0xff (-1). */
    cr_assert_eq((unsigned char)sb.data[2], 0x01);
    cr_assert_eq((unsigned char)sb.data[3], 0xff);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);

    char *s = round_trip("[0,1,-1,-9223372036854775808,"
                         "9223372036854775807]");
    cr_assert_str_eq(s, "[0,1,-1,-9223372036854775808,9223372036854775807]");
    free(s);
}

Test(json, big_uint64_is_exact)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *s;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_uint64(&pk, 9223372036854775808ull);
    s = packed_to_json(&sb, false);
    cr_assert_str_eq(s, "[18446744073709551615,9223372036854775808]");
    free(s);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, integer_beyond_int64_in_json_is_an_error)
{
    msgpack_sbuffer sb;
    char err[128];

    msgpack_sbuffer_init(&sb);
    cr_assert_eq(jm_json_to_msgpack("{\"n\": 18446744073709551615}", &sb,
                                    err, sizeof err), JM_EARG);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, floats_become_float64_and_print_back)
{
    msgpack_sbuffer sb;
    msgpack_zone *zone;
    msgpack_object o;
    char *s;

    to_object("[1.5, -0.25, 1e300, 2.0]", &sb, &zone, &o);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(o.via.array.ptr[i].type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_float_eq(o.via.array.ptr[0].via.f64, 1.5, 1e-12);
    cr_assert_float_eq(o.via.array.ptr[1].via.f64, -0.25, 1e-12);
    /* A float64 prints in its shortest exact form and stays a real. */
    s = jm_msgpack_to_json(&o, false);
    cr_assert_str_eq(s, "[1.5,-0.25,1e+300,2.0]");
    free(s);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);

    s = round_trip("[0.1, 3.141592653589793]");
    cr_assert_str_eq(s, "[0.1,3.141592653589793]");
    free(s);
}

Test(json, float32_nan_and_infinity)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *s;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_float(&pk, 0.1f);
    msgpack_pack_double(&pk, NAN);
    msgpack_pack_double(&pk, -INFINITY);
    s = packed_to_json(&sb, false);
    /* JSON has no NaN or infinity; they are written as null. */
    cr_assert_str_eq(s, "[0.1,null,null]");
    free(s);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, nested_document_keeps_key_order)
{
    const char *doc =
        "{\"id\":\"v1\",\"employer\":\"Acme\",\"skills\":[{\"id\":\"weld\","
        "\"level\":3},{\"id\":\"cnc\",\"level\":5}],\"wage_max\":0,"
        "\"open\":true,\"closed\":false,\"note\":null,\"z\":{\"a\":[[],{}]}}";
    msgpack_sbuffer sb;
    msgpack_zone *zone;
    msgpack_object o;
    char *s;

    to_object(doc, &sb, &zone, &o);
    cr_assert_eq(o.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(o.via.map.size, 8);
    cr_assert_eq(o.via.map.ptr[2].val.type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(o.via.map.ptr[4].val.type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert_eq(o.via.map.ptr[6].val.type, MSGPACK_OBJECT_NIL);
    s = jm_msgpack_to_json(&o, false);
    cr_assert_str_eq(s, doc);
    free(s);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, pretty_output_is_indented)
{
    char *s;
    msgpack_sbuffer sb;
    msgpack_zone *zone;
    msgpack_object o;

    to_object("{\"a\":[1,2],\"b\":{},\"c\":[]}", &sb, &zone, &o);
    s = jm_msgpack_to_json(&o, true);
    cr_assert_str_eq(s, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n"
                        "  \"c\": []\n}");
    free(s);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, unicode_and_escapes)
{
    char *s;

    /* Non-ASCII text passes through as UTF-8; \u escapes are decoded,
     * including a surrogate pair. */
    s = round_trip("[\"Beijing \xe5\x8c\x97\xe4\xba\xac\", \"caf\\u00e9\", "
                   "\"\\ud83d\\ude00\"]");
    cr_assert_str_eq(s, "[\"Beijing \xe5\x8c\x97\xe4\xba\xac\","
                        "\"caf\xc3\xa9\",\"\xf0\x9f\x98\x80\"]");
    free(s);
    s = round_trip("\"a\\\"b\\\\c\\nd\\te\\u0001f/\"");
    cr_assert_str_eq(s, "\"a\\\"b\\\\c\\nd\\te\\u0001f/\"");
    free(s);
}

Test(json, bin_invalid_utf8_and_ext)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *s;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "\xff\x01", 2);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "\xc0\xaf", 2);  /* an overlong '/' */
    msgpack_pack_ext(&pk, 1, 5);
    msgpack_pack_ext_body(&pk, "x", 1);
    s = packed_to_json(&sb, false);
    cr_assert_str_eq(s, "[\"abc\",\"ff01\",\"c0af\",null]");
    free(s);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, map_with_non_string_key_is_refused)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_true(&pk);
    cr_assert_null(packed_to_json(&sb, false));
    cr_assert_null(jm_msgpack_to_json(NULL, false));
    msgpack_sbuffer_destroy(&sb);
}

Test(json, invalid_json_reports_where)
{
    const char *bad[] = { "{\"a\":}", "[1,2", "", "{\"a\":1} x", "nul" };
    msgpack_sbuffer sb;
    char err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer_init(&sb);
        err[0] = '\0';
        cr_assert_eq(jm_json_to_msgpack(bad[i], &sb, err, sizeof err),
                     JM_EARG, "accepted %s", bad[i]);
        cr_assert(strstr(err, "line 1") != NULL, "error text: %s", err);
        cr_assert_eq(sb.size, 0);
        msgpack_sbuffer_destroy(&sb);
    }
    cr_assert_eq(jm_json_to_msgpack(NULL, &sb, err, sizeof err), JM_EARG);
}

Test(json, repeated_key_is_refused_and_nothing_is_written)
{
    msgpack_sbuffer sb;
    char err[128];

    msgpack_sbuffer_init(&sb);
    cr_assert_eq(jm_json_to_msgpack("{\"a\": 1, \"b\": {\"a\": 2}, \"a\": 3}", &sb,
                                    err, sizeof err), JM_EARG);
    cr_assert(strstr(err, "duplicate key \"a\"") != NULL, "error text: %s", err);
    cr_assert_eq(sb.size, 0);

    /* The same key in sibling objects is no repeat; nor in an object of
     * many keys, which keeps them in a hash table, unless one comes back. */
    cr_assert_eq(jm_json_to_msgpack("[{\"k\": 1}, {\"k\": 2}]", &sb, err, sizeof err), 0,
                 "%s", err);
    char big[4096];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof big - n, "{");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\": %d", i ? ", " : "", i, i);
    snprintf(big + n, sizeof big - n, "}");
    sb.size = 0;
    cr_assert_eq(jm_json_to_msgpack(big, &sb, err, sizeof err), 0, "%s", err);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(sb.data, sb.size, &off, zone, &o), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(o.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(o.via.map.size, 200);
    cr_assert_eq((unsigned char)sb.data[0], 0xde, "200 pairs take the map16 form");
    cr_assert_eq(o.via.map.ptr[199].val.via.u64, 199);
    msgpack_zone_free(zone);
    snprintf(big + n, sizeof big - n, ", \"k150\": 0}");
    sb.size = 0;
    cr_assert_eq(jm_json_to_msgpack(big, &sb, err, sizeof err), JM_EARG);
    cr_assert(strstr(err, "duplicate key \"k150\"") != NULL, "error text: %s", err);
    cr_assert_eq(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, half_a_surrogate_pair_is_refused)
{
    /* A lone high or low half, or the halves reversed, is no character. */
    const char *bad[] = {"\"\\ud800\"", "[\"x\\udc00\"]", "\"\\ude00\\ud83d\"",
                         "\"\\ud83dx\""};
    msgpack_sbuffer sb;
    char err[128];

    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(jm_json_to_msgpack(bad[i], &sb, err, sizeof err), JM_EARG,
                     "accepted %s", bad[i]);
        cr_assert(strstr(err, "surrogate") != NULL, "error text: %s", err);
        cr_assert_eq(sb.size, 0);
    }
    msgpack_sbuffer_destroy(&sb);

    /* An escaped backslash before "ud800" is text, not an escape. */
    char *s = round_trip("\"\\\\ud800\"");
    cr_assert_str_eq(s, "\"\\\\ud800\"");
    free(s);
}

Test(json, containers_take_their_smallest_header)
{
    /* 15 elements fit the fix form, 16 need the 16-bit one; nested
     * containers are narrowed inside the outer one. */
    msgpack_sbuffer sb;
    char err[64];

    msgpack_sbuffer_init(&sb);
    cr_assert_eq(jm_json_to_msgpack("[[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
                                    "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]]",
                                    &sb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sb.size, 1 + (1 + 15) + (3 + 16));
    cr_assert_eq((unsigned char)sb.data[0], 0x92);
    cr_assert_eq((unsigned char)sb.data[1], 0x9f);
    cr_assert_eq((unsigned char)sb.data[17], 0xdc);
    cr_assert_eq((unsigned char)sb.data[18], 0x00);
    cr_assert_eq((unsigned char)sb.data[19], 0x10);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, conversion_appends_to_the_buffer)
{
    msgpack_sbuffer sb;
    char err[64];

    msgpack_sbuffer_init(&sb);
    cr_assert_eq(jm_json_to_msgpack("true", &sb, err, sizeof err), 0);
    cr_assert_eq(jm_json_to_msgpack("{}", &sb, err, sizeof err), 0);
    cr_assert_eq(sb.size, 2);
    cr_assert_eq((unsigned char)sb.data[0], 0xc3);
    cr_assert_eq((unsigned char)sb.data[1], 0x80);
    msgpack_sbuffer_destroy(&sb);
}
