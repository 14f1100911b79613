/* audit.c - audit entries for worker reads and changes. */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conn.h"
#include "log.h"

struct en_audit_reads {
    char actor[EN_KEY_NAME_MAX];
    unsigned role;
    char op[IX_AUDIT_STR_MAX];
    uint32_t op_len;
    int64_t now;
    uint32_t n, max;
    uint32_t used;                 /* bytes of ids in use */
    /* n entries of | len (1) | id (len) |, at most max of them */
    uint8_t ids[];
};

static int
append(ix_txn_t *txn, const char *actor, unsigned role, const char *op,
       uint32_t op_len, int64_t now, const char *id, uint32_t len)
{
    const char *role_name = en_role_name(role);
    ix_audit_t e = {
        .time = now,
        .actor = actor,
        .actor_len = (uint32_t)strlen(actor),
        .role = role_name,
        .role_len = (uint32_t)strlen(role_name),
        .op = op,
        .op_len = op_len,
        .kind = IX_WORKER,
        .subject = id,
        .subject_len = len,
    };
    return ix_audit_append(txn, &e);
}

int
en_audit_change(ix_txn_t *txn, const en_write_t *job, pr_str_t id)
{
    return append(txn, job->actor, job->role, job->op.ptr, job->op.len,
                  job->now, id.ptr, id.len);
}

en_audit_reads_t *
en_audit_reads_new(const en_req_t *req, uint32_t max)
{
    en_audit_reads_t *a = malloc(sizeof *a + (size_t)max * (1 + IX_ID_MAX));
    if (!a) {
        en_error("out of memory: %s reads of workers go unaudited",
                 req->conn->key_name[0] ? req->conn->key_name : "anonymous");
        return NULL;
    }
    snprintf(a->actor, sizeof a->actor, "%s", req->conn->key_name);
    a->role = req->conn->role;
    a->op_len = req->rq->op.len < sizeof a->op ? req->rq->op.len : sizeof a->op;
    memcpy(a->op, req->rq->op.ptr, a->op_len);
    a->now = req->now;
    a->n = 0;
    a->max = max;
    a->used = 0;
    return a;
}

void
en_audit_reads_add(en_audit_reads_t *a, const char *id, uint32_t len)
{
    if (!a || a->n == a->max || len == 0 || len > IX_ID_MAX)
        return;
    a->ids[a->used] = (uint8_t)len;
    memcpy(a->ids + a->used + 1, id, len);
    a->used += 1 + len;
    a->n++;
}

static int
apply_reads(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    (void)sbuf;
    const en_audit_reads_t *a = job->data;
    uint32_t off = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        uint32_t len = a->ids[off];
        int rc = append(txn, a->actor, a->role, a->op, a->op_len, a->now,
                        (const char *)a->ids + off + 1, len);
        if (rc != 0)
            return rc;
        off += 1 + len;
    }
    return 0;
}

void
en_audit_reads_done(en_req_t *req, en_audit_reads_t *a)
{
    if (!a)
        return;
    if (a->n == 0) {
        free(a);
        return;
    }
    en_write_t *job = calloc(1, sizeof *job);
    if (!job) {
        en_error("out of memory: %u reads of workers by %s go unaudited", a->n,
                 a->actor[0] ? a->actor : "anonymous");
        free(a);
        return;
    }
    /* No connection: nobody waits for this job; the writer frees it. */
    job->now = a->now;
    job->apply = apply_reads;
    job->data = a;
    job->entries = a->n;
    req->audit = job;
}

void
en_audit_read(en_req_t *req, const char *id, uint32_t len)
{
    en_audit_reads_t *a = en_audit_reads_new(req, 1);
    en_audit_reads_add(a, id, len);
    en_audit_reads_done(req, a);
}
