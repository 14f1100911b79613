/* ops_alerts.c - alert.subscribe, alert.unsubscribe, alert.listen,
 * alert.list and alert.subscriptions (docs/protocol.md, docs/alerts.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "command.h"
#include "conn.h"
#include "match_rules.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static int
get_sub_id(en_req_t *req, uint64_t *id)
{
    int64_t v;
    if (pr_get_int(req->rq->args, "subscription", "subscription", PR_REQUIRED, 1, INT64_MAX,
                   &v, &req->err) < 0)
        return -1;
    *id = (uint64_t)v;
    return 0;
}

/* A number that may be sent as an integer or a float. */
static int
get_number(en_req_t *req, const char *key, double min, double max, double *out)
{
    const msgpack_object *o = pr_map_value(req->rq->args, key);
    if (!o)
        return 0;
    double v;
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        v = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = (double)o->via.i64;
    else
        return pr_fail(&req->err, PR_BAD_REQUEST, "%s: must be a number", key);
    if (!(v >= min && v <= max))
        return pr_fail(&req->err, PR_BAD_REQUEST, "%s: must be between %g and %g", key, min, max);
    *out = v;
    return 0;
}

/* Reads {"worker": id} or {"vacancy": id}: the subject. */
static int
get_subject(en_req_t *req, bool required, uint8_t *kind, pr_str_t *id)
{
    const msgpack_object *args = req->rq->args;
    const msgpack_object *w = pr_map_value(args, "worker"), *v = pr_map_value(args, "vacancy");
    if (w && v)
        return pr_fail(&req->err, PR_BAD_REQUEST, "worker, vacancy: give one, not both");
    if (!w && !v) {
        if (required)
            return pr_fail(&req->err, PR_BAD_REQUEST, "worker or vacancy: required");
        *kind = 0;
        return 0;
    }
    const char *key = w ? "worker" : "vacancy";
    *kind = w ? IX_WORKER : IX_VACANCY;
    return pr_get_id(args, key, PR_REQUIRED, id, &req->err);
}

/* ---- alert.subscribe -------------------------------------------------------- */

typedef struct sub_job {
    en_sub_spec_t spec;
    char by[EN_KEY_NAME_MAX];
    uint64_t id;
} sub_job_t;

static int
apply_subscribe(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    (void)sbuf;
    sub_job_t *d = job->data;
    int rc = en_alerts_subscribe(job->worker->srv->alerts, txn, &d->spec, job->now, d->by, &d->id);
    if (rc == -ENOENT) {
        job->failed = true;
        pr_fail(&job->err, PR_NOT_FOUND, "%s %.*s not found",
                d->spec.kind == IX_WORKER ? "worker" : "vacancy", (int)d->spec.subject.len,
                d->spec.subject.ptr);
        return 0;
    }
    return rc;
}

static void
reply_subscribe(en_write_t *job, msgpack_packer *pk)
{
    sub_job_t *d = job->data;
    /* The connection that subscribed listens from now on. */
    en_alerts_listen(job->worker->srv->alerts, d->id, job->worker, job->conn->serial);
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "subscription");
    msgpack_pack_uint64(pk, d->id);
    pr_pack_cstr(pk, d->spec.kind == IX_WORKER ? "worker" : "vacancy");
    pr_pack_str(pk, d->spec.subject);
}

int
en_op_alert_subscribe(en_req_t *req)
{
    sub_job_t *d = calloc(1, sizeof *d);
    if (!d)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    en_sub_spec_t *spec = &d->spec;
    spec->scope = EN_SCOPE_CITY;
    if (get_subject(req, true, &spec->kind, &spec->subject) != 0 ||
        get_number(req, "min_score", 0, 1000, &spec->min_score) != 0 ||
        en_match_read_scope(req, &spec->scope) != 0 ||
        en_match_read_filters(req, spec->kind == IX_WORKER, &spec->filters) != 0) {
        free(d);
        return -1;
    }
    snprintf(d->by, sizeof d->by, "%s", req->conn->key_name);
    if (en_job_new(req, d, apply_subscribe, reply_subscribe) != 0)
        return -1;
    return 0;
}

/* ---- alert.unsubscribe ---------------------------------------------------------- */

static int
apply_unsubscribe(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    (void)sbuf;
    uint64_t *id = job->data;
    int rc = en_alerts_unsubscribe(job->worker->srv->alerts, txn, *id);
    if (rc == -ENOENT) {
        job->failed = true;
        pr_fail(&job->err, PR_NOT_FOUND, "subscription %llu not found", (unsigned long long)*id);
        return 0;
    }
    return rc;
}

static void
reply_unsubscribe(en_write_t *job, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "subscription");
    msgpack_pack_uint64(pk, *(uint64_t *)job->data);
    pr_pack_cstr(pk, "deleted");
    msgpack_pack_true(pk);
}

int
en_op_alert_unsubscribe(en_req_t *req)
{
    uint64_t *id = malloc(sizeof *id);
    if (!id)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    if (get_sub_id(req, id) != 0) {
        free(id);
        return -1;
    }
    return en_job_new(req, id, apply_unsubscribe, reply_unsubscribe);
}

