/* json.c - the JSON side of libjobmatch: JSON text to msgpack (through
 * jansson), msgpack objects to JSON text, and jm_call_json on top.
 *
 * msgpack to JSON is written by hand rather than through json_t because
 * jansson integers are signed 64-bit: a uint64 above INT64_MAX would lose
 * its value, and ids and counters must come out exactly as sent.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jobmatch.h"

/* Deeper than anything the protocol produces (the guard stops frames at
 * 32 levels) yet far from overflowing the stack. */
#define JSON_MAX_DEPTH 512

/* ---- JSON text -> msgpack ---------------------------------------------- */

static int
pack_json(msgpack_packer *pk, json_t *j, int depth)
{
    size_t i, n;
    void *it;
    int rc = 0;

    if (depth > JSON_MAX_DEPTH)
        return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        rc |= msgpack_pack_map(pk, json_object_size(j));
        for (it = json_object_iter(j); it != NULL;
             it = json_object_iter_next(j, it)) {
            const char *k = json_object_iter_key(it);

            n = json_object_iter_key_len(it);
            rc |= msgpack_pack_str(pk, n);
            rc |= msgpack_pack_str_body(pk, k, n);
            rc |= pack_json(pk, json_object_iter_value(it), depth + 1);
        }
        return rc;
    case JSON_ARRAY:
        n = json_array_size(j);
        rc |= msgpack_pack_array(pk, n);
        for (i = 0; i < n; i++)
            rc |= pack_json(pk, json_array_get(j, i), depth + 1);
        return rc;
    case JSON_STRING:
        n = json_string_length(j);
        rc |= msgpack_pack_str(pk, n);
        return rc | msgpack_pack_str_body(pk, json_string_value(j), n);
    case JSON_INTEGER:
        /* msgpack-c picks the smallest encoding, unsigned when >= 0. */
        return msgpack_pack_int64(pk, (int64_t)json_integer_value(j));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(j));
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    }
    return -1;
}

int
jm_json_to_msgpack(const char *json, msgpack_sbuffer *sbuf, char *errbuf,
                   size_t errlen)
{
    json_error_t jerr;
    msgpack_packer pk;
    json_t *root;
    int rc;

    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (json == NULL || sbuf == NULL) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "no JSON text");
        return JM_EARG;
    }
    root = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return JM_EARG;
    }
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    rc = pack_json(&pk, root, 0);
    json_decref(root);
    if (rc != 0) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "cannot pack (nested too deep or out "
                     "of memory)");
        return JM_ENOMEM;
    }
    return 0;
}

/* ---- msgpack -> JSON text ---------------------------------------------- */

typedef struct strbuf {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
} strbuf_t;

