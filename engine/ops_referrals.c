/* ops_referrals.c - referral.create, referral.update, referral.get and
 * referral.list: a worker put forward for a vacancy and followed to a hire
 * or an end, with every change kept in the referral's history.
 *
 * A hire changes three records in the one write transaction of the job:
 * the vacancy's `filled` grows (and the vacancy closes when it is full),
 * the worker becomes `employed`, and the referral records the time. Both
 * records are rewritten through store.h, so postings, counters and the
 * labour aggregates follow at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "command.h"
#include "conn.h"
#include "index.h"
#include "record.h"
#include "referral.h"
#include "referrals.h"
#include "store.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define LIST_MAX_SCAN 100000
/* The largest canonical referral: two ids, three events with a note and
 * a key name each, and the keys around them. */
#define PACKED_MAX (2 * PR_ID_MAX + PR_REF_HISTORY_MAX * (PR_REF_NOTE_MAX + PR_REF_BY_MAX + 64) + 1024)

typedef struct ref_job {
    uint64_t refno;             /* update */
    int status;                 /* update: the status asked for */
    pr_str_t worker, vacancy;   /* create */
    pr_str_t note;              /* len 0 = none */
    pr_vacancy_t vrec;          /* scratch for a hire */
    pr_worker_t wrec;
    size_t packed_len;          /* the referral as committed, for the reply */
    char packed[PACKED_MAX];
} ref_job_t;

/* Fills err with code and a message of fmt, which takes a counted string
 * and a C string (NULL = ""). Returns 1: the domain failure of a create. */
static int
fail_err(pr_error_t *err, pr_code_t code, const char *fmt, const char *a, uint32_t a_len,
         const char *b)
{
    pr_fail(err, code, fmt, (int)a_len, a, b ? b : "");
    return 1;
}

static int
fail_job(en_write_t *job, pr_code_t code, const char *fmt, const char *a, uint32_t a_len,
         const char *b)
{
    job->failed = true;
    fail_err(&job->err, code, fmt, a, a_len, b);
    return 0;
}

static void
reply_referral(en_write_t *job, msgpack_packer *pk)
{
    ref_job_t *d = job->data;
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "id");
    char id[PR_REF_ID_MAX + 1];
    msgpack_pack_str_with_body(pk, id, pr_referral_id_format(id, d->refno));
    pr_pack_cstr(pk, "referral");
    en_pack_raw(pk, d->packed, d->packed_len);
}

/* Stores r, its notes sealed, with the index fields it is listed and
 * counted by; keeps its canonical bytes, notes in clear, for the reply. */
static int
store_referral(ix_txn_t *txn, const en_write_t *job, ref_job_t *d, const pr_referral_t *r,
               uint8_t category, const char region[6], msgpack_sbuffer *sbuf)
{
    msgpack_packer pk;
    sbuf->size = 0;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    pr_pack_referral(&pk, r);
    if (sbuf->size > sizeof d->packed)
        return -EINVAL;
    memcpy(d->packed, sbuf->data, sbuf->size);
    d->packed_len = sbuf->size;
    sbuf->size = 0;
    int rc = en_store_pack_referral(&pk, job->worker->srv->sealer, r);
    if (rc != 0)
        return rc;
    ix_referral_t ix = {
        .refno = r->refno,
        .status = (uint8_t)r->status,
        .hired = r->status == PR_REF_HIRED,
        .hired_at = r->hired_at,
        .category = category,
        .worker = r->worker.ptr,
        .worker_len = r->worker.len,
        .vacancy = r->vacancy.ptr,
        .vacancy_len = r->vacancy.len,
        .value = sbuf->data,
        .value_len = sbuf->size,
    };
    memcpy(ix.region, region, 6);
    return ix_referral_put(txn, &ix);
}

/* Appends the job's change to the history: its time, the key that asked
 * for it and its note. */
static void
add_event(pr_referral_t *r, const en_write_t *job, const ref_job_t *d, int status)
{
    pr_referral_event_t *e = &r->history[r->n_history++];
    e->status = status;
    e->at = job->now;
    e->by = (pr_str_t){job->actor, (uint32_t)strlen(job->actor)};
    e->note = d->note;
}

/* ---- create ----------------------------------------------------------- */

