/* ops_fair.c - job fairs: fair.create, fair.register, fair.unregister,
 * fair.get and fair.allocate (docs/protocol.md, docs/fairs.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "command.h"
#include "conn.h"
#include "fair.h"
#include "match.h"
#include "match_rules.h"
#include "record.h"
#include "referral.h"
#include "referrals.h"

#define FAIR_NAME_MAX 200
/* Ids one fair.register or fair.unregister may name, per kind. */
#define FAIR_IDS_MAX 50000

static void
fail_no_fair(en_write_t *job, pr_str_t fair)
{
    job->failed = true;
    pr_fail(&job->err, PR_NOT_FOUND, "fair %.*s not found", (int)fair.len, fair.ptr);
}

/* ---- fair.create -------------------------------------------------------- */

typedef struct create_job {
    size_t len;
    char value[];            /* the fair as stored (msgpack) */
} create_job_t;

static int
apply_create(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    (void)sbuf;
    create_job_t *d = job->data;
    int rc = ix_fair_create(txn, job->result.id.ptr, job->result.id.len,
                            d->value, d->len);
    if (rc == -EEXIST) {
        job->failed = true;
        pr_fail(&job->err, PR_CONFLICT, "fair %.*s exists already",
                (int)job->result.id.len, job->result.id.ptr);
        return 0;
    }
    return rc;
}

static void
reply_create(en_write_t *job, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "id");
    pr_pack_str(pk, job->result.id);
    pr_pack_cstr(pk, "created");
    msgpack_pack_true(pk);
}

int
en_op_fair_create(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    pr_str_t id, name, region = {0};
    int64_t date = 0;
    int rc;
    if (pr_get_id(req->rq->args, "id", PR_REQUIRED, &id, &req->err) != 0)
        return -1;
    if (pr_get_str(args, "name", "name", PR_REQUIRED, 1, FAIR_NAME_MAX, &name, &req->err) < 0)
        return -1;
    if ((rc = pr_get_str(args, "region", "region", 0, 6, 6, &region, &req->err)) < 0)
        return -1;
    if (rc == 0 && !pr_region_valid(region.ptr, region.len))
        return pr_fail(&req->err, PR_BAD_REQUEST, "region: must be 6 digits");
    if (pr_get_int(args, "date", "date", 0, 0, 253402300799LL, &date, &req->err) < 0)
        return -1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pr_pack_cstr(&pk, "id");
    pr_pack_str(&pk, id);
    pr_pack_cstr(&pk, "name");
    pr_pack_str(&pk, name);
    pr_pack_cstr(&pk, "region");
    pr_pack_str(&pk, region);
    pr_pack_cstr(&pk, "date");
    msgpack_pack_int64(&pk, date);
    pr_pack_cstr(&pk, "created");
    msgpack_pack_int64(&pk, req->now);
    create_job_t *d = sb.data ? malloc(sizeof *d + sb.size) : NULL;
    if (d) {
        d->len = sb.size;
        memcpy(d->value, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    if (!d)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    if (en_job_new(req, d, apply_create, reply_create) != 0)
        return -1;
    req->job->result.id = id;
    return 0;
}

/* ---- fair.register and fair.unregister ---------------------------------- */

typedef struct members_job {
    bool leave;
    const msgpack_object *ids[2];   /* vacancies, workers (in the job's zone) */
    uint32_t changed[2];
} members_job_t;

static const uint8_t member_kinds[2] = {IX_VACANCY, IX_WORKER};
static const char *const member_keys[2] = {"vacancies", "workers"};

/* Reads args.vacancies and args.workers: arrays of record ids. */
static int
get_member_ids(en_req_t *req, members_job_t *d)
{
    uint32_t total = 0;
    for (int k = 0; k < 2; k++) {
        const msgpack_object *a = pr_map_value(req->rq->args, member_keys[k]);
        if (!a)
            continue;
        if (a->type != MSGPACK_OBJECT_ARRAY)
            return pr_fail(&req->err, PR_BAD_REQUEST, "%s: must be an array of ids", member_keys[k]);
        if (a->via.array.size > FAIR_IDS_MAX)
            return pr_fail(&req->err, PR_BAD_REQUEST, "%s: at most %d ids per request",
                           member_keys[k], FAIR_IDS_MAX);
        for (uint32_t i = 0; i < a->via.array.size; i++) {
            const msgpack_object *o = &a->via.array.ptr[i];
            if (o->type != MSGPACK_OBJECT_STR ||
                !pr_id_valid(o->via.str.ptr, o->via.str.size))
                return pr_fail(&req->err, PR_BAD_REQUEST,
                               "%s[%u]: " PR_ID_RULE, member_keys[k], i);
        }
        d->ids[k] = a;
        total += a->via.array.size;
    }
    if (total == 0)
        return pr_fail(&req->err, PR_BAD_REQUEST, "vacancies or workers: give at least one id");
    return 0;
}

static int
apply_members(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    (void)sbuf;
    members_job_t *d = job->data;
    pr_str_t fair = job->result.id;
    const void *v;
    size_t len;
    int rc = ix_fair_get(txn, fair.ptr, fair.len, &v, &len);
    if (rc == -ENOENT) {
        fail_no_fair(job, fair);
        return 0;
    }
    if (rc != 0)
        return rc;
    /* Every record must exist before anything is written: a refused job
     * leaves the store as it was. */
    for (int k = 0; k < 2 && !d->leave; k++) {
        for (uint32_t i = 0; d->ids[k] && i < d->ids[k]->via.array.size; i++) {
            const msgpack_object_str *s = &d->ids[k]->via.array.ptr[i].via.str;
            ix_record_t rec;
            rc = ix_get(txn, member_kinds[k], s->ptr, s->size, &rec);
            if (rc == -ENOENT) {
                job->failed = true;
                pr_fail(&job->err, PR_NOT_FOUND, "%s[%u]: %s %.*s not found", member_keys[k], i,
                        k == 0 ? "vacancy" : "worker", (int)s->size, s->ptr);
                return 0;
            }
            if (rc != 0)
                return rc;
        }
    }
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; d->ids[k] && i < d->ids[k]->via.array.size; i++) {
            const msgpack_object_str *s = &d->ids[k]->via.array.ptr[i].via.str;
            bool changed;
            rc = d->leave
                ? ix_fair_leave(txn, fair.ptr, fair.len, member_kinds[k], s->ptr, s->size, &changed)
                : ix_fair_join(txn, fair.ptr, fair.len, member_kinds[k], s->ptr, s->size, &changed);
            if (rc != 0)
                return rc;
            d->changed[k] += changed;
        }
    }
    return 0;
}

