/* ops_sync.c - sync.pull: the changelog after a sequence, with the
 * vacancies it touches, for nodes that follow this one (docs/network.md).
 * Worker entries are never sent: they only advance `next`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "index.h"
#include "record.h"
#include "store.h"

#define SYNC_PULL_DEFAULT 200
#define SYNC_PULL_MAX 1000

typedef struct pull_entry {
    uint64_t seq;
    uint8_t op;
    uint32_t id_len;
    char id[PR_ID_MAX];
} pull_entry_t;

typedef struct pull_page {
    pull_entry_t *entries;
    uint32_t n;
    uint64_t next;   /* the last sequence looked at */
} pull_page_t;

static int
collect(void *ctx, const ix_log_entry_t *e)
{
    pull_page_t *pg = ctx;
    pg->next = e->seq;
    if (e->kind != IX_VACANCY || e->id_len > PR_ID_MAX)
        return 0;
    pull_entry_t *out = &pg->entries[pg->n++];
    out->seq = e->seq;
    out->op = e->op;
    out->id_len = e->id_len;
    memcpy(out->id, e->id, e->id_len);
    return 0;
}

/* Packs one entry; 0 when the vacancy of a put is gone (a later delete
 * entry follows it), 1 when packed, or a negative errno. */
static int
pack_entry(en_req_t *req, ix_txn_t *txn, const pull_entry_t *e, msgpack_zone *zone,
           msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (e->op == IX_LOG_DELETE) {
        msgpack_pack_map(&pk, 3);
        pr_pack_cstr(&pk, "seq");
        msgpack_pack_uint64(&pk, e->seq);
        pr_pack_cstr(&pk, "op");
        pr_pack_cstr(&pk, "delete");
        pr_pack_cstr(&pk, "id");
        pr_pack_str(&pk, (pr_str_t){e->id, e->id_len});
        return 1;
    }
    pr_vacancy_t v;
    int rc = en_store_load_vacancy(txn, e->id, e->id_len, zone, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    if (!v.origin.ptr) {  /* stored before origins: this node's own */
        v.origin.ptr = req->srv->cfg->node;
        v.origin.len = (uint32_t)strlen(req->srv->cfg->node);
    }
    msgpack_pack_map(&pk, 3);
    pr_pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, e->seq);
    pr_pack_cstr(&pk, "op");
    pr_pack_cstr(&pk, "put");
    pr_pack_cstr(&pk, "vacancy");
    pr_pack_vacancy(&pk, &v);
    return 1;
}

int
en_op_sync_pull(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    int64_t after = 0, limit = SYNC_PULL_DEFAULT;
    if (pr_get_int(args, "after", "after", 0, 0, INT64_MAX, &after, &req->err) < 0 ||
        pr_get_int(args, "limit", "limit", 0, 1, SYNC_PULL_MAX, &limit, &req->err) < 0)
        return -1;

    pull_page_t pg = {.next = (uint64_t)after};
    pg.entries = malloc((size_t)limit * sizeof *pg.entries);
    if (!pg.entries)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    ix_txn_t *txn;
    ix_stats_t st;
    uint32_t packed = 0;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc == 0) {
        rc = ix_stats(txn, &st);
        if (rc == 0)
            rc = ix_log_read(txn, (uint64_t)after, (uint32_t)limit, collect, &pg);
        for (uint32_t i = 0; rc == 0 && i < pg.n; i++) {
            int r = pack_entry(req, txn, &pg.entries[i], &zone, &body);
            if (r < 0)
                rc = r;
            else
                packed += (uint32_t)r;
        }
        ix_read_end(txn);
    }
    free(pg.entries);
    msgpack_zone_destroy(&zone);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&body);
        return en_storage_error(&req->err, rc);
    }

    msgpack_packer *pk = req->pk;
    en_reply_ok(req);
    msgpack_pack_map(pk, 4);
    pr_pack_cstr(pk, "node");
    pr_pack_cstr(pk, req->srv->cfg->node);
    pr_pack_cstr(pk, "entries");
    msgpack_pack_array(pk, packed);
    en_pack_raw(pk, body.data, body.size);
    pr_pack_cstr(pk, "next");
    msgpack_pack_uint64(pk, pg.next);
    pr_pack_cstr(pk, "last");
    msgpack_pack_uint64(pk, st.last_seq);
    msgpack_sbuffer_destroy(&body);
    return 0;
}