typedef struct open_pair {
    pr_str_t vacancy;
    uint64_t found;
} open_pair_t;

static int
find_open_pair(void *ctx, const ix_referral_t *r)
{
    open_pair_t *p = ctx;
    if ((r->status == PR_REF_REFERRED || r->status == PR_REF_INTERVIEWED) &&
        r->vacancy_len == p->vacancy.len &&
        memcmp(r->vacancy, p->vacancy.ptr, p->vacancy.len) == 0) {
        p->found = r->refno;
        return 1;
    }
    return 0;
}

/* Creates referral d->worker -> d->vacancy in txn. Returns 0, 1 when the
 * pair may not be referred (*err says why; nothing was written), or a
 * negative errno from the index. */
static int
create_referral(ix_txn_t *txn, const en_write_t *job, ref_job_t *d, msgpack_sbuffer *sbuf,
                pr_error_t *err)
{
    ix_record_t w, v;
    int rc = ix_get(txn, IX_WORKER, d->worker.ptr, d->worker.len, &w);
    if (rc == -ENOENT)
        return fail_err(err, PR_NOT_FOUND, "worker %.*s not found%s", d->worker.ptr,
                        d->worker.len, NULL);
    if (rc != 0)
        return rc;
    if (w.status != PR_WORKER_AVAILABLE)
        return fail_err(err, PR_CONFLICT, "worker %.*s is %s, not available", d->worker.ptr,
                        d->worker.len, pr_worker_status_name(w.status));
    uint8_t category = w.category;
    char region[6];
    memcpy(region, w.region, 6);
    rc = ix_get(txn, IX_VACANCY, d->vacancy.ptr, d->vacancy.len, &v);
    if (rc == -ENOENT)
        return fail_err(err, PR_NOT_FOUND, "vacancy %.*s not found%s", d->vacancy.ptr,
                        d->vacancy.len, NULL);
    if (rc != 0)
        return rc;
    if (v.status != PR_VACANCY_OPEN)
        return fail_err(err, PR_CONFLICT, "vacancy %.*s is closed%s", d->vacancy.ptr,
                        d->vacancy.len, NULL);
    if (v.filled >= v.match.headcount)
        return fail_err(err, PR_CONFLICT, "vacancy %.*s has no places left%s", d->vacancy.ptr,
                        d->vacancy.len, NULL);

    /* One open referral per pair: a second would be hired twice. */
    open_pair_t pair = {d->vacancy, 0};
    ix_referral_query_t q = {.worker = d->worker.ptr, .worker_len = d->worker.len,
                             .status = -1, .limit = UINT32_MAX};
    uint8_t next[IX_CURSOR_MAX];
    size_t next_len;
    if ((rc = ix_referral_list(txn, &q, find_open_pair, &pair, next, &next_len)) != 0)
        return rc;
    if (pair.found) {
        char id[PR_REF_ID_MAX + 1];
        pr_referral_id_format(id, pair.found);
        return fail_err(err, PR_CONFLICT, "worker %.*s already has an open referral %s to this vacancy",
                        d->worker.ptr, d->worker.len, id);
    }

    pr_referral_t r = {
        .worker = d->worker,
        .vacancy = d->vacancy,
        .status = PR_REF_REFERRED,
        .created = job->now,
        .updated = job->now,
    };
    if ((rc = ix_referral_reserve(txn, &r.refno)) != 0)
        return rc;
    d->refno = r.refno;
    add_event(&r, job, d, PR_REF_REFERRED);
    return store_referral(txn, job, d, &r, category, region, sbuf);
}

static int
apply_create(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    int rc = create_referral(txn, job, job->data, sbuf, &job->err);
    if (rc == 1)
        job->failed = true;
    return rc < 0 ? rc : 0;
}

int
en_referral_create(ix_txn_t *txn, const en_write_t *job, pr_str_t worker, pr_str_t vacancy,
                   pr_str_t note, msgpack_sbuffer *sbuf, uint64_t *refno, pr_error_t *err)
{
    ref_job_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->worker = worker;
    d->vacancy = vacancy;
    d->note = note;
    int rc = create_referral(txn, job, d, sbuf, err);
    *refno = d->refno;
    free(d);
    return rc;
}

/* Reads args.note into d->note. A note is stored sealed, so a server
 * without a secret key refuses one. */
