/* wire.c - request builders, call wrappers, reply readers and raw frame
 * I/O for the integration tests. */
#define _GNU_SOURCE  /* vasprintf */
#include "wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

/* ---- building ---------------------------------------------------------- */

void
jt_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void
jt_pack_skills(msgpack_packer *pk, const char *skills)
{
    char buf[1024];
    const char *items[64];
    unsigned n = 0;
    snprintf(buf, sizeof buf, "%s", skills ? skills : "");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < 64;
         tok = strtok_r(NULL, ",", &save))
        items[n++] = tok;
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < n; i++) {
        char *colon = strchr(items[i], ':');
        cr_assert_not_null(colon, "skill '%s' needs id:level", items[i]);
        *colon = '\0';
        msgpack_pack_map(pk, 2);
        jt_pack_str(pk, "id");
        jt_pack_str(pk, items[i]);
        jt_pack_str(pk, "level");
        msgpack_pack_int(pk, atoi(colon + 1));
    }
}

void
jt_pack_vacancy(msgpack_packer *pk, const char *id, const char *region,
                const char *occupation, const char *skills)
{
    char employer[128], title[128];
    snprintf(employer, sizeof employer, "Employer of %s", id);
    snprintf(title, sizeof title, "Opening %s", id);
    msgpack_pack_map(pk, 6);
    jt_pack_str(pk, "id");
    jt_pack_str(pk, id);
    jt_pack_str(pk, "employer");
    jt_pack_str(pk, employer);
    jt_pack_str(pk, "title");
    jt_pack_str(pk, title);
    jt_pack_str(pk, "occupation");
    jt_pack_str(pk, occupation);
    jt_pack_str(pk, "region");
    jt_pack_str(pk, region);
    jt_pack_str(pk, "skills");
    jt_pack_skills(pk, skills);
}

void
jt_pack_worker(msgpack_packer *pk, const char *id, const char *region,
               const char *desired, const char *skills)
{
    msgpack_pack_map(pk, 5);
    jt_pack_str(pk, "id");
    jt_pack_str(pk, id);
    jt_pack_str(pk, "birth_year");
    msgpack_pack_int(pk, 1990);
    jt_pack_str(pk, "region");
    jt_pack_str(pk, region);
    jt_pack_str(pk, "skills");
    jt_pack_skills(pk, skills);
    jt_pack_str(pk, "desired_occupations");
    char buf[512];
    const char *items[16];
    unsigned n = 0;
    snprintf(buf, sizeof buf, "%s", desired ? desired : "");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < 16;
         tok = strtok_r(NULL, ",", &save))
        items[n++] = tok;
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < n; i++)
        jt_pack_str(pk, items[i]);
}

void
jt_args_vacancy(msgpack_sbuffer *sb, const char *id, const char *region,
                const char *occupation, const char *skills)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "vacancy");
    jt_pack_vacancy(&pk, id, region, occupation, skills);
}

void
jt_args_vacancies(msgpack_sbuffer *sb, const char *prefix, int n, const char *region,
                  const char *occupation, const char *skills)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "vacancies");
    msgpack_pack_array(&pk, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char id[80];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        jt_pack_vacancy(&pk, id, region, occupation, skills);
    }
}

void
jt_args_worker(msgpack_sbuffer *sb, const char *id, const char *region,
               const char *desired, const char *skills)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "worker");
    jt_pack_worker(&pk, id, region, desired, skills);
}

void
jt_args_id(msgpack_sbuffer *sb, const char *id)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "id");
    jt_pack_str(&pk, id);
}

void
jt_pack_json(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, v) {
            jt_pack_str(pk, k);
            jt_pack_json(pk, v);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, v)
            jt_pack_json(pk, v);
        break;
    }
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

void
jt_args_json(msgpack_sbuffer *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0);
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(root, "bad test JSON (%s): %s", jerr.text, text);
    free(text);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    jt_pack_json(&pk, root);
    json_decref(root);
}

const char *
jt_vacancy_json(const char *id)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"id\": \"%s\", \"employer\": \"Acme Works\", "
             "\"title\": \"Lathe operator\", \"occupation\": \"6-18-01-01\", "
             "\"region\": \"110105\", "
             "\"skills\": [{\"id\": \"lathe\", \"level\": 3}]}",
             id);
    return buf;
}

const char *
jt_worker_json(const char *id)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"id\": \"%s\", \"birth_year\": 1985, \"region\": \"110105\", "
             "\"skills\": [{\"id\": \"lathe\", \"level\": 4}], "
             "\"desired_occupations\": [\"6-18\"]}",
             id);
    return buf;
}

/* ---- calling ----------------------------------------------------------- */

