/* ops_audit.c - audit.list: pages of the audit trail, filtered by worker,
 * key name and time. */
#include <stdint.h>

#include "command.h"
#include "index.h"
#include "record.h"

#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX 1000
#define AUDIT_LIST_MAX_SCAN 100000

typedef struct audit_page {
    msgpack_packer *pk;
    msgpack_sbuffer body;      /* the entries, packed as they come */
    uint32_t n;
} audit_page_t;

static void
pack_counted(msgpack_packer *pk, const char *key, const char *s, uint32_t len)
{
    pr_pack_cstr(pk, key);
    msgpack_pack_str_with_body(pk, s, len);
}

static int
pack_entry(void *ctx, const ix_audit_t *e)
{
    audit_page_t *p = ctx;
    msgpack_packer *pk = p->pk;
    msgpack_pack_map(pk, 6);
    pr_pack_cstr(pk, "seq");
    msgpack_pack_uint64(pk, e->seq);
    pr_pack_cstr(pk, "time");
    msgpack_pack_int64(pk, e->time);
    pr_pack_cstr(pk, "key");
    if (e->actor_len)
        msgpack_pack_str_with_body(pk, e->actor, e->actor_len);
    else
        msgpack_pack_nil(pk);
    pack_counted(pk, "role", e->role, e->role_len);
    pack_counted(pk, "op", e->op, e->op_len);
    pack_counted(pk, "worker", e->subject, e->subject_len);
    p->n++;
    return 0;
}

int
en_op_audit_list(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    pr_error_t *err = &req->err;
    ix_audit_query_t q = {.kind = IX_WORKER, .since = INT64_MIN, .until = INT64_MAX,
                          .max_scan = AUDIT_LIST_MAX_SCAN};
    pr_str_t s;
    int rc;
    if ((rc = pr_get_id(args, "worker", 0, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        q.subject = s.ptr;
        q.subject_len = s.len;
    }
    if ((rc = pr_get_str(args, "key", "key", 0, 1, IX_AUDIT_STR_MAX, &s, err)) < 0)
        return -1;
    if (rc == 0) {
        q.actor = s.ptr;
        q.actor_len = s.len;
    }
    if (pr_get_int(args, "since", "since", 0, INT64_MIN, INT64_MAX, &q.since, err) < 0 ||
        pr_get_int(args, "until", "until", 0, INT64_MIN, INT64_MAX, &q.until, err) < 0)
        return -1;
    int64_t limit = AUDIT_LIST_DEFAULT;
    if (pr_get_int(args, "limit", "limit", 0, 1, AUDIT_LIST_MAX, &limit, err) < 0)
        return -1;
    q.limit = (uint32_t)limit;
    uint8_t cursor[IX_AUDIT_CURSOR_LEN];
    size_t cursor_len;
    if ((rc = en_get_cursor(req, cursor, sizeof cursor, &cursor_len)) < 0)
        return -1;
    if (rc == 0) {
        if (cursor_len != IX_AUDIT_CURSOR_LEN)
            return pr_fail(err, PR_BAD_REQUEST, "cursor: does not belong to this listing");
        q.cursor = cursor;
        q.cursor_len = cursor_len;
    }

    /* Entries are packed into a buffer of their own, since the array's
     * length is known only at the end. */
    audit_page_t page = {.n = 0};
    msgpack_packer body_pk;
    msgpack_sbuffer_init(&page.body);
    msgpack_packer_init(&body_pk, &page.body, msgpack_sbuffer_write);
    page.pk = &body_pk;
    ix_txn_t *txn;
    rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&page.body);
        return en_storage_error(err, rc);
    }
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len = 0;
    rc = ix_audit_list(txn, &q, pack_entry, &page, next, &next_len);
    ix_read_end(txn);
    if (rc == 0) {
        en_reply_ok(req);
        msgpack_pack_map(req->pk, 2);
        pr_pack_cstr(req->pk, "entries");
        msgpack_pack_array(req->pk, page.n);
        en_pack_raw(req->pk, page.body.data, page.body.size);
        pr_pack_cstr(req->pk, "cursor");
        en_pack_cursor(req->pk, next, next_len);
    }
    msgpack_sbuffer_destroy(&page.body);
    return rc ? en_storage_error(err, rc) : 0;
}