static void
reply_members(en_write_t *job, msgpack_packer *pk)
{
    members_job_t *d = job->data;
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "fair");
    pr_pack_str(pk, job->result.id);
    pr_pack_cstr(pk, d->leave ? "removed" : "added");
    msgpack_pack_map(pk, 2);
    for (int k = 0; k < 2; k++) {
        pr_pack_cstr(pk, member_keys[k]);
        msgpack_pack_uint32(pk, d->changed[k]);
    }
}

static int
change_members(en_req_t *req, bool leave)
{
    pr_str_t fair;
    if (pr_get_id(req->rq->args, "fair", PR_REQUIRED, &fair, &req->err) != 0)
        return -1;
    members_job_t *d = calloc(1, sizeof *d);
    if (!d)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    d->leave = leave;
    if (get_member_ids(req, d) != 0) {
        free(d);
        return -1;
    }
    if (en_job_new(req, d, apply_members, reply_members) != 0)
        return -1;
    req->job->result.id = fair;
    return 0;
}

int
en_op_fair_register(en_req_t *req)
{
    return change_members(req, false);
}

int
en_op_fair_unregister(en_req_t *req)
{
    return change_members(req, true);
}

/* ---- reading a fair ------------------------------------------------------- */

/* A fair's members as the store lists them: ids point into the read
 * transaction. */
typedef struct member_list {
    uint32_t n[2], cap[2];
    pr_str_t *ids[2];
} member_list_t;

