/* json.c - the JSON side of libjobmatch: JSON text to msgpack (through
 * yajl), msgpack objects to JSON text, and jm_call_json on top.
 *
 * msgpack to JSON is written by hand, straight from the msgpack objects:
 * a JSON library's tree in between would hold integers as signed 64-bit
 * (jansson's do), so a uint64 above INT64_MAX would lose its value, and
 * ids and counters must come out exactly as sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "jobmatch.h"

/* Deeper than anything the protocol produces (the guard stops frames at
 * 32 levels) yet far from overflowing the stack. */
#define JSON_MAX_DEPTH 512

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

/* ---- JSON text -> msgpack ---------------------------------------------- */

/* JSON is read by yajl, a streaming parser: each value is packed as it is
 * read, with no tree in between (building one with json_loads took a bulk
 * import's client six times as long as the parse itself). A container's
 * size is known only at its end, so its header is first written in the
 * 32-bit form, then narrowed to the smallest form, as msgpack_pack_map and
 * msgpack_pack_array would have chosen. An object naming a key twice is
 * refused: which of the two values was meant is anyone's guess. */

/* Keys of the open objects, for finding a repeated one: each object's
 * keys are a stretch of this stack, with their body's place in the buffer.
 * An object of more than KEYS_SCAN keys gets a hash table of them. */
#define KEYS_SCAN 16

typedef struct key_ref {
    size_t at;       /* the key's bytes in the buffer */
    uint32_t len, hash;
} key_ref_t;

typedef struct open_container {
    size_t at;           /* its 5-byte header in the buffer */
    uint32_t n;          /* elements, or pairs of an object */
    bool map;
    size_t keys_from;    /* its keys: keys[keys_from .. n_keys) */
    uint32_t *table;     /* past KEYS_SCAN keys: key indices + 1, 0 = free */
    uint32_t table_cap;
} open_t;

typedef struct transcode {
    msgpack_sbuffer *sb;
    msgpack_packer pk;
    open_t *stack;       /* the open containers, outermost first */
    int depth, cap;
    key_ref_t *keys;
    size_t n_keys, cap_keys;
    char why[96];        /* why a callback stopped the parse */
} transcode_t;

static int
stop(transcode_t *t, const char *why)
{
    snprintf(t->why, sizeof t->why, "%s", why);
    return 0;
}

/* Counts one more element of the innermost open container. */
static void
count_element(transcode_t *t)
{
    if (t->depth > 0 && !t->stack[t->depth - 1].map)
        t->stack[t->depth - 1].n++;
}

static int
on_null(void *ctx)
{
    transcode_t *t = ctx;
    count_element(t);
    return msgpack_pack_nil(&t->pk) == 0 || stop(t, "out of memory");
}

static int
on_boolean(void *ctx, int b)
{
    transcode_t *t = ctx;
    count_element(t);
    return (b ? msgpack_pack_true(&t->pk) : msgpack_pack_false(&t->pk)) == 0 ||
           stop(t, "out of memory");
}

/* Integers stay integers (within int64); a number with a fraction or an
 * exponent becomes a float64. */
static int
on_number(void *ctx, const char *text, size_t len)
{
    transcode_t *t = ctx;
    char buf[400];
    char *end;
    int rc;

    if (len >= sizeof buf)
        return stop(t, "number too long");
    memcpy(buf, text, len);
    buf[len] = '\0';
    count_element(t);
    errno = 0;
    if (strpbrk(buf, ".eE") == NULL) {
        long long v = strtoll(buf, &end, 10);
        if (errno == ERANGE)
            return stop(t, "integer out of range (int64)");
        rc = msgpack_pack_int64(&t->pk, (int64_t)v);
    } else {
        double d = strtod(buf, &end);
        if (errno == ERANGE && isinf(d))
            return stop(t, "real number overflow");
        rc = msgpack_pack_double(&t->pk, d);
    }
    return rc == 0 || stop(t, "out of memory");
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
    transcode_t *t = ctx;
    count_element(t);
    if (len > UINT32_MAX)
        return stop(t, "string too long");
    if (!utf8_valid(s, len))
        return stop(t, "invalid UTF-8 in a string");
    return (msgpack_pack_str(&t->pk, len) == 0 &&
            msgpack_pack_str_body(&t->pk, s, len) == 0) ||
           stop(t, "out of memory");
}

static int
open_container(transcode_t *t, bool map)
{
    static const char wide_map[5] = {(char)0xdf, 0, 0, 0, 0};
    static const char wide_array[5] = {(char)0xdd, 0, 0, 0, 0};

    if (t->depth == JSON_MAX_DEPTH)
        return stop(t, "nested too deep");
    if (t->depth == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        open_t *st = realloc(t->stack, (size_t)cap * sizeof *st);
        if (st == NULL)
            return stop(t, "out of memory");
        t->stack = st;
        t->cap = cap;
    }
    count_element(t);
    open_t *o = &t->stack[t->depth++];
    *o = (open_t){.at = t->sb->size, .map = map, .keys_from = t->n_keys};
    return msgpack_sbuffer_write(t->sb, map ? wide_map : wide_array, 5) == 0 ||
           stop(t, "out of memory");
}

