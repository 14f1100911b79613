/* ops_records.c - vacancy.* and worker.* operations: put, put_many, get,
 * delete, close and list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "command.h"
#include "conn.h"
#include "index.h"
#include "record.h"
#include "store.h"

#define EN_PUT_MANY_MAX 10000
#define EN_PUT_MANY_ERRORS 100
#define EN_RECORD_MIN_BYTES 30
#define EN_LIST_DEFAULT 100
#define EN_LIST_MAX 1000
#define EN_LIST_MAX_SCAN 100000

static const msgpack_object *
get_record_arg(en_req_t *req, const char *key)
{
    const msgpack_object *o = pr_map_value(req->rq->args, key);
    if (!o) {
        pr_fail(&req->err, PR_BAD_REQUEST, "%s: required", key);
        return NULL;
    }
    return o;
}

/* Counselors and admins see a worker's personal fields; nobody else. */
static bool
sees_personal(const en_req_t *req)
{
    return (req->conn->role & (EN_ROLE_COUNSELOR | EN_ROLE_ADMIN)) != 0;
}

/* A stored worker that cannot be answered with: told plainly, and logged
 * (the id only, never a personal field). */
static int
worker_read_error(en_req_t *req, const char *id, uint32_t id_len, int rc)
{
    char record[PR_ID_MAX + 16];
    snprintf(record, sizeof record, "worker %.*s", (int)id_len, id);
    return en_read_error(&req->err, record, "personal fields", rc);
}

/* Personal fields are never stored in clear: without a secret key to seal
 * them, a worker that has any is refused. */
static int
check_sealable(const en_req_t *req, const pr_worker_t *w, const char *path,
               pr_error_t *err)
{
    if (req->srv->sealer)
        return 0;
    const char *field = w->name.ptr          ? "name"
                        : w->national_id.ptr ? "national_id"
                        : w->phone.ptr       ? "phone"
                                             : NULL;
    if (!field)
        return 0;
    return pr_fail(err, PR_BAD_REQUEST,
                   "%s.%s: personal fields cannot be stored: the server has no "
                   "secret key (secret_key_file) to seal them with",
                   path, field);
}

/* ---- origin ----------------------------------------------------------- */

/* A vacancy received from another node changes only by replication from
 * there (docs/network.md): a local write to it is refused. Returns 1 with
 * the job failed (conflict), 0 when the vacancy is this node's or absent,
 * or a negative errno from the store. *filled, when filled is not NULL,
 * gets the stored vacancy's filled count (0 when absent): a put carries
 * it over, since a client cannot set it. */
static int
refuse_foreign(ix_txn_t *txn, en_write_t *job, pr_str_t id, int64_t *filled)
{
    char origin[PR_ID_MAX + 1];
    if (filled)
        *filled = 0;
    int rc = en_store_vacancy_origin(txn, id.ptr, id.len, origin, filled);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    const char *node = job->worker->srv->cfg->node;
    if (origin[0] == '\0' || strcmp(origin, node) == 0)
        return 0;
    job->failed = true;
    pr_fail(&job->err, PR_CONFLICT,
            "vacancy %.*s belongs to node %s and is read-only here: change it at %s",
            (int)id.len, id.ptr, origin, origin);
    return 1;
}

/* The origin of a vacancy written here: this node. */
static void
stamp_origin(const en_req_t *req, pr_vacancy_t *v)
{
    v->origin.ptr = req->srv->cfg->node;
    v->origin.len = (uint32_t)strlen(req->srv->cfg->node);
}

/* ---- put -------------------------------------------------------------- */

static void
reply_put(en_write_t *job, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "id");
    pr_pack_str(pk, job->result.id);
    pr_pack_cstr(pk, "created");
    if (job->result.created)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static int
apply_vacancy_put(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    pr_vacancy_t *v = job->data;
    int rc = refuse_foreign(txn, job, v->id, &v->filled);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    return en_store_rewrite_vacancy(txn, v, EN_VACANCY_PUT, job->now, sbuf, &job->result.created);
}

static int
apply_worker_put(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    const pr_worker_t *w = job->data;
    int rc = en_store_put_worker(txn, job->worker->srv->sealer, w, job->now, sbuf,
                                 &job->result.created);
    return rc ? rc : en_audit_change(txn, job, w->id);
}

/* vacancy.put and worker.put: validate, then hand the record to the
 * writer. */
