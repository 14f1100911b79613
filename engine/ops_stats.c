/* ops_stats.c - admin.stats: the daemon's own counts (stats.h). */
#include "command.h"
#include "stats.h"

static void
pack_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    pr_pack_cstr(pk, key);
    msgpack_pack_uint64(pk, v);
}

static void
pack_quantiles(msgpack_packer *pk, const en_hist_sum_t *h, double scale)
{
    static const struct {
        const char *key;
        double q;
    } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
    msgpack_pack_map(pk, 5);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        pr_pack_cstr(pk, qs[i].key);
        msgpack_pack_double(pk, (double)en_hist_quantile(h, qs[i].q) / scale);
    }
    pr_pack_cstr(pk, "max");
    msgpack_pack_double(pk, (double)h->max / scale);
    pr_pack_cstr(pk, "mean");
    msgpack_pack_double(pk, h->count ? (double)h->sum / (double)h->count / scale : 0.0);
}

static void
pack_op(msgpack_packer *pk, const en_op_report_t *op)
{
    unsigned codes = 0;
    for (unsigned c = 1; c < PR_CODE_COUNT; c++)
        codes += op->by_code[c] != 0;
    msgpack_pack_map(pk, 4);
    pack_u64(pk, "requests", op->requests);
    pack_u64(pk, "errors", op->errors);
    pr_pack_cstr(pk, "by_code");
    msgpack_pack_map(pk, codes);
    for (unsigned c = 1; c < PR_CODE_COUNT; c++)
        if (op->by_code[c])
            pack_u64(pk, pr_code_name((pr_code_t)c), op->by_code[c]);
    pr_pack_cstr(pk, "latency_us");
    pack_quantiles(pk, &op->latency, 1000.0);
}

int
en_op_admin_stats(en_req_t *req)
{
    en_report_t r;
    int rc = en_report(req->srv, &r);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    msgpack_packer *pk = req->pk;
    en_reply_ok(req);
    msgpack_pack_map(pk, 7);
    pack_u64(pk, "uptime", (uint64_t)r.uptime);
    pack_u64(pk, "started", (uint64_t)r.started);

    pr_pack_cstr(pk, "connections");
    msgpack_pack_map(pk, 3);
    pack_u64(pk, "current", r.connections);
    pack_u64(pk, "total", r.connections_total);
    pack_u64(pk, "refused", r.connections_refused);

    pr_pack_cstr(pk, "writer");
    msgpack_pack_map(pk, 7);
    pack_u64(pk, "commits", r.commits);
    pack_u64(pk, "fsyncs", r.fsyncs);
    pack_u64(pk, "writes", r.writes);
    pr_pack_cstr(pk, "batch");
    pack_quantiles(pk, &r.batch, 1.0);
    pack_u64(pk, "audit_jobs", r.audit_jobs);
    pack_u64(pk, "audit_lost", r.audit_lost);
    pack_u64(pk, "audit_waits", r.audit_waits);

    pr_pack_cstr(pk, "records");
    msgpack_pack_map(pk, 10);
    pack_u64(pk, "vacancies", r.store.vacancies);
    pack_u64(pk, "vacancies_open", r.store.vacancies_open);
    pack_u64(pk, "workers", r.store.workers);
    pack_u64(pk, "workers_available", r.store.workers_available);
    pack_u64(pk, "changelog_seq", r.store.last_seq);
    pack_u64(pk, "audit_seq", r.store.audit_seq);
    pack_u64(pk, "map_size", r.store.map_size);
    pack_u64(pk, "map_used", r.store.map_used);
    pack_u64(pk, "id_cache_ids", r.store.id_cache_ids);
    pack_u64(pk, "id_cache_bytes", r.store.id_cache_bytes);

    pr_pack_cstr(pk, "network");
    msgpack_pack_map(pk, 3);
    pack_u64(pk, "requests", r.network_requests);
    pack_u64(pk, "ranked_again", r.network_ranked_again);
    pr_pack_cstr(pk, "missing");
    msgpack_pack_map(pk, r.n_peers);
    for (unsigned i = 0; i < r.n_peers; i++)
        pack_u64(pk, r.peers[i].name, r.peers[i].missing);

    pr_pack_cstr(pk, "ops");
    msgpack_pack_map(pk, (uint32_t)r.n_ops);
    for (size_t i = 0; i < r.n_ops; i++) {
        pr_pack_cstr(pk, r.ops[i].name);
        pack_op(pk, &r.ops[i]);
    }
    en_report_free(&r);
    return 0;
}