static int
get_note(en_req_t *req, ref_job_t *d)
{
    int rc = pr_get_str(req->rq->args, "note", "note", 0, 0, PR_REF_NOTE_MAX, &d->note,
                        &req->err);
    if (rc == 1)   /* absent; an empty note is no note either */
        d->note = (pr_str_t){NULL, 0};
    if (rc < 0)
        return -1;
    if (d->note.len > 0 && !req->srv->sealer)
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "note: cannot be stored: the server has no secret key "
                       "(secret_key_file) to seal it with");
    return 0;
}

static ref_job_t *
new_job(en_req_t *req)
{
    ref_job_t *d = calloc(1, sizeof *d);
    if (!d)
        pr_fail(&req->err, PR_INTERNAL, "out of memory");
    return d;
}

int
en_op_referral_create(en_req_t *req)
{
    ref_job_t *d = new_job(req);
    if (!d)
        return -1;
    if (pr_get_id(req->rq->args, "worker", PR_REQUIRED, &d->worker, &req->err) != 0 ||
        pr_get_id(req->rq->args, "vacancy", PR_REQUIRED, &d->vacancy, &req->err) != 0 || get_note(req, d) != 0) {
        free(d);
        return -1;
    }
    if (en_job_new(req, d, apply_create, reply_referral) != 0)
        return -1;
    req->job->mem += sizeof *d;
    return 0;
}

/* ---- update ----------------------------------------------------------- */

/* Reads referral refno and decodes it, notes opened, into *r (strings
 * in zone). */
static int
load_referral(ix_txn_t *txn, const en_sealer_t *sealer, uint64_t refno, msgpack_zone *zone,
              pr_referral_t *r, ix_referral_t *ix)
{
    int rc = ix_referral_get(txn, refno, ix);
    if (rc == 0)
        rc = en_store_decode_referral(sealer, ix->value, ix->value_len, zone, r);
    if (rc == 0 && r->refno != refno)
        rc = -EIO;
    return rc;
}

/* A stored referral that cannot be answered with: told plainly, and
 * logged (its id only, never a note). */
static int
referral_read_error(pr_error_t *err, uint64_t refno, int rc)
{
    char id[PR_REF_ID_MAX + 1], record[PR_REF_ID_MAX + 16];
    pr_referral_id_format(id, refno);
    snprintf(record, sizeof record, "referral %s", id);
    return en_read_error(err, record, "notes", rc);
}

/* The hire: everything is checked before anything is written, so a
 * refused hire leaves the transaction untouched. */
static int
hire(ix_txn_t *txn, en_write_t *job, const pr_referral_t *r, uint8_t *category,
     char region[6], msgpack_sbuffer *sbuf)
{
    ref_job_t *d = job->data;
    pr_vacancy_t *v = &d->vrec;
    pr_worker_t *w = &d->wrec;
    int rc = en_store_load_vacancy(txn, r->vacancy.ptr, r->vacancy.len, job->zone, v);
    if (rc == -ENOENT)
        return fail_job(job, PR_NOT_FOUND, "vacancy %.*s not found%s", r->vacancy.ptr,
                        r->vacancy.len, NULL);
    if (rc != 0)
        return rc;
    if (v->filled >= v->headcount)
        return fail_job(job, PR_CONFLICT, "vacancy %.*s is full%s", r->vacancy.ptr,
                        r->vacancy.len, NULL);
    if (v->status != PR_VACANCY_OPEN)
        return fail_job(job, PR_CONFLICT, "vacancy %.*s is closed%s", r->vacancy.ptr,
                        r->vacancy.len, NULL);
    /* A copy of another node's vacancy changes only by replication: the
     * hire (filled) belongs where the vacancy does. */
    const char *node = job->worker->srv->cfg->node;
    if (v->origin.ptr && (v->origin.len != strlen(node) ||
                          memcmp(v->origin.ptr, node, v->origin.len) != 0)) {
        char origin[PR_ID_MAX + 1];
        snprintf(origin, sizeof origin, "%.*s", (int)v->origin.len, v->origin.ptr);
        return fail_job(job, PR_CONFLICT,
                        "vacancy %.*s is read-only here: record the hire at its node %s",
                        r->vacancy.ptr, r->vacancy.len, origin);
    }
    const en_sealer_t *sealer = job->worker->srv->sealer;
    rc = en_store_load_worker(txn, sealer, r->worker.ptr, r->worker.len, job->zone, w);
    if (rc == -ENOENT)
        return fail_job(job, PR_NOT_FOUND, "worker %.*s not found%s", r->worker.ptr,
                        r->worker.len, NULL);
    if (rc != 0)
        return rc;
    if (w->status == PR_WORKER_EMPLOYED)
        return fail_job(job, PR_CONFLICT, "worker %.*s is already employed%s", r->worker.ptr,
                        r->worker.len, NULL);
    v->filled++;
    if (v->filled >= v->headcount)
        v->status = PR_VACANCY_CLOSED;
    w->status = PR_WORKER_EMPLOYED;
    *category = (uint8_t)w->category;
    memcpy(region, w->region.ptr, 6);
    bool created;
    if ((rc = en_store_rewrite_vacancy(txn, v, EN_VACANCY_STATE, job->now, sbuf, &created)) != 0 ||
        (rc = en_store_put_worker(txn, sealer, w, job->now, sbuf, &created)) != 0)
        return rc;
    return en_audit_change(txn, job, w->id);
}