static int
put_one(en_req_t *req, uint8_t kind)
{
    const char *key = kind == IX_VACANCY ? "vacancy" : "worker";
    const msgpack_object *o = get_record_arg(req, key);
    if (!o)
        return -1;
    void *rec = malloc(kind == IX_VACANCY ? sizeof(pr_vacancy_t) : sizeof(pr_worker_t));
    if (!rec)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    int rc = kind == IX_VACANCY
                 ? pr_vacancy_decode(o, key, 0, req->now, rec, &req->err)
                 : pr_worker_decode(o, key, 0, req->now, rec, &req->err);
    if (rc == 0 && kind == IX_WORKER)
        rc = check_sealable(req, rec, key, &req->err);
    if (rc != 0) {
        free(rec);
        return -1;
    }
    if (kind == IX_VACANCY)
        stamp_origin(req, rec);
    if (en_job_new(req, rec, kind == IX_VACANCY ? apply_vacancy_put : apply_worker_put,
                   reply_put) != 0)
        return -1;
    req->job->result.id = kind == IX_VACANCY ? ((pr_vacancy_t *)rec)->id
                                             : ((pr_worker_t *)rec)->id;
    return 0;
}

int
en_op_vacancy_put(en_req_t *req)
{
    return put_one(req, IX_VACANCY);
}

int
en_op_worker_put(en_req_t *req)
{
    return put_one(req, IX_WORKER);
}

/* ---- put_many --------------------------------------------------------- */

typedef struct record_batch {
    uint32_t n;
    uint8_t kind;
    union {
        pr_vacancy_t *vacancies;
        pr_worker_t *workers;
    } u;
} record_batch_t;

static void
reply_put_many(en_write_t *job, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "count");
    msgpack_pack_uint32(pk, job->result.count);
    pr_pack_cstr(pk, "created");
    msgpack_pack_uint32(pk, job->result.created_n);
    pr_pack_cstr(pk, "replaced");
    msgpack_pack_uint32(pk, job->result.replaced_n);
}

static int
apply_put_many(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    record_batch_t *b = job->data;
    job->result.count = b->n;
    job->result.created_n = job->result.replaced_n = 0;
    /* All or nothing: every vacancy is checked before any is written. */
    for (uint32_t i = 0; b->kind == IX_VACANCY && i < b->n; i++) {
        int rc = refuse_foreign(txn, job, b->u.vacancies[i].id, &b->u.vacancies[i].filled);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    for (uint32_t i = 0; i < b->n; i++) {
        bool created = false;
        int rc = b->kind == IX_VACANCY
                     ? en_store_rewrite_vacancy(txn, &b->u.vacancies[i], EN_VACANCY_PUT, job->now, sbuf,
                                                &created)
                     : en_store_put_worker(txn, job->worker->srv->sealer, &b->u.workers[i],
                                           job->now, sbuf, &created);
        if (rc == 0 && b->kind == IX_WORKER)
            rc = en_audit_change(txn, job, b->u.workers[i].id);
        if (rc != 0)
            return rc;
        if (created)
            job->result.created_n++;
        else
            job->result.replaced_n++;
    }
    return 0;
}

/* Answers a batch with rejected records: bad_request, with the first
 * EN_PUT_MANY_ERRORS of them listed as {"index", "message"}. */
static void
pack_batch_errors(en_req_t *req, const char *key, uint32_t n_total, uint32_t n_bad,
                  const uint32_t *idx, const pr_error_t *errs, uint32_t n_listed)
{
    msgpack_packer *pk = req->pk;
    char message[PR_MESSAGE_MAX];
    req->err.code = PR_BAD_REQUEST;  /* answered here, but counted as an error */
    snprintf(message, sizeof message, "%u of %u %s break a rule, nothing was written; first: %.150s",
             n_bad, n_total, key, errs[0].message);
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, req->rq->id);
    pr_pack_cstr(pk, "ok");
    msgpack_pack_false(pk);
    pr_pack_cstr(pk, "error");
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "code");
    pr_pack_cstr(pk, pr_code_name(PR_BAD_REQUEST));
    pr_pack_cstr(pk, "message");
    pr_pack_cstr(pk, message);
    pr_pack_cstr(pk, "errors");
    msgpack_pack_array(pk, n_listed);
    for (uint32_t i = 0; i < n_listed; i++) {
        msgpack_pack_map(pk, 2);
        pr_pack_cstr(pk, "index");
        msgpack_pack_uint32(pk, idx[i]);
        pr_pack_cstr(pk, "message");
        pr_pack_cstr(pk, errs[i].message);
    }
}