static int
collect_member(void *ctx, uint8_t kind, const char *id, uint32_t id_len)
{
    member_list_t *m = ctx;
    int k = kind == IX_VACANCY ? 0 : 1;
    if (m->n[k] == m->cap[k]) {
        uint32_t cap = m->cap[k] ? m->cap[k] * 2 : 256;
        pr_str_t *p = realloc(m->ids[k], cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        m->ids[k] = p;
        m->cap[k] = cap;
    }
    m->ids[k][m->n[k]++] = (pr_str_t){id, id_len};
    return 0;
}

static void
member_list_free(member_list_t *m)
{
    free(m->ids[0]);
    free(m->ids[1]);
}

/* Reads fair args.fair and its members in txn. */
static int
load_fair(en_req_t *req, ix_txn_t *txn, pr_str_t *fair, const void **value,
          size_t *len, member_list_t *m)
{
    memset(m, 0, sizeof *m);
    if (pr_get_id(req->rq->args, "fair", PR_REQUIRED, fair, &req->err) != 0)
        return -1;
    int rc = ix_fair_get(txn, fair->ptr, fair->len, value, len);
    if (rc == 0)
        rc = ix_fair_members(txn, fair->ptr, fair->len, collect_member, m);
    if (rc == -ENOENT)
        return pr_fail(&req->err, PR_NOT_FOUND, "fair %.*s not found", (int)fair->len, fair->ptr);
    if (rc == -ENOMEM)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    return 0;
}

static void
pack_ids(msgpack_packer *pk, const pr_str_t *ids, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        pr_pack_str(pk, ids[i]);
}

int
en_op_fair_get(en_req_t *req)
{
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    pr_str_t fair;
    const void *value;
    size_t len;
    member_list_t m;
    rc = load_fair(req, txn, &fair, &value, &len, &m);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 3);
        pr_pack_cstr(req->pk, "fair");
        en_pack_raw(req->pk, value, len);
        for (int k = 0; k < 2; k++) {
            pr_pack_cstr(req->pk, member_keys[k]);
            pack_ids(req->pk, m.ids[k], m.n[k]);
        }
    }
    member_list_free(&m);
    ix_read_end(txn);
    return rc;
}

/* ---- fair.allocate ---------------------------------------------------------- */

typedef struct allocation {
    member_list_t m;
    en_party_t *parties[2];           /* vacancies, workers present in the store */
    uint32_t n[2];
    uint32_t *member_of[2];           /* party -> index in m.ids */
    bool *missing[2];                 /* per member: record gone */
    en_fair_prefs_t prefs;
    uint32_t *assigned;
} allocation_t;

static void
allocation_free(allocation_t *a)
{
    member_list_free(&a->m);
    for (int k = 0; k < 2; k++) {
        free(a->parties[k]);
        free(a->member_of[k]);
        free(a->missing[k]);
    }
    en_fair_prefs_free(&a->prefs);
    free(a->assigned);
}

/* Builds the parties of the members whose records exist, in id order. */
static int
load_parties(ix_txn_t *txn, allocation_t *a)
{
    for (int k = 0; k < 2; k++) {
        uint32_t n = a->m.n[k];
        a->parties[k] = malloc(((size_t)n + 1) * sizeof *a->parties[k]);
        a->member_of[k] = malloc(((size_t)n + 1) * sizeof *a->member_of[k]);
        a->missing[k] = calloc((size_t)n + 1, sizeof *a->missing[k]);
        if (!a->parties[k] || !a->member_of[k] || !a->missing[k])
            return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            ix_record_t rec;
            int rc = ix_get(txn, member_kinds[k], a->m.ids[k][i].ptr, a->m.ids[k][i].len, &rec);
            if (rc == -ENOENT) {
                a->missing[k][i] = true;
                continue;
            }
            if (rc != 0)
                return rc;
            en_party_from_record(&a->parties[k][a->n[k]], &rec);
            a->member_of[k][a->n[k]++] = i;
        }
    }
    return 0;
}

/* Packs the allocation as a map of 8 + extra entries (the caller packs
 * the extra ones) and audits the reading of every worker taking part. */