static int
apply_update(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    ref_job_t *d = job->data;
    char id[PR_REF_ID_MAX + 1];
    uint32_t id_len = pr_referral_id_format(id, d->refno);
    pr_referral_t r;
    ix_referral_t old;
    int rc = load_referral(txn, job->worker->srv->sealer, d->refno, job->zone, &r, &old);
    if (rc == -ENOENT)
        return fail_job(job, PR_NOT_FOUND, "referral %.*s not found%s", id, id_len, NULL);
    if (rc == -ENOKEY || rc == -EBADMSG || rc == -EIO) {
        job->failed = true;
        referral_read_error(&job->err, d->refno, rc);
        return 0;
    }
    if (rc != 0)
        return rc;
    uint8_t category = old.category;
    char region[6];
    memcpy(region, old.region, 6);
    if (!pr_referral_move_allowed(r.status, d->status)) {
        job->failed = true;
        pr_fail(&job->err, PR_CONFLICT, "referral %s cannot move from %s to %s", id,
                pr_referral_status_name(r.status), pr_referral_status_name(d->status));
        return 0;
    }
    if (d->status == PR_REF_HIRED) {
        if ((rc = hire(txn, job, &r, &category, region, sbuf)) != 0 || job->failed)
            return rc;
        r.hired_at = job->now;
    }
    r.status = d->status;
    r.updated = job->now;
    add_event(&r, job, d, d->status);
    return store_referral(txn, job, d, &r, category, region, sbuf);
}

/* Reads args[key] as a referral id into *refno. */
static int
get_referral_id(en_req_t *req, const char *key, uint64_t *refno)
{
    pr_str_t s;
    if (pr_get_str(req->rq->args, key, key, PR_REQUIRED, 1, 64, &s, &req->err) != 0)
        return -1;
    if ((*refno = pr_referral_id_parse(s)) == 0)
        return pr_fail(&req->err, PR_BAD_REQUEST, "%s: must be a referral id such as r-12", key);
    return 0;
}

int
en_op_referral_update(en_req_t *req)
{
    ref_job_t *d = new_job(req);
    if (!d)
        return -1;
    pr_str_t s;
    if (get_referral_id(req, "id", &d->refno) != 0 ||
        pr_get_str(req->rq->args, "status", "status", PR_REQUIRED, 1, 16, &s, &req->err) != 0 ||
        get_note(req, d) != 0) {
        free(d);
        return -1;
    }
    d->status = pr_referral_status_parse(s);
    if (d->status < 0 || d->status == PR_REF_REFERRED) {
        free(d);
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "status: must be interviewed, hired, rejected or withdrawn");
    }
    if (en_job_new(req, d, apply_update, reply_referral) != 0)
        return -1;
    req->job->mem += sizeof *d;
    return 0;
}

/* ---- get and list ----------------------------------------------------- */