static int
put_many(en_req_t *req, uint8_t kind)
{
    const char *key = kind == IX_VACANCY ? "vacancies" : "workers";
    const msgpack_object *arr = get_record_arg(req, key);
    if (!arr)
        return -1;
    if (arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size < 1 ||
        arr->via.array.size > EN_PUT_MANY_MAX)
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "%s: must be an array of 1..%d records", key, EN_PUT_MANY_MAX);
    uint32_t n = arr->via.array.size;
    /* Decoded records are far larger than encoded ones: refuse a count the
     * frame's bytes cannot hold as valid records before allocating for it.
     * The smallest valid worker encodes in 34 bytes, a vacancy in 61. */
    if (req->frame_len < (size_t)n * EN_RECORD_MIN_BYTES)
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "%s: %u records in so few bytes cannot be valid records", key, n);
    size_t rec_size = kind == IX_VACANCY ? sizeof(pr_vacancy_t) : sizeof(pr_worker_t);
    record_batch_t *b = malloc(sizeof *b + (size_t)n * rec_size);
    pr_error_t *errs = malloc(EN_PUT_MANY_ERRORS * sizeof *errs);
    uint32_t idx[EN_PUT_MANY_ERRORS];
    if (!b || !errs) {
        free(b);
        free(errs);
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    }
    b->n = n;
    b->kind = kind;
    b->u.vacancies = (void *)(b + 1);
    uint32_t n_bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "%s[%u]", key, i);
        pr_error_t scratch;
        pr_error_t *e = n_bad < EN_PUT_MANY_ERRORS ? &errs[n_bad] : &scratch;
        int rc = kind == IX_VACANCY
                     ? pr_vacancy_decode(&arr->via.array.ptr[i], path, 0, req->now,
                                         &b->u.vacancies[i], e)
                     : pr_worker_decode(&arr->via.array.ptr[i], path, 0, req->now,
                                        &b->u.workers[i], e);
        if (rc == 0 && kind == IX_WORKER)
            rc = check_sealable(req, &b->u.workers[i], path, e);
        if (rc == 0 && kind == IX_VACANCY)
            stamp_origin(req, &b->u.vacancies[i]);
        if (rc != 0) {
            if (n_bad < EN_PUT_MANY_ERRORS)
                idx[n_bad] = i;
            n_bad++;
        }
    }
    if (n_bad) {
        uint32_t listed = n_bad < EN_PUT_MANY_ERRORS ? n_bad : EN_PUT_MANY_ERRORS;
        pack_batch_errors(req, key, n, n_bad, idx, errs, listed);
        free(b);
        free(errs);
        return 0;
    }
    free(errs);
    if (en_job_new(req, b, apply_put_many, reply_put_many) != 0)
        return -1;
    req->job->mem += sizeof *b + (size_t)n * rec_size;
    req->job->entries = n;
    return 0;
}

int
en_op_vacancy_put_many(en_req_t *req)
{
    return put_many(req, IX_VACANCY);
}

int
en_op_worker_put_many(en_req_t *req)
{
    return put_many(req, IX_WORKER);
}

/* ---- get -------------------------------------------------------------- */

static int
get_record(en_req_t *req, uint8_t kind)
{
    pr_str_t id;
    if (pr_get_id(req->rq->args, "id", PR_REQUIRED, &id, &req->err) != 0)
        return -1;
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    ix_record_t rec;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    rc = ix_get(txn, kind, id.ptr, id.len, &rec);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 1);
        pr_pack_cstr(req->pk, kind == IX_VACANCY ? "vacancy" : "worker");
        if (kind == IX_VACANCY)
            en_pack_raw(req->pk, rec.value, rec.value_len);
        else
            rc = en_store_pack_worker(req->pk, req->srv->sealer, &rec, sees_personal(req), &zone);
        if (kind == IX_WORKER && rc == 0)
            en_audit_read(req, id.ptr, id.len);
    }
    ix_read_end(txn);
    msgpack_zone_destroy(&zone);
    if (rc == -ENOENT)
        return pr_fail(&req->err, PR_NOT_FOUND, "%s %.*s not found",
                       kind == IX_VACANCY ? "vacancy" : "worker", (int)id.len, id.ptr);
    if (rc != 0 && kind == IX_WORKER)
        return worker_read_error(req, id.ptr, id.len, rc);
    return rc ? en_storage_error(&req->err, rc) : 0;
}

int
en_op_vacancy_get(en_req_t *req)
{
    return get_record(req, IX_VACANCY);
}

int
en_op_worker_get(en_req_t *req)
{
    return get_record(req, IX_WORKER);
}

