/* upstream.c - connecting, checking the role, calling with one retry. */
#define _GNU_SOURCE
#include "upstream.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobmatch.h"

struct upstream {
    char *addr;
    char *key;
    int timeout_ms;
    jm_client_t *c;
};

upstream_t *
upstream_new(const char *addr, const char *key, int timeout_ms)
{
    upstream_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->addr = strdup(addr);
    u->key = key ? strdup(key) : NULL;
    u->timeout_ms = timeout_ms;
    if (!u->addr || (key && !u->key)) {
        upstream_free(u);
        return NULL;
    }
    return u;
}

static void
disconnect(upstream_t *u)
{
    if (u->c)
        jm_close(u->c);
    u->c = NULL;
}

void
upstream_free(upstream_t *u)
{
    if (!u)
        return;
    disconnect(u);
    free(u->addr);
    if (u->key)
        memset(u->key, 0, strlen(u->key));
    free(u->key);
    free(u);
}

const char *
upstream_addr(const upstream_t *u)
{
    return u->addr;
}

static void
set_err(upstream_error_t *err, const char *code, const char *fmt, const char *a,
        const char *b)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, fmt, a, b);
}

static int
down(upstream_t *u, upstream_error_t *err, const char *why)
{
    set_err(err, "daemon_down", "the job service at %s cannot be reached: %s", u->addr,
            why);
    disconnect(u);
    return UP_DOWN;
}

int
upstream_check(upstream_t *u, upstream_error_t *err)
{
    if (u->c)
        return UP_OK;
    char why[256] = "";
    u->c = jm_connect(u->addr, u->timeout_ms, why, sizeof why);
    if (!u->c)
        return down(u, err, why);
    char role[32] = "";
    int rc = jm_hello(u->c, u->key, role, sizeof role);
    if (rc == JM_ESERVER) {
        set_err(err, "unauthorized", "the job service refused the kiosk's key (%s)%s",
                u->c->errstr, "");
        disconnect(u);
        return UP_REFUSED;
    }
    if (rc != JM_OK)
        return down(u, err, u->c->errstr);
    /* A kiosk shows the public whatever it can read; a key or an anonymous
     * role with more rights than a kiosk's would put workers' records
     * within reach of a public screen. */
    if (strcmp(role, "kiosk") != 0) {
        set_err(err, "wrong_role",
                "the job service gave this kiosk the role '%s'; a kiosk runs only "
                "with the role 'kiosk'%s",
                role, "");
        disconnect(u);
        return UP_ROLE;
    }
    return UP_OK;
}

/* Packs a JSON object as msgpack for jm_send. */
static int
pack_args(json_t *args, msgpack_sbuffer *sb, upstream_error_t *err)
{
    char *text = json_dumps(args ? args : json_object(), JSON_COMPACT);
    char why[128] = "";
    int rc = text ? jm_json_to_msgpack(text, sb, why, sizeof why) : JM_ENOMEM;
    free(text);
    if (rc != JM_OK) {
        set_err(err, "internal", "the kiosk could not encode a request: %s%s", why, "");
        return -1;
    }
    return 0;
}

static json_t *
reply_result(const jm_reply_t *r)
{
    char *text = jm_msgpack_to_json(&r->result, false);
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    free(text);
    return j;
}

/* One attempt at the batch on the current connection. Returns UP_OK,
 * UP_REFUSED (a single call's error, in err) or UP_DOWN. */
static int
attempt(upstream_t *u, const char *op, const msgpack_sbuffer *packed, size_t n,
        json_t **results, upstream_error_t *err)
{
    int rc = upstream_check(u, err);
    if (rc != UP_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (jm_send(u->c, op, packed[i].data, packed[i].size, NULL) != JM_OK)
            return down(u, err, u->c->errstr);
    int status = UP_OK;
    for (size_t i = 0; i < n; i++) {
        jm_reply_t *r = NULL;
        int got;
        /* Pushed frames (id 0) are not answers; a kiosk subscribes to
         * nothing, but they are skipped all the same. */
        do {
            if (r)
                jm_reply_free(r);
            r = NULL;
            got = jm_recv(u->c, &r);
        } while (got == JM_OK && r && r->id == 0);
        if (got == JM_ESERVER) {
            set_err(err, r->error_code, "%s%s", r->error_message, "");
            results[i] = NULL;
            status = UP_REFUSED;
        } else if (got != JM_OK) {
            for (size_t k = 0; k < i; k++) {
                json_decref(results[k]);
                results[k] = NULL;
            }
            return down(u, err, u->c->errstr);
        } else {
            results[i] = reply_result(r);
        }
        jm_reply_free(r);
    }
    return status;
}

int
upstream_call_many(upstream_t *u, const char *op, json_t *const *args, size_t n,
                   json_t **results, upstream_error_t *err)
{
    msgpack_sbuffer *packed = calloc(n ? n : 1, sizeof *packed);
    if (!packed) {
        set_err(err, "internal", "out of memory%s%s", "", "");
        return UP_REFUSED;
    }
    int rc = UP_OK;
    for (size_t i = 0; i < n; i++)
        msgpack_sbuffer_init(&packed[i]);
    for (size_t i = 0; i < n && rc == UP_OK; i++)
        if (pack_args(args[i], &packed[i], err) != 0)
            rc = UP_REFUSED;
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    if (rc == UP_OK) {
        /* A connection that died since its last use (the daemon restarted)
         * fails the first attempt; reads are safe to send again. */
        bool was_connected = u->c != NULL;
        rc = attempt(u, op, packed, n, results, err);
        if (rc == UP_DOWN && was_connected)
            rc = attempt(u, op, packed, n, results, err);
    }
    for (size_t i = 0; i < n; i++)
        msgpack_sbuffer_destroy(&packed[i]);
    free(packed);
    return rc;
}

int
upstream_call(upstream_t *u, const char *op, json_t *args, json_t **result,
              upstream_error_t *err)
{
    json_t *res = NULL;
    int rc = upstream_call_many(u, op, &args, 1, &res, err);
    if (rc == UP_OK && !res) {
        set_err(err, "internal", "the job service sent a result the kiosk cannot read%s%s",
                "", "");
        return UP_REFUSED;
    }
    if (rc != UP_OK) {
        json_decref(res);
        return rc;
    }
    *result = res;
    return UP_OK;
}
