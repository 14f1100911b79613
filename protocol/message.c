/* message.c - the request envelope, typed getters for request arguments,
 * UTF-8 validation and the response envelope.
 *
 * Everything here reads msgpack_object trees without copying; a string
 * handed out points into the zone that owns the tree. Error messages name
 * the field by its path and never quote the value, so that nothing a client
 * sent (personal data included) is echoed back or reaches a log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "message.h"

/* The longest op name accepted; real ones are far shorter. */
#define OP_MAX 64

/* Stands in for an absent or nil args so handlers always get a map. */
static const msgpack_object empty_args = {
    .type = MSGPACK_OBJECT_MAP,
    .via.map = {.size = 0, .ptr = NULL},
};

bool pr_str_eq(pr_str_t s, const char *cstr)
{
    if (s.ptr == NULL)
        return false;
    size_t n = strlen(cstr);
    return n == s.len && memcmp(s.ptr, cstr, n) == 0;
}

int pr_request_decode(const msgpack_object *root, pr_request_t *req,
                      pr_error_t *err)
{
    req->id = 0;
    req->op.ptr = NULL;
    req->op.len = 0;
    req->args = &empty_args;
    if (root == NULL || root->type != MSGPACK_OBJECT_MAP)
        return pr_fail(err, PR_BAD_REQUEST, "request: must be a map");

    /* The id comes first so that every later error can be answered to the
     * request it belongs to. */
    const msgpack_object *id = pr_map_value(root, "id");
    if (id == NULL)
        return pr_fail(err, PR_BAD_REQUEST, "id: required");
    if (id->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return pr_fail(err, PR_BAD_REQUEST,
                       "id: must be a non-negative integer");
    req->id = id->via.u64;

    const msgpack_object *op = pr_map_value(root, "op");
    if (op == NULL)
        return pr_fail(err, PR_BAD_REQUEST, "op: required");
    if (op->type != MSGPACK_OBJECT_STR)
        return pr_fail(err, PR_BAD_REQUEST, "op: must be a string");
    if (op->via.str.size < 1 || op->via.str.size > OP_MAX)
        return pr_fail(err, PR_BAD_REQUEST, "op: must be 1..%d bytes",
                       OP_MAX);
    if (!pr_utf8_valid(op->via.str.ptr, op->via.str.size))
        return pr_fail(err, PR_BAD_REQUEST, "op: invalid UTF-8");
    req->op.ptr = op->via.str.ptr;
    req->op.len = op->via.str.size;

    const msgpack_object *args = pr_map_value(root, "args");
    if (args != NULL) {
        if (args->type != MSGPACK_OBJECT_MAP)
            return pr_fail(err, PR_BAD_REQUEST, "args: must be a map");
        req->args = args;
    }
    return 0;
}

const msgpack_object *pr_map_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    /* A linear scan: request maps hold a handful of keys. With duplicate
     * keys the first one wins. */
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            memcmp(kv->key.via.str.ptr, key, n) == 0)
            return &kv->val;
    }
    return NULL;
}

const msgpack_object *pr_map_value(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = pr_map_get(map, key);
    return o != NULL && o->type != MSGPACK_OBJECT_NIL ? o : NULL;
}

/* Looks up a field and applies the absent/nil rule shared by all getters:
 * returns the object, or NULL with *rc set to 1 (optional and absent) or
 * -1 (required). */
static const msgpack_object *field_lookup(const msgpack_object *map,
                                          const char *key, const char *path,
                                          unsigned flags, int *rc,
                                          pr_error_t *err)
{
    const msgpack_object *o = pr_map_value(map, key);
    if (o != NULL)
        return o;
    if (flags & PR_REQUIRED)
        *rc = pr_fail(err, PR_BAD_REQUEST, "%s: required", path);
    else
        *rc = 1;
    return NULL;
}

int pr_get_str(const msgpack_object *map, const char *key, const char *path,
               unsigned flags, uint32_t min, uint32_t max, pr_str_t *out,
               pr_error_t *err)
{
    int rc = 0;
    if (path == NULL)
        path = key;
    const msgpack_object *o = field_lookup(map, key, path, flags, &rc, err);
    if (o == NULL)
        return rc;
    if (o->type != MSGPACK_OBJECT_STR)
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be a string", path);
    uint32_t n = o->via.str.size;
    if (n < min || n > max) {
        if (min == max)
            return pr_fail(err, PR_BAD_REQUEST, "%s: must be %" PRIu32
                           " bytes", path, min);
        return pr_fail(err, PR_BAD_REQUEST,
                       "%s: must be %" PRIu32 "..%" PRIu32 " bytes", path,
                       min, max);
    }
    if (!pr_utf8_valid(o->via.str.ptr, n))
        return pr_fail(err, PR_BAD_REQUEST, "%s: invalid UTF-8", path);
    /* A present empty string must not look absent (ptr NULL). */
    out->ptr = n > 0 ? o->via.str.ptr : "";
    out->len = n;
    return 0;
}