/* ---- delete and close ------------------------------------------------- */

typedef struct id_job {
    uint8_t kind;
} id_job_t;

static void
reply_deleted(en_write_t *job, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "id");
    pr_pack_str(pk, job->result.id);
    pr_pack_cstr(pk, "deleted");
    msgpack_pack_true(pk);
}

static void
fail_not_found(en_write_t *job, uint8_t kind)
{
    job->failed = true;
    pr_fail(&job->err, PR_NOT_FOUND, "%s %.*s not found",
            kind == IX_VACANCY ? "vacancy" : "worker",
            (int)job->result.id.len, job->result.id.ptr);
}

static int
apply_delete(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    (void)sbuf;
    id_job_t *d = job->data;
    int rc = d->kind == IX_VACANCY ? refuse_foreign(txn, job, job->result.id, NULL) : 0;
    if (rc != 0)
        return rc < 0 ? rc : 0;
    rc = ix_delete(txn, d->kind, job->result.id.ptr, job->result.id.len, job->now);
    if (rc == -ENOENT) {
        fail_not_found(job, d->kind);
        return 0;
    }
    if (rc == 0 && d->kind == IX_WORKER)
        rc = en_audit_change(txn, job, job->result.id);
    return rc;
}

static int
delete_record(en_req_t *req, uint8_t kind)
{
    pr_str_t id;
    if (pr_get_id(req->rq->args, "id", PR_REQUIRED, &id, &req->err) != 0)
        return -1;
    id_job_t *d = malloc(sizeof *d);
    if (!d)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    d->kind = kind;
    if (en_job_new(req, d, apply_delete, reply_deleted) != 0)
        return -1;
    req->job->result.id = id;
    return 0;
}

int
en_op_vacancy_delete(en_req_t *req)
{
    return delete_record(req, IX_VACANCY);
}

int
en_op_worker_delete(en_req_t *req)
{
    return delete_record(req, IX_WORKER);
}

static void
reply_closed(en_write_t *job, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "id");
    pr_pack_str(pk, job->result.id);
    pr_pack_cstr(pk, "status");
    pr_pack_cstr(pk, pr_vacancy_status_name(PR_VACANCY_CLOSED));
}