static void
pack_allocation(en_req_t *req, msgpack_packer *pk, pr_str_t fair, int scope, int64_t as_of,
                const allocation_t *a, uint32_t extra)
{
    const en_fair_prefs_t *p = &a->prefs;
    const pr_str_t *vid = a->m.ids[0], *wid = a->m.ids[1];
    uint32_t nw = a->n[1], nv = a->n[0], n_assigned = 0, n_unfilled = 0, n_missing[2] = {0};
    uint32_t *taken = calloc((size_t)nv + 1, sizeof *taken);
    for (uint32_t w = 0; w < nw; w++) {
        if (a->assigned[w] == EN_FAIR_NONE)
            continue;
        n_assigned++;
        if (taken)
            taken[p->prefs[a->assigned[w]].vacancy]++;
    }
    for (uint32_t v = 0; taken && v < nv; v++)
        n_unfilled += taken[v] < p->capacity[v];
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < a->m.n[k]; i++)
            n_missing[k] += a->missing[k][i];

    msgpack_pack_map(pk, 8 + extra);
    pr_pack_cstr(pk, "fair");
    pr_pack_str(pk, fair);
    pr_pack_cstr(pk, "scope");
    pr_pack_cstr(pk, en_scope_name(scope));
    pr_pack_cstr(pk, "as_of");
    msgpack_pack_int64(pk, as_of);
    pr_pack_cstr(pk, "pairs");
    msgpack_pack_uint64(pk, p->start[nw]);

    /* Every worker taking part was read and ranked: each is audited. */
    en_audit_reads_t *audit = en_audit_reads_new(req, nw);
    pr_pack_cstr(pk, "assignments");
    msgpack_pack_array(pk, n_assigned);
    for (uint32_t w = 0; w < nw; w++) {
        if (a->assigned[w] == EN_FAIR_NONE)
            continue;
        const en_fair_pref_t *e = &p->prefs[a->assigned[w]];
        msgpack_pack_map(pk, 4);
        pr_pack_cstr(pk, "worker");
        pr_pack_str(pk, wid[a->member_of[1][w]]);
        en_audit_reads_add(audit, wid[a->member_of[1][w]].ptr, wid[a->member_of[1][w]].len);
        pr_pack_cstr(pk, "vacancy");
        pr_pack_str(pk, vid[a->member_of[0][e->vacancy]]);
        pr_pack_cstr(pk, "worker_score");
        msgpack_pack_double(pk, e->worker_score);
        pr_pack_cstr(pk, "vacancy_score");
        msgpack_pack_double(pk, e->vacancy_score);
    }

    pr_pack_cstr(pk, "unassigned");
    msgpack_pack_array(pk, nw - n_assigned);
    for (uint32_t w = 0; w < nw; w++)
        if (a->assigned[w] == EN_FAIR_NONE) {
            pr_pack_str(pk, wid[a->member_of[1][w]]);
            en_audit_reads_add(audit, wid[a->member_of[1][w]].ptr, wid[a->member_of[1][w]].len);
        }
    en_audit_reads_done(req, audit);

    pr_pack_cstr(pk, "unfilled");
    msgpack_pack_array(pk, n_unfilled);
    for (uint32_t v = 0; taken && v < nv; v++) {
        if (taken[v] >= p->capacity[v])
            continue;
        msgpack_pack_map(pk, 2);
        pr_pack_cstr(pk, "vacancy");
        pr_pack_str(pk, vid[a->member_of[0][v]]);
        pr_pack_cstr(pk, "places");
        msgpack_pack_uint32(pk, p->capacity[v] - taken[v]);
    }

    pr_pack_cstr(pk, "missing");
    msgpack_pack_map(pk, 2);
    for (int k = 0; k < 2; k++) {
        pr_pack_cstr(pk, member_keys[k]);
        msgpack_pack_array(pk, n_missing[k]);
        for (uint32_t i = 0; i < a->m.n[k]; i++)
            if (a->missing[k][i])
                pr_pack_str(pk, a->m.ids[k][i]);
    }
    free(taken);
}

/* ---- fair.allocate with referrals -------------------------------------------- */

/* One assignment to turn into a referral, and what became of it. */
typedef struct refer_pair {
    pr_str_t worker, vacancy;     /* into refer_job_t.strings */
    uint64_t refno;               /* 0 when refused */
    pr_error_t err;
} refer_pair_t;

/* One block (the job frees it with free()): the pairs, their ids and the
 * packed allocation follow the struct. */
typedef struct refer_job {
    const char *allocation;       /* the packed allocation map, one entry short */
    size_t allocation_len;
    char note[PR_ID_MAX + 16];
    uint32_t n;
    refer_pair_t *pairs;
} refer_job_t;