jm_reply_t *
jt_call(jm_client_t *c, const char *op, const msgpack_sbuffer *args)
{
    jm_reply_t *r = NULL;
    int rc = jm_call(c, op, args ? args->data : NULL, args ? args->size : 0, &r);
    cr_assert(rc == 0 || rc == JM_ESERVER, "%s: transport failure %d: %s",
              op, rc, c->errstr);
    cr_assert_not_null(r, "%s: no reply", op);
    return r;
}

jm_reply_t *
jt_call_json(jm_client_t *c, const char *op, const char *fmt, ...)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        char *text = NULL;
        int n = vasprintf(&text, fmt, ap);
        va_end(ap);
        cr_assert(n >= 0);
        jt_args_json(&sb, "%s", text);
        free(text);
    }
    jm_reply_t *r = jt_call(c, op, fmt ? &sb : NULL);
    msgpack_sbuffer_destroy(&sb);
    return r;
}

void
jt_expect_ok(const jm_reply_t *r, const char *what)
{
    cr_assert(r->ok, "%s: expected success, got %s: %s", what, r->error_code,
              r->error_message);
}

void
jt_expect_error(const jm_reply_t *r, const char *code, const char *msg_part)
{
    cr_assert(!r->ok, "expected error %s, got success", code);
    cr_assert_str_eq(r->error_code, code, "expected %s, got %s: %s", code,
                     r->error_code, r->error_message);
    if (msg_part)
        cr_assert(strstr(r->error_message, msg_part) != NULL,
                  "error message '%s' does not mention '%s'", r->error_message,
                  msg_part);
}

void
jt_call_ok(jm_client_t *c, const char *op, const msgpack_sbuffer *args)
{
    jm_reply_t *r = jt_call(c, op, args);
    jt_expect_ok(r, op);
    jm_reply_free(r);
}

void
jt_put_vacancy(jm_client_t *c, const char *id, const char *region,
               const char *occupation, const char *skills)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_vacancy(&sb, id, region, occupation, skills);
    jt_call_ok(c, "vacancy.put", &sb);
    msgpack_sbuffer_destroy(&sb);
}

void
jt_put_worker(jm_client_t *c, const char *id, const char *region,
              const char *desired, const char *skills)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_worker(&sb, id, region, desired, skills);
    jt_call_ok(c, "worker.put", &sb);
    msgpack_sbuffer_destroy(&sb);
}

uint64_t
jt_admin_count(jm_client_t *c, const char *key)
{
    jm_reply_t *r = jt_call(c, "admin.info", NULL);
    jt_expect_ok(r, "admin.info");
    const msgpack_object *o = jt_need(&r->result, key);
    cr_assert_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER,
                 "admin.info.%s is not an unsigned integer", key);
    uint64_t v = o->via.u64;
    jm_reply_free(r);
    return v;
}

void
jt_expect_check_clean(jm_client_t *c, const char *what)
{
    jm_reply_t *r = jt_call(c, "admin.check", NULL);
    jt_expect_ok(r, what);
    cr_assert(jt_get_bool(&r->result, "ok"), "admin.check %s: %s", what,
              jt_get_str(&r->result, "report"));
    jm_reply_free(r);
}

const char *
jt_match_ids(jm_client_t *c, const char *op, const char *args_json)
{
    static char ids[4096];
    jm_reply_t *r = jt_call_json(c, op, "%s", args_json);
    jt_expect_ok(r, op);
    const msgpack_object *m = jt_need(&r->result, "matches");
    cr_assert_eq(m->type, MSGPACK_OBJECT_ARRAY);
    ids[0] = '\0';
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const char *id = jt_get_str(&m->via.array.ptr[i], "id");
        cr_assert_lt(strlen(ids) + strlen(id) + 2, sizeof ids, "%s: too many ids", op);
        if (i > 0)
            strcat(ids, ",");
        strcat(ids, id);
    }
    jm_reply_free(r);
    return ids;
}

const char *
jt_refer(jm_client_t *c, const char *worker, const char *vacancy, const char *note)
{
    static char id[32];
    jm_reply_t *r = note ? jt_call_json(c, "referral.create",
                                        "{\"worker\": \"%s\", \"vacancy\": \"%s\", "
                                        "\"note\": \"%s\"}",
                                        worker, vacancy, note)
                         : jt_call_json(c, "referral.create",
                                        "{\"worker\": \"%s\", \"vacancy\": \"%s\"}",
                                        worker, vacancy);
    jt_expect_ok(r, "referral.create");
    snprintf(id, sizeof id, "%s", jt_get_str(&r->result, "id"));
    const msgpack_object *ref = jt_need(&r->result, "referral");
    cr_assert_str_eq(jt_get_str(ref, "id"), id);
    cr_assert_str_eq(jt_get_str(ref, "status"), "referred");
    cr_assert_str_eq(jt_get_str(ref, "worker"), worker);
    cr_assert_str_eq(jt_get_str(ref, "vacancy"), vacancy);
    jm_reply_free(r);
    return id;
}

/* ---- reading ----------------------------------------------------------- */