static int
apply_close(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    pr_vacancy_t *v = job->data;
    int rc = refuse_foreign(txn, job, job->result.id, NULL);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    rc = en_store_load_vacancy(txn, job->result.id.ptr, job->result.id.len, job->zone, v);
    if (rc == -ENOENT) {
        fail_not_found(job, IX_VACANCY);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (v->status == PR_VACANCY_CLOSED)
        return 0;  /* already closed: nothing to write or log */
    v->status = PR_VACANCY_CLOSED;
    bool created;
    return en_store_rewrite_vacancy(txn, v, EN_VACANCY_STATE, job->now, sbuf, &created);
}

int
en_op_vacancy_close(en_req_t *req)
{
    pr_str_t id;
    if (pr_get_id(req->rq->args, "id", PR_REQUIRED, &id, &req->err) != 0)
        return -1;
    pr_vacancy_t *v = malloc(sizeof *v);
    if (!v)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    if (en_job_new(req, v, apply_close, reply_closed) != 0)
        return -1;
    req->job->result.id = id;
    return 0;
}

/* ---- list ------------------------------------------------------------- */

typedef struct list_page {
    uint32_t n;
    struct {
        const void *value;
        size_t len;
        const char *id;
        uint32_t id_len;
    } items[EN_LIST_MAX];
} list_page_t;

static int
collect(void *ctx, const ix_record_t *rec)
{
    list_page_t *p = ctx;
    p->items[p->n].value = rec->value;
    p->items[p->n].len = rec->value_len;
    p->items[p->n].id = rec->id;
    p->items[p->n].id_len = rec->id_len;
    p->n++;
    return p->n == EN_LIST_MAX;
}

static int
list_records(en_req_t *req, uint8_t kind)
{
    const msgpack_object *args = req->rq->args;
    pr_error_t *err = &req->err;
    ix_list_query_t q = {.kind = kind, .status = -1, .category = -1,
                         .max_scan = EN_LIST_MAX_SCAN};
    pr_str_t s;
    int rc;

    if ((rc = pr_get_str(args, "region", "region", 0, 1, 6, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        for (uint32_t i = 0; i < s.len; i++)
            if (s.ptr[i] < '0' || s.ptr[i] > '9')
                return pr_fail(err, PR_BAD_REQUEST, "region: must be 1 to 6 digits");
        q.region_prefix = s.ptr;
        q.region_prefix_len = s.len;
    }
    if ((rc = pr_get_str(args, "occupation", "occupation", 0, 1, PR_OCCUPATION_LEN, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        if (!pr_occupation_prefix_valid(s.ptr, s.len))
            return pr_fail(err, PR_BAD_REQUEST,
                           "occupation: must be a code or level prefix such as 6, 6-05, 6-05-02 or 6-05-02-03");
        q.occupation_prefix = s.ptr;
        q.occupation_prefix_len = s.len;
    }
    if ((rc = pr_get_str(args, "status", "status", 0, 1, 16, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        q.status = kind == IX_VACANCY ? pr_vacancy_status_parse(s) : pr_worker_status_parse(s);
        if (q.status < 0)
            return pr_fail(err, PR_BAD_REQUEST, kind == IX_VACANCY
                           ? "status: must be open or closed"
                           : "status: must be available, employed or inactive");
    }
    /* A worker of the category; a vacancy giving it priority. */
    if ((rc = pr_get_str(args, "category", "category", 0, 1, 16, &s, err)) < 0)
        return -1;
    if (rc == 0 && (q.category = pr_category_parse(s)) < 0)
        return pr_fail(err, PR_BAD_REQUEST,
                       "category: must be laid_off, unemployed, graduate, migrant or other");
    int64_t limit = EN_LIST_DEFAULT;
    if (pr_get_int(args, "limit", "limit", 0, 1, EN_LIST_MAX, &limit, err) < 0)
        return -1;
    q.limit = (uint32_t)limit;
    uint8_t cursor[IX_CURSOR_MAX];
    size_t cursor_len;
    if ((rc = en_get_cursor(req, cursor, IX_CURSOR_MAX, &cursor_len)) < 0)
        return -1;
    if (rc == 0) {
        q.cursor = cursor;
        q.cursor_len = cursor_len;
    }

    list_page_t *page = malloc(sizeof *page);
    if (!page)
        return pr_fail(err, PR_INTERNAL, "out of memory");
    page->n = 0;
    ix_txn_t *txn;
    rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0) {
        free(page);
        return en_storage_error(err, rc);
    }
    uint8_t next[IX_CURSOR_MAX];
    size_t next_len = 0;
    uint32_t bad = EN_LIST_MAX;  /* the worker that could not be packed */
    rc = ix_list(txn, &q, collect, page, next, &next_len);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 2);
        pr_pack_cstr(req->pk, kind == IX_VACANCY ? "vacancies" : "workers");
        msgpack_pack_array(req->pk, page->n);
        msgpack_zone zone;
        msgpack_zone_init(&zone, 2048);
        for (uint32_t i = 0; i < page->n && rc == 0; i++) {
            if (kind == IX_VACANCY) {
                en_pack_raw(req->pk, page->items[i].value, page->items[i].len);
                continue;
            }
            ix_record_t rec = {.kind = kind, .id = page->items[i].id,
                               .id_len = page->items[i].id_len,
                               .value = page->items[i].value,
                               .value_len = page->items[i].len};
            rc = en_store_pack_worker(req->pk, req->srv->sealer, &rec, sees_personal(req), &zone);
            if (rc != 0)
                bad = i;
            msgpack_zone_clear(&zone);
        }
        msgpack_zone_destroy(&zone);
        pr_pack_cstr(req->pk, "cursor");
        en_pack_cursor(req->pk, next, next_len);
        if (kind == IX_WORKER && rc == 0) {
            en_audit_reads_t *a = en_audit_reads_new(req, page->n);
            for (uint32_t i = 0; i < page->n; i++)
                en_audit_reads_add(a, page->items[i].id, page->items[i].id_len);
            en_audit_reads_done(req, a);
        }
    }
    /* The id lives in the snapshot: report before ending it. */
    bool worker_failed = rc != 0 && bad < page->n;
    if (worker_failed)
        worker_read_error(req, page->items[bad].id, page->items[bad].id_len, rc);
    ix_read_end(txn);
    free(page);
    if (worker_failed)
        return -1;
    if (rc == -EINVAL)
        return pr_fail(err, PR_BAD_REQUEST, "cursor: does not belong to this listing");
    return rc ? en_storage_error(err, rc) : 0;
}

int
en_op_vacancy_list(en_req_t *req)
{
    return list_records(req, IX_VACANCY);
}

int
en_op_worker_list(en_req_t *req)
{
    return list_records(req, IX_WORKER);
}