static int
apply_refer(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    refer_job_t *d = job->data;
    pr_str_t note = {d->note, (uint32_t)strlen(d->note)};
    for (uint32_t i = 0; i < d->n; i++) {
        refer_pair_t *p = &d->pairs[i];
        p->refno = 0;
        int rc = en_referral_create(txn, job, p->worker, p->vacancy, note, sbuf, &p->refno,
                                    &p->err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void
reply_refer(en_write_t *job, msgpack_packer *pk)
{
    refer_job_t *d = job->data;
    en_pack_raw(pk, d->allocation, d->allocation_len);
    pr_pack_cstr(pk, "referrals");
    msgpack_pack_array(pk, d->n);
    for (uint32_t i = 0; i < d->n; i++) {
        const refer_pair_t *p = &d->pairs[i];
        msgpack_pack_map(pk, 3);
        pr_pack_cstr(pk, "worker");
        pr_pack_str(pk, p->worker);
        pr_pack_cstr(pk, "vacancy");
        pr_pack_str(pk, p->vacancy);
        if (p->refno) {
            char id[PR_REF_ID_MAX + 1];
            pr_pack_cstr(pk, "referral");
            msgpack_pack_str_with_body(pk, id, pr_referral_id_format(id, p->refno));
        } else {
            pr_pack_cstr(pk, "error");
            msgpack_pack_map(pk, 2);
            pr_pack_cstr(pk, "code");
            pr_pack_cstr(pk, pr_code_name(p->err.code));
            pr_pack_cstr(pk, "message");
            pr_pack_cstr(pk, p->err.message);
        }
    }
}

/* Packs the allocation for the reply and hands the writer a job that
 * refers every assigned worker to its vacancy (docs/fairs.md). */
static int
refer_assignments(en_req_t *req, pr_str_t fair, int scope, int64_t as_of, const allocation_t *a)
{
    const en_fair_prefs_t *p = &a->prefs;
    uint32_t n = 0;
    size_t bytes = 0;
    for (uint32_t w = 0; w < a->n[1]; w++) {
        if (a->assigned[w] == EN_FAIR_NONE)
            continue;
        n++;
        bytes += a->m.ids[1][a->member_of[1][w]].len +
                 a->m.ids[0][a->member_of[0][p->prefs[a->assigned[w]].vacancy]].len;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_allocation(req, &pk, fair, scope, as_of, a, 1);
    size_t size = sizeof(refer_job_t) + (size_t)n * sizeof(refer_pair_t) + bytes + sb.size;
    refer_job_t *d = sb.data ? calloc(1, size) : NULL;
    if (!d) {
        msgpack_sbuffer_destroy(&sb);
        return -ENOMEM;
    }
    d->n = n;
    d->pairs = (refer_pair_t *)(d + 1);
    char *at = (char *)(d->pairs + n);
    memcpy(at, sb.data, sb.size);
    d->allocation = at;
    d->allocation_len = sb.size;
    at += sb.size;
    msgpack_sbuffer_destroy(&sb);
    /* Notes are stored sealed: a server without a secret key refers
     * without one. */
    if (req->srv->sealer)
        snprintf(d->note, sizeof d->note, "job fair %.*s", (int)fair.len, fair.ptr);
    uint32_t k = 0;
    for (uint32_t w = 0; w < a->n[1]; w++) {
        if (a->assigned[w] == EN_FAIR_NONE)
            continue;
        pr_str_t ids[2] = {a->m.ids[1][a->member_of[1][w]],
                           a->m.ids[0][a->member_of[0][p->prefs[a->assigned[w]].vacancy]]};
        pr_str_t *dst[2] = {&d->pairs[k].worker, &d->pairs[k].vacancy};
        for (int i = 0; i < 2; i++) {
            memcpy(at, ids[i].ptr, ids[i].len);
            *dst[i] = (pr_str_t){at, ids[i].len};
            at += ids[i].len;
        }
        k++;
    }
    if (en_job_new(req, d, apply_refer, reply_refer) != 0)
        return -ENOMEM;
    req->job->mem += size;
    return 0;
}

int
en_op_fair_allocate(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    int scope = EN_SCOPE_ALL;
    int64_t as_of = req->now;
    int rc;
    if (en_match_read_scope(req, &scope) != 0)
        return -1;
    if (pr_get_int(args, "as_of", "as_of", 0, -62135596800LL, 253402300799LL, &as_of,
                   &req->err) < 0)
        return -1;
    bool refer = false;
    if (pr_get_bool(args, "referrals", "referrals", 0, &refer, &req->err) < 0)
        return -1;

    ix_txn_t *txn;
    if ((rc = ix_read_begin(req->srv->ix, &txn)) != 0)
        return en_storage_error(&req->err, rc);
    allocation_t a;
    memset(&a, 0, sizeof a);
    pr_str_t fair;
    const void *value;
    size_t len;
    rc = load_fair(req, txn, &fair, &value, &len, &a.m);
    if (rc == 0) {
        rc = load_parties(txn, &a);
        if (rc == 0)
            rc = en_fair_build(txn, a.parties[1], a.n[1], a.parties[0], a.n[0], scope, as_of,
                               &a.prefs);
        if (rc == 0 && !(a.assigned = malloc(((size_t)a.n[1] + 1) * sizeof *a.assigned)))
            rc = -ENOMEM;
        if (rc == 0)
            rc = en_fair_allocate(&a.prefs, a.assigned);
        if (rc == 0 && refer) {
            rc = refer_assignments(req, fair, scope, as_of, &a);
        } else if (rc == 0) {
            en_reply_ok(req);
            pack_allocation(req, req->pk, fair, scope, as_of, &a, 0);
        }
        if (rc == -ENOMEM)
            rc = pr_fail(&req->err, PR_INTERNAL, "out of memory");
        else if (rc != 0)
            rc = en_storage_error(&req->err, rc);
    }
    allocation_free(&a);
    ix_read_end(txn);
    return rc;
}