const msgpack_object *
jt_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

const msgpack_object *
jt_need(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = jt_get(map, key);
    cr_assert_not_null(o, "key '%s' missing", key);
    return o;
}

bool
jt_str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

int64_t
jt_get_int(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = jt_need(map, key);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        cr_assert(o->via.u64 <= INT64_MAX, "%s: too large", key);
        return (int64_t)o->via.u64;
    }
    cr_assert_eq(o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER,
                 "%s: not an integer (type %d)", key, o->type);
    return o->via.i64;
}

const char *
jt_get_str(const msgpack_object *map, const char *key)
{
    static char buf[1024];
    const msgpack_object *o = jt_need(map, key);
    cr_assert_eq(o->type, MSGPACK_OBJECT_STR, "%s: not a string", key);
    cr_assert_lt(o->via.str.size, sizeof buf);
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return buf;
}

bool
jt_get_bool(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = jt_need(map, key);
    cr_assert_eq(o->type, MSGPACK_OBJECT_BOOLEAN, "%s: not a boolean", key);
    return o->via.boolean;
}

double
jt_get_double(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = jt_need(map, key);
    cr_assert_eq(o->type, MSGPACK_OBJECT_FLOAT64,
                 "%s: not a float64 (type %d)", key, o->type);
    return o->via.f64;
}

void
jt_pack_kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
    jt_pack_str(pk, key);
    msgpack_pack_int64(pk, v);
}

void
jt_pack_kv_str(msgpack_packer *pk, const char *key, const char *v)
{
    jt_pack_str(pk, key);
    jt_pack_str(pk, v);
}

/* ---- raw frames -------------------------------------------------------- */

void
jt_raw_send(int fd, const void *bytes, size_t len)
{
    const char *p = bytes;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert(n > 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

char *
jt_http(const char *host, int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    cr_assert_eq(inet_pton(AF_INET, host, &sin.sin_addr), 1, "not an IPv4 address: %s", host);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0, "%s", strerror(errno));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    jt_raw_send(fd, request, strlen(request));
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (cap - used < 4096) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
        ssize_t n = recv(fd, buf + used, cap - used - 1, 0);
        cr_assert_geq(n, 0, "recv: %s", strerror(errno));
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    close(fd);
    return buf;
}

void
jt_raw_send_frame(int fd, const void *body, size_t len)
{
    uint8_t *buf = malloc(4 + len);
    cr_assert_not_null(buf);
    buf[0] = (uint8_t)(len >> 24);
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    if (len)
        memcpy(buf + 4, body, len);
    jt_raw_send(fd, buf, 4 + len);
    free(buf);
}

/* Reads exactly len bytes. Returns 0, 1 on a clean close, -1 on error. */
static int
read_exact(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return 1;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
jt_raw_read_frame(int fd, msgpack_zone *zone, msgpack_object *out)
{
    uint8_t hdr[4];
    int rc = read_exact(fd, hdr, 4);
    if (rc != 0)
        return rc;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                   (uint32_t)hdr[2] << 8 | hdr[3];
    cr_assert(len >= 1 && len <= (16u << 20), "reply frame length %u", len);
    char *body = msgpack_zone_malloc(zone, len);
    cr_assert_not_null(body);
    rc = read_exact(fd, body, len);
    if (rc != 0)
        return rc;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(body, len, &off, zone, out),
                 MSGPACK_UNPACK_SUCCESS, "reply frame is not msgpack");
    cr_assert_eq(off, len, "reply frame has trailing bytes");
    cr_assert_eq(out->type, MSGPACK_OBJECT_MAP, "reply frame is not a map");
    return 0;
}

bool
jt_raw_closed(int fd)
{
    char b;
    for (;;) {
        ssize_t n = recv(fd, &b, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return n == 0;
    }
}

void
jt_raw_expect_bad_frame(int fd, const char *what)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    int rc = jt_raw_read_frame(fd, &zone, &reply);
    cr_assert_eq(rc, 0, "%s: no reply frame (rc %d)", what, rc);
    const msgpack_object *id = jt_need(&reply, "id");
    cr_assert_eq(id->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "%s: id type", what);
    cr_assert_eq(id->via.u64, 0, "%s: id %llu, want 0", what,
                 (unsigned long long)id->via.u64);
    cr_assert_eq(jt_get_bool(&reply, "ok"), false, "%s: ok", what);
    const msgpack_object *err = jt_need(&reply, "error");
    cr_assert(jt_str_is(jt_need(err, "code"), "bad_frame"), "%s: code", what);
    cr_assert_eq(jt_need(err, "message")->type, MSGPACK_OBJECT_STR, "%s", what);
    cr_assert_gt(jt_need(err, "message")->via.str.size, 0, "%s", what);
    cr_assert(jt_raw_closed(fd), "%s: connection not closed by the server", what);
    msgpack_zone_destroy(&zone);
}