/* Writes the container's size into its header, in the smallest form. */
static int
close_container(transcode_t *t)
{
    open_t *o = &t->stack[--t->depth];
    char head[5];
    size_t h;

    if (o->n < 16) {
        head[0] = (char)((o->map ? 0x80 : 0x90) | o->n);
        h = 1;
    } else if (o->n < 65536) {
        head[0] = (char)(o->map ? 0xde : 0xdc);
        head[1] = (char)(o->n >> 8);
        head[2] = (char)o->n;
        h = 3;
    } else {
        head[0] = (char)(o->map ? 0xdf : 0xdd);
        for (int i = 0; i < 4; i++)
            head[1 + i] = (char)(o->n >> (24 - 8 * i));
        h = 5;
    }
    char *p = t->sb->data + o->at;
    if (h < 5)
        memmove(p + h, p + 5, t->sb->size - o->at - 5);
    memcpy(p, head, h);
    t->sb->size -= 5 - h;
    t->n_keys = o->keys_from;
    free(o->table);
    return 1;
}

static int
on_start_map(void *ctx)
{
    return open_container(ctx, true);
}

static int
on_end_map(void *ctx)
{
    return close_container(ctx);
}

static int
on_start_array(void *ctx)
{
    return open_container(ctx, false);
}

static int
on_end_array(void *ctx)
{
    return close_container(ctx);
}

static uint32_t
key_hash(const unsigned char *s, size_t len)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

static bool
same_key(const transcode_t *t, const key_ref_t *k, const unsigned char *s, size_t len,
         uint32_t hash)
{
    return k->hash == hash && k->len == len && memcmp(t->sb->data + k->at, s, len) == 0;
}

/* Puts key index i (of the innermost object) into its table. */
static void
table_put(open_t *o, const key_ref_t *keys, size_t i)
{
    uint32_t mask = o->table_cap - 1, j = keys[i].hash & mask;
    while (o->table[j] != 0)
        j = (j + 1) & mask;
    o->table[j] = (uint32_t)(i - o->keys_from + 1);
}

/* Is this key already in the innermost object? Notes it when it is not. */
static int
check_key(transcode_t *t, const unsigned char *s, size_t len, size_t at)
{
    open_t *o = &t->stack[t->depth - 1];
    uint32_t hash = key_hash(s, len);
    size_t n = t->n_keys - o->keys_from;

    if (o->table == NULL) {
        for (size_t i = o->keys_from; i < t->n_keys; i++)
            if (same_key(t, &t->keys[i], s, len, hash))
                return 1;
    } else {
        uint32_t mask = o->table_cap - 1;
        for (uint32_t j = hash & mask; o->table[j] != 0; j = (j + 1) & mask)
            if (same_key(t, &t->keys[o->keys_from + o->table[j] - 1], s, len, hash))
                return 1;
    }
    if (t->n_keys == t->cap_keys) {
        size_t cap = t->cap_keys ? t->cap_keys * 2 : 64;
        key_ref_t *k = realloc(t->keys, cap * sizeof *k);
        if (k == NULL)
            return -1;
        t->keys = k;
        t->cap_keys = cap;
    }
    t->keys[t->n_keys++] = (key_ref_t){.at = at, .len = (uint32_t)len, .hash = hash};
    n++;
    if (n > KEYS_SCAN && (size_t)o->table_cap < 2 * n) {
        uint32_t cap = o->table_cap ? o->table_cap * 2 : 4 * KEYS_SCAN;
        uint32_t *tab = calloc(cap, sizeof *tab);
        if (tab == NULL)
            return -1;
        free(o->table);
        o->table = tab;
        o->table_cap = cap;
        for (size_t i = o->keys_from; i < t->n_keys; i++)
            table_put(o, t->keys, i);
    } else if (o->table != NULL) {
        table_put(o, t->keys, t->n_keys - 1);
    }
    return 0;
}

static int
on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    transcode_t *t = ctx;
    if (len > UINT32_MAX)
        return stop(t, "key too long");
    if (!utf8_valid(s, len))
        return stop(t, "invalid UTF-8 in a key");
    if (msgpack_pack_str(&t->pk, len) != 0)
        return stop(t, "out of memory");
    size_t at = t->sb->size;
    if (msgpack_pack_str_body(&t->pk, s, len) != 0)
        return stop(t, "out of memory");
    int dup = check_key(t, s, len, at);
    if (dup < 0)
        return stop(t, "out of memory");
    if (dup > 0) {
        snprintf(t->why, sizeof t->why, "duplicate key \"%.*s\"",
                 len > 40 ? 40 : (int)len, (const char *)s);
        return 0;
    }
    t->stack[t->depth - 1].n++;
    return 1;
}