int
en_op_referral_get(en_req_t *req)
{
    uint64_t refno;
    if (get_referral_id(req, "id", &refno) != 0)
        return -1;
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    ix_referral_t ix;
    pr_referral_t r;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    rc = load_referral(txn, req->srv->sealer, refno, &zone, &r, &ix);
    ix_read_end(txn);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 1);
        pr_pack_cstr(req->pk, "referral");
        pr_pack_referral(req->pk, &r);
    }
    msgpack_zone_destroy(&zone);
    if (rc == -ENOENT) {
        char id[PR_REF_ID_MAX + 1];
        pr_referral_id_format(id, refno);
        return pr_fail(&req->err, PR_NOT_FOUND, "referral %s not found", id);
    }
    return rc ? referral_read_error(&req->err, refno, rc) : 0;
}

typedef struct ref_page {
    uint32_t n;
    struct {
        uint64_t refno;
        const void *value;
        size_t len;
    } items[LIST_MAX];
} ref_page_t;

static int
collect(void *ctx, const ix_referral_t *r)
{
    ref_page_t *p = ctx;
    p->items[p->n].refno = r->refno;
    p->items[p->n].value = r->value;
    p->items[p->n].len = r->value_len;
    p->n++;
    return 0;
}

int
en_op_referral_list(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    pr_error_t *err = &req->err;
    ix_referral_query_t q = {.status = -1, .max_scan = LIST_MAX_SCAN};
    pr_str_t s;
    int rc;
    if ((rc = pr_get_id(args, "worker", 0, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        q.worker = s.ptr;
        q.worker_len = s.len;
    }
    if ((rc = pr_get_id(args, "vacancy", 0, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        q.vacancy = s.ptr;
        q.vacancy_len = s.len;
    }
    if ((rc = pr_get_str(args, "status", "status", 0, 1, 16, &s, err)) < 0)
        return -1;
    if (rc == 0 && (q.status = pr_referral_status_parse(s)) < 0)
        return pr_fail(err, PR_BAD_REQUEST,
                       "status: must be referred, interviewed, hired, rejected or withdrawn");
    int64_t limit = LIST_DEFAULT;
    if (pr_get_int(args, "limit", "limit", 0, 1, LIST_MAX, &limit, err) < 0)
        return -1;
    q.limit = (uint32_t)limit;
    uint8_t cursor[IX_CURSOR_MAX];
    if ((rc = en_get_cursor(req, cursor, sizeof cursor, &q.cursor_len)) < 0)
        return -1;
    if (rc == 0)
        q.cursor = cursor;

    ref_page_t *page = malloc(sizeof *page);
    if (!page)
        return pr_fail(err, PR_INTERNAL, "out of memory");
    page->n = 0;
    ix_txn_t *txn;
    if ((rc = ix_read_begin(req->srv->ix, &txn)) != 0) {
        free(page);
        return en_storage_error(err, rc);
    }
    uint8_t next[IX_CURSOR_MAX];
    size_t next_len = 0;
    rc = ix_referral_list(txn, &q, collect, page, next, &next_len);
    if (rc == -EINVAL) {
        ix_read_end(txn);
        free(page);
        return pr_fail(err, PR_BAD_REQUEST, "cursor: does not belong to this listing");
    }
    /* Each referral is opened (its notes unsealed) and packed anew, into
     * a buffer of its own until all of them have opened. */
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer body_pk;
    msgpack_packer_init(&body_pk, &body, msgpack_sbuffer_write);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    uint64_t bad = 0;
    for (uint32_t i = 0; rc == 0 && i < page->n; i++) {
        pr_referral_t r;
        rc = en_store_decode_referral(req->srv->sealer, page->items[i].value,
                                      page->items[i].len, &zone, &r);
        if (rc == 0)
            pr_pack_referral(&body_pk, &r);
        else
            bad = page->items[i].refno;
        msgpack_zone_clear(&zone);
    }
    ix_read_end(txn);
    msgpack_zone_destroy(&zone);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 2);
        pr_pack_cstr(req->pk, "referrals");
        msgpack_pack_array(req->pk, page->n);
        en_pack_raw(req->pk, body.data, body.size);
        pr_pack_cstr(req->pk, "cursor");
        en_pack_cursor(req->pk, next, next_len);
    }
    msgpack_sbuffer_destroy(&body);
    free(page);
    return rc ? referral_read_error(err, bad, rc) : 0;
}