/* Appends a description of [min, max] for messages: "", " >= 0" or
 * " 1..200", leaving out bounds that are the int64 limits, unless the
 * value broke one (a uint64 above INT64_MAX: " 0..9223372036854775807"). */
static void range_text(char *buf, size_t size, int64_t min, int64_t max, bool above_int64)
{
    if (above_int64 || (min != INT64_MIN && max != INT64_MAX))
        snprintf(buf, size, " %" PRId64 "..%" PRId64, min, max);
    else if (min == INT64_MIN && max == INT64_MAX)
        buf[0] = '\0';
    else if (max == INT64_MAX)
        snprintf(buf, size, " >= %" PRId64, min);
    else
        snprintf(buf, size, " <= %" PRId64, max);
}

int pr_get_int(const msgpack_object *map, const char *key, const char *path,
               unsigned flags, int64_t min, int64_t max, int64_t *out,
               pr_error_t *err)
{
    int rc = 0;
    if (path == NULL)
        path = key;
    const msgpack_object *o = field_lookup(map, key, path, flags, &rc, err);
    if (o == NULL)
        return rc;
    int64_t v = 0;
    bool ok = false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 <= (uint64_t)INT64_MAX) {
            v = (int64_t)o->via.u64;
            ok = v >= min && v <= max;
        }
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
        ok = v >= min && v <= max;
    }
    if (!ok) {
        char range[64];
        range_text(range, sizeof range, min, max,
                   o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 > (uint64_t)INT64_MAX);
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be an integer%s", path,
                       range);
    }
    *out = v;
    return 0;
}

int pr_get_bool(const msgpack_object *map, const char *key, const char *path,
                unsigned flags, bool *out, pr_error_t *err)
{
    int rc = 0;
    if (path == NULL)
        path = key;
    const msgpack_object *o = field_lookup(map, key, path, flags, &rc, err);
    if (o == NULL)
        return rc;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return pr_fail(err, PR_BAD_REQUEST, "%s: must be a boolean", path);
    *out = o->via.boolean;
    return 0;
}

static bool is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

bool pr_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* Most text is ASCII: test eight bytes at a time for a high bit.
         * memcpy keeps the load alignment-safe. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* 0x80..0xC1 are continuation bytes or overlong two-byte leads;
         * above 0xF4 every sequence is beyond U+10FFFF. */
        if (c < 0xc2 || c > 0xf4)
            return false;
        size_t need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
        if (len - i - 1 < need)
            return false;
        unsigned char c1 = s[i + 1];
        if (!is_cont(c1))
            return false;
        if (need >= 2) {
            if (c == 0xe0 && c1 < 0xa0)   /* overlong three-byte form */
                return false;
            if (c == 0xed && c1 >= 0xa0)  /* UTF-16 surrogates */
                return false;
            if (c == 0xf0 && c1 < 0x90)   /* overlong four-byte form */
                return false;
            if (c == 0xf4 && c1 >= 0x90)  /* above U+10FFFF */
                return false;
            if (!is_cont(s[i + 2]))
                return false;
            if (need == 3 && !is_cont(s[i + 3]))
                return false;
        }
        i += need + 1;
    }
    return true;
}

void pr_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    if (n > 0)
        msgpack_pack_str_body(pk, s, n);
}

void pr_pack_str(msgpack_packer *pk, pr_str_t s)
{
    /* An absent string packs as the empty string; callers that must omit
     * absent fields check ptr themselves. */
    uint32_t n = s.ptr != NULL ? s.len : 0;
    msgpack_pack_str(pk, n);
    if (n > 0)
        msgpack_pack_str_body(pk, s.ptr, n);
}

void pr_pack_ok_begin(msgpack_packer *pk, uint64_t id)
{
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, id);
    pr_pack_cstr(pk, "ok");
    msgpack_pack_true(pk);
    pr_pack_cstr(pk, "result");
}

void pr_pack_error(msgpack_packer *pk, uint64_t id, const pr_error_t *err)
{
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, id);
    pr_pack_cstr(pk, "ok");
    msgpack_pack_false(pk);
    pr_pack_cstr(pk, "error");
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "code");
    pr_pack_cstr(pk, pr_code_name(err->code));
    pr_pack_cstr(pk, "message");
    /* The message buffer is fixed-size; never read past it even if a
     * caller filled it without a terminator. */
    size_t n = strnlen(err->message, sizeof err->message);
    msgpack_pack_str(pk, n);
    if (n > 0)
        msgpack_pack_str_body(pk, err->message, n);
}