static const yajl_callbacks transcode_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* Writes "line L column C: what" for byte `at` of the text. */
static void
report(const char *json, size_t at, const char *what, char *errbuf, size_t errlen)
{
    size_t line = 1, col = 1;

    for (size_t i = 0; i < at; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(errbuf, errlen, "line %zu column %zu: %s", line, col, what);
}

/* Where yajl stopped, and why. */
static void
parse_error(yajl_handle h, const transcode_t *t, const char *json, size_t len,
            char *errbuf, size_t errlen)
{
    size_t at = yajl_get_bytes_consumed(h);
    char what[160];

    if (t->why[0] != '\0') {
        snprintf(what, sizeof what, "%s", t->why);
    } else {
        unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)json, len);
        snprintf(what, sizeof what, "%s", e ? (const char *)e : "invalid JSON");
        if (e)
            yajl_free_error(h, e);
        what[strcspn(what, "\n")] = '\0';
        /* yajl's short form starts "parse error: " or "lexical error: ". */
        char *colon = strstr(what, "error: ");
        if (colon)
            memmove(what, colon + 7, strlen(colon + 7) + 1);
    }
    report(json, at < len ? at : len, what, errbuf, errlen);
}

static unsigned
hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16)
            return UINT32_MAX;
        v = v << 4 | d;
    }
    return v;
}

/* The place of a \u escape of half a surrogate pair without its other
 * half, or len when there is none. yajl would decode it as "?"; it is no
 * character, so the text is refused instead. A backslash outside a string
 * is a syntax error that yajl reports, so every backslash seen here
 * starts an escape. */
static size_t
lone_surrogate(const char *json, size_t len)
{
    for (const char *p = memchr(json, '\\', len); p; p = memchr(p, '\\', (size_t)(json + len - p))) {
        if (p[1] != 'u') {
            p += p[1] ? 2 : 1;
            continue;
        }
        unsigned u = json + len - p >= 6 ? hex4(p + 2) : UINT32_MAX;
        if (u >= 0xdc00 && u <= 0xdfff)
            return (size_t)(p - json);
        if (u >= 0xd800 && u <= 0xdbff) {
            unsigned low = json + len - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8)
                                                                         : UINT32_MAX;
            if (low < 0xdc00 || low > 0xdfff)
                return (size_t)(p - json);
            p += 12;
            continue;
        }
        p += 2;
    }
    return len;
}

int
jm_json_to_msgpack(const char *json, msgpack_sbuffer *sbuf, char *errbuf,
                   size_t errlen)
{
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (json == NULL || sbuf == NULL) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "no JSON text");
        return JM_EARG;
    }
    transcode_t tc = {.sb = sbuf}, *t = &tc;
    msgpack_packer_init(&t->pk, sbuf, msgpack_sbuffer_write);
    size_t start = sbuf->size, len = strlen(json);
    size_t lone = lone_surrogate(json, len);
    if (lone < len) {
        if (errbuf != NULL && errlen > 0)
            report(json, lone, "half a surrogate pair (\\uD800-\\uDFFF) alone", errbuf, errlen);
        return JM_EARG;
    }
    yajl_handle h = yajl_alloc(&transcode_callbacks, NULL, t);
    int rc = JM_ENOMEM;
    if (h != NULL) {
        /* Strings are checked after their escapes are decoded, by the
         * same rule jm_msgpack_to_json prints them by. */
        yajl_config(h, yajl_dont_validate_strings, 1);
        yajl_status st = yajl_parse(h, (const unsigned char *)json, len);
        if (st == yajl_status_ok)
            st = yajl_complete_parse(h);
        rc = st == yajl_status_ok ? 0 : JM_EARG;
        if (rc != 0 && errbuf != NULL && errlen > 0)
            parse_error(h, t, json, len, errbuf, errlen);
        yajl_free(h);
    }
    while (t->depth > 0)
        free(t->stack[--t->depth].table);
    free(t->stack);
    free(t->keys);
    if (rc != 0)
        sbuf->size = start;
    return rc;
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

/* Writes bytes as a JSON string: escaped text when they are UTF-8, else
 * their lowercase hex digits, so that no input produces invalid JSON. */
static void
emit_string(strbuf_t *sb, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    size_t i, run = 0;

    sb_put(sb, "\"", 1);
    if (n == 0) {  /* msgpack-c gives an empty string no pointer */
        sb_put(sb, "\"", 1);
        return;
    }
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