/* ---- reading ----------------------------------------------------------------------- */

/* Reads subscription id in txn: its stored map. */
static int
read_sub(en_req_t *req, ix_txn_t *txn, uint64_t id, const void **value, size_t *len)
{
    int rc = ix_sub_get(txn, id, value, len);
    if (rc == -ENOENT)
        return pr_fail(&req->err, PR_NOT_FOUND, "subscription %llu not found",
                       (unsigned long long)id);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    return 0;
}

int
en_op_alert_listen(en_req_t *req)
{
    uint64_t id;
    if (get_sub_id(req, &id) != 0)
        return -1;
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    const void *value;
    size_t len;
    rc = read_sub(req, txn, id, &value, &len);
    ix_read_end(txn);
    if (rc != 0)
        return -1;
    en_alerts_listen(req->srv->alerts, id, req->worker, req->conn->serial);
    en_reply_ok(req);
    msgpack_pack_map(req->pk, 2);
    pr_pack_cstr(req->pk, "subscription");
    msgpack_pack_uint64(req->pk, id);
    pr_pack_cstr(req->pk, "listening");
    msgpack_pack_true(req->pk);
    return 0;
}

/* The alerts of one page, as ix_alert_list hands them (values in the read
 * transaction's memory), and one past it when there is one. */
typedef struct alert_page {
    uint32_t n, cap;
    struct {
        uint64_t seq;
        const void *value;
        size_t len;
    } *at;
} alert_page_t;

static int
take_alert(void *ctx, uint64_t seq, const void *value, size_t len)
{
    alert_page_t *p = ctx;
    if (p->n < p->cap) {
        p->at[p->n].seq = seq;
        p->at[p->n].value = value;
        p->at[p->n].len = len;
        p->n++;
    }
    return 0;
}

int
en_op_alert_list(en_req_t *req)
{
    uint64_t id;
    int64_t after = 0, limit = LIST_DEFAULT;
    if (get_sub_id(req, &id) != 0 ||
        pr_get_int(req->rq->args, "after", "after", 0, 0, INT64_MAX, &after, &req->err) < 0 ||
        pr_get_int(req->rq->args, "limit", "limit", 0, 1, LIST_MAX, &limit, &req->err) < 0)
        return -1;
    /* One past the page tells whether another follows. */
    alert_page_t page = {.cap = (uint32_t)limit + 1};
    if (!(page.at = malloc(page.cap * sizeof *page.at)))
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0) {
        free(page.at);
        return en_storage_error(&req->err, rc);
    }
    const void *value;
    size_t len;
    rc = read_sub(req, txn, id, &value, &len);
    if (rc == 0 &&
        (rc = ix_alert_list(txn, id, (uint64_t)after, page.cap, take_alert, &page)) != 0)
        rc = en_storage_error(&req->err, rc);
    if (rc == 0) {
        bool more = page.n > (uint32_t)limit;
        uint32_t n = more ? (uint32_t)limit : page.n;
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 3);
        pr_pack_cstr(req->pk, "subscription");
        en_pack_raw(req->pk, value, len);
        pr_pack_cstr(req->pk, "alerts");
        msgpack_pack_array(req->pk, n);
        for (uint32_t i = 0; i < n; i++)
            en_pack_raw(req->pk, page.at[i].value, page.at[i].len);
        pr_pack_cstr(req->pk, "next");
        if (more)
            msgpack_pack_uint64(req->pk, page.at[n - 1].seq);
        else
            msgpack_pack_nil(req->pk);
    }
    ix_read_end(txn);
    free(page.at);
    return rc;
}

typedef struct sub_filter {
    uint8_t kind;
    pr_str_t subject;
    msgpack_packer *pk;
    bool pack;
    uint32_t n;
} sub_filter_t;

static int
visit_sub(void *ctx, uint64_t id, const void *value, size_t len)
{
    (void)id;
    sub_filter_t *f = ctx;
    if (f->kind) {
        msgpack_zone zone;
        msgpack_zone_init(&zone, 512);
        en_sub_spec_t spec;
        bool match = en_sub_decode(value, len, &zone, &spec) == 0 && spec.kind == f->kind &&
                     spec.subject.len == f->subject.len &&
                     memcmp(spec.subject.ptr, f->subject.ptr, f->subject.len) == 0;
        msgpack_zone_destroy(&zone);
        if (!match)
            return 0;
    }
    if (f->pack)
        en_pack_raw(f->pk, value, len);
    f->n++;
    return 0;
}

int
en_op_alert_subscriptions(en_req_t *req)
{
    sub_filter_t f = {.pk = req->pk};
    if (get_subject(req, false, &f.kind, &f.subject) != 0)
        return -1;
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    /* Counted first, then packed: the array header needs the count. */
    rc = ix_sub_each(txn, visit_sub, &f);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 1);
        pr_pack_cstr(req->pk, "subscriptions");
        msgpack_pack_array(req->pk, f.n);
        f.pack = true;
        f.n = 0;
        ix_sub_each(txn, visit_sub, &f);
    } else {
        rc = en_storage_error(&req->err, rc);
    }
    ix_read_end(txn);
    return rc;
}