static void
sb_put(strbuf_t *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (sb->cap - sb->len <= n) {
        size_t cap = sb->cap ? sb->cap : 256;
        char *p;

        while (cap - sb->len <= n)
            cap *= 2;
        p = realloc(sb->buf, cap);
        if (p == NULL) {
            sb->failed = true;
            return;
        }
        sb->buf = p;
        sb->cap = cap;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

static void
sb_puts(strbuf_t *sb, const char *s)
{
    sb_put(sb, s, strlen(s));
}

static void
sb_printf(strbuf_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(strbuf_t *sb, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        sb->failed = true;
    else
        sb_put(sb, tmp, (size_t)n);
}

/* Returns true when s[0..n) is well-formed UTF-8: shortest forms only, no
 * surrogates, nothing above U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += need + 1;
    }
    return true;
}

/* Writes bytes as a JSON string: escaped text when they are UTF-8, else
 * their lowercase hex digits, so that no input produces invalid JSON. */
static void
emit_string(strbuf_t *sb, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    size_t i, run = 0;

    sb_put(sb, "\"", 1);
    if (!utf8_valid(s, n)) {
        for (i = 0; i < n; i++) {
            char h[2] = { hex[s[i] >> 4], hex[s[i] & 15] };

            sb_put(sb, h, 2);
        }
        sb_put(sb, "\"", 1);
        return;
    }
    for (i = 0; i < n; i++) {
        const char *esc = NULL;
        char u[7];

        switch (s[i]) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (s[i] < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", s[i]);
                esc = u;
            }
        }
        if (esc == NULL)
            continue;
        sb_put(sb, p + run, i - run);
        sb_puts(sb, esc);
        run = i + 1;
    }
    sb_put(sb, p + run, n - run);
    sb_put(sb, "\"", 1);
}

/* Writes the shortest decimal form that reads back as the same value,
 * always with a '.' or exponent so it stays a JSON real. Infinities and
 * NaN have no JSON form and become null. */
static void
emit_float(strbuf_t *sb, double v, bool single)
{
    char tmp[40];
    int prec;

    if (!isfinite(v)) {
        sb_puts(sb, "null");
        return;
    }
    for (prec = single ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (single ? (float)strtod(tmp, NULL) == (float)v
                   : strtod(tmp, NULL) == v)
            break;
    }
    if (strpbrk(tmp, ".eE") == NULL)
        strcat(tmp, ".0");
    sb_puts(sb, tmp);
}

static void
emit_indent(strbuf_t *sb, bool pretty, int depth)
{
    if (!pretty)
        return;
    sb_put(sb, "\n", 1);
    for (int i = 0; i < depth; i++)
        sb_put(sb, "  ", 2);
}

static int
emit(strbuf_t *sb, const msgpack_object *o, bool pretty, int depth)
{
    uint32_t i;

    if (depth > JSON_MAX_DEPTH)
        return -1;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
    case MSGPACK_OBJECT_EXT:
        sb_puts(sb, "null");
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        sb_puts(sb, o->via.boolean ? "true" : "false");
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        sb_printf(sb, "%" PRIu64, o->via.u64);
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        sb_printf(sb, "%" PRId64, o->via.i64);
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
        emit_float(sb, o->via.f64, true);
        return 0;
    case MSGPACK_OBJECT_FLOAT64:
        emit_float(sb, o->via.f64, false);
        return 0;
    case MSGPACK_OBJECT_STR:
        emit_string(sb, o->via.str.ptr, o->via.str.size);
        return 0;
    case MSGPACK_OBJECT_BIN:
        emit_string(sb, o->via.bin.ptr, o->via.bin.size);
        return 0;
    case MSGPACK_OBJECT_ARRAY:
        sb_put(sb, "[", 1);
        for (i = 0; i < o->via.array.size; i++) {
            if (i > 0)
                sb_put(sb, ",", 1);
            emit_indent(sb, pretty, depth + 1);
            if (emit(sb, &o->via.array.ptr[i], pretty, depth + 1) != 0)
                return -1;
        }
        if (o->via.array.size > 0)
            emit_indent(sb, pretty, depth);
        sb_put(sb, "]", 1);
        return 0;
    case MSGPACK_OBJECT_MAP:
        sb_put(sb, "{", 1);
        for (i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];

            if (kv->key.type != MSGPACK_OBJECT_STR)
                return -1;
            if (i > 0)
                sb_put(sb, ",", 1);
            emit_indent(sb, pretty, depth + 1);
            emit_string(sb, kv->key.via.str.ptr, kv->key.via.str.size);
            sb_puts(sb, pretty ? ": " : ":");
            if (emit(sb, &kv->val, pretty, depth + 1) != 0)
                return -1;
        }
        if (o->via.map.size > 0)
            emit_indent(sb, pretty, depth);
        sb_put(sb, "}", 1);
        return 0;
    }
    return -1;
}

char *
jm_msgpack_to_json(const msgpack_object *obj, bool pretty)
{
    strbuf_t sb = { 0 };

    if (obj == NULL)
        return NULL;
    if (emit(&sb, obj, pretty, 0) != 0 || sb.failed || sb.buf == NULL) {
        free(sb.buf);
        return NULL;
    }
    return sb.buf;
}

/* ---- jm_call_json ------------------------------------------------------ */

static int
set_err(jm_client_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
set_err(jm_client_t *c, int code, const char *fmt, ...)
{
    va_list ap;

    c->err = code;
    va_start(ap, fmt);
    if (vsnprintf(c->errstr, sizeof c->errstr, fmt, ap) < 0)
        c->errstr[0] = '\0';
    va_end(ap);
    return code;
}

int
jm_call_json(jm_client_t *c, const char *op, const char *args_json,
             char **result_json)
{
    msgpack_sbuffer sb;
    jm_reply_t *r = NULL;
    char err[200];
    int rc;

    if (result_json != NULL)
        *result_json = NULL;
    if (c == NULL || result_json == NULL)
        return c != NULL ? set_err(c, JM_EARG, "no result pointer")
                         : JM_EARG;
    msgpack_sbuffer_init(&sb);
    if (args_json != NULL) {
        rc = jm_json_to_msgpack(args_json, &sb, err, sizeof err);
        if (rc != 0) {
            msgpack_sbuffer_destroy(&sb);
            return set_err(c, rc, "args: %s", err);
        }
        if (sb.size == 0 || !((((uint8_t)sb.data[0]) & 0xf0) == 0x80 ||
                              (uint8_t)sb.data[0] == 0xde ||
                              (uint8_t)sb.data[0] == 0xdf)) {
            msgpack_sbuffer_destroy(&sb);
            return set_err(c, JM_EARG, "args: must be a JSON object");
        }
    }
    rc = jm_call(c, op, sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0) {
        *result_json = jm_msgpack_to_json(&r->result, false);
        if (*result_json == NULL)
            rc = set_err(c, JM_EPROTO, "result cannot be written as JSON "
                         "(a map with non-string keys)");
    }
    jm_reply_free(r);
    return rc;
}
