/* ops_session.c - hello, ping and admin.info. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "command.h"
#include "follow.h"
#include "conn.h"
#include "keystore.h"
#include "log.h"
#include "throttle.h"
#include "writer.h"

#define EN_PROTOCOL 1

/* A wrong key: the reply waits longer with each failure of the connection
 * or of its address. The connection stays open (the contract closes one
 * only for a bad frame); the delay is what slows down guessing. */
static int
hello_refused(en_req_t *req)
{
    en_conn_t *c = req->conn;
    unsigned here = ++c->failed_hellos;
    unsigned from_addr = en_throttle_fail(req->srv->throttle, c->peer, req->now);
    req->delay_ms = en_throttle_delay_ms(here > from_addr ? here : from_addr);
    en_info("conn %llu from %s: hello with an unknown key (%u on this connection, "
            "%u from this address; answered in %u ms)",
            (unsigned long long)c->serial, c->peer, here, from_addr, req->delay_ms);
    return pr_fail(&req->err, PR_UNAUTHORIZED, "key: not recognised");
}

int
en_op_hello(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    int64_t protocol = EN_PROTOCOL;
    if (pr_get_int(args, "protocol", "protocol", 0, 0, INT32_MAX, &protocol, &req->err) < 0)
        return -1;
    if (protocol != EN_PROTOCOL)
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "protocol: version %lld is not supported (this server speaks 1)",
                       (long long)protocol);
    pr_str_t key;
    int rc = pr_get_str(args, "key", "key", 0, 1, 1024, &key, &req->err);
    if (rc < 0)
        return -1;
    en_conn_t *c = req->conn;
    if (rc == 0) {
        char name[EN_KEY_NAME_MAX];
        unsigned role;
        if (!en_keystore_find(&req->srv->keys, key.ptr, key.len, name, &role))
            return hello_refused(req);
        c->role = role;
        memcpy(c->key_name, name, sizeof c->key_name);
        en_debug("conn %llu is %s (%s)", (unsigned long long)c->serial, name,
                 en_role_name(role));
    }
    en_reply_ok(req);
    msgpack_packer *pk = req->pk;
    msgpack_pack_map(pk, 5);
    pr_pack_cstr(pk, "server");
    pr_pack_cstr(pk, "jobmatchd");
    pr_pack_cstr(pk, "version");
    pr_pack_cstr(pk, JM_VERSION);
    pr_pack_cstr(pk, "protocol");
    msgpack_pack_int(pk, EN_PROTOCOL);
    pr_pack_cstr(pk, "role");
    pr_pack_cstr(pk, en_role_name(c->role));
    pr_pack_cstr(pk, "node");
    pr_pack_cstr(pk, req->srv->cfg->node);
    return 0;
}

int
en_op_ping(en_req_t *req)
{
    en_reply_ok(req);
    pr_pack_cstr(req->pk, "pong");
    return 0;
}

/* admin.info's entries are packed into a buffer of their own and counted
 * as they are packed, so the map's header always matches them. */
typedef struct info_map {
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint32_t n;
} info_map_t;

/* Packs key as the next entry's key; the value goes to the packer returned. */
static msgpack_packer *
info_entry(info_map_t *m, const char *key)
{
    m->n++;
    pr_pack_cstr(&m->pk, key);
    return &m->pk;
}

int
en_op_admin_info(en_req_t *req)
{
    en_server_t *srv = req->srv;
    ix_txn_t *txn;
    ix_stats_t st;
    int rc = ix_read_begin(srv->ix, &txn);
    if (rc == 0) {
        rc = ix_stats(txn, &st);
        ix_read_end(txn);
    }
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    en_writer_stats_t ws;
    en_writer_stats(srv->writer, &ws);

    info_map_t m = {.n = 0};
    msgpack_sbuffer_init(&m.body);
    msgpack_packer_init(&m.pk, &m.body, msgpack_sbuffer_write);
    pr_pack_cstr(info_entry(&m, "server"), "jobmatchd");
    pr_pack_cstr(info_entry(&m, "version"), JM_VERSION);
    pr_pack_cstr(info_entry(&m, "node"), srv->cfg->node);
    const struct {
        const char *key;
        uint64_t v;
    } counts[] = {
        {"uptime", (uint64_t)(en_now() - srv->started)},
        {"started", (uint64_t)srv->started},
        {"vacancies", st.vacancies},
        {"vacancies_open", st.vacancies_open},
        {"workers", st.workers},
        {"workers_available", st.workers_available},
        {"changelog_seq", st.last_seq},
        {"alerts_raised", st.alert_seq},
        {"map_size", st.map_size},
        {"map_used", st.map_used},
        {"map_max", en_config_map_ceiling(srv->cfg)},
        {"connections", atomic_load(&srv->connections)},
        {"threads", srv->n_workers},
        {"commits", ws.commits},
        {"writes", ws.writes},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        msgpack_pack_uint64(info_entry(&m, counts[i].key), counts[i].v);
    en_followers_pack(srv->followers, info_entry(&m, "peers"));
    msgpack_packer *key_id = info_entry(&m, "secret_key_id");
    if (srv->sealer) {
        char id[3];
        snprintf(id, sizeof id, "%02x", en_sealer_key_id(srv->sealer));
        pr_pack_cstr(key_id, id);
    } else {
        msgpack_pack_nil(key_id);
    }

    en_reply_ok(req);
    msgpack_pack_map(req->pk, m.n);
    en_pack_raw(req->pk, m.body.data, m.body.size);
    msgpack_sbuffer_destroy(&m.body);
    return 0;
}

/* admin.check: verifies every secondary index, posting and counter against
 * the records, in one read transaction (it reads the whole store, so it
 * takes seconds on a large one, and answers on this worker's thread). */
int
en_op_admin_check(en_req_t *req)
{
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    char report[2048];
    rc = ix_check(txn, report, sizeof report);
    ix_read_end(txn);
    if (rc != 0 && rc != -EUCLEAN)
        return en_storage_error(&req->err, rc);
    if (rc == -EUCLEAN)
        en_warn("admin.check found inconsistencies: %s", report);
    en_reply_ok(req);
    msgpack_pack_map(req->pk, 2);
    pr_pack_cstr(req->pk, "ok");
    if (rc == 0)
        msgpack_pack_true(req->pk);
    else
        msgpack_pack_false(req->pk);
    pr_pack_cstr(req->pk, "report");
    pr_pack_cstr(req->pk, report);
    return 0;
}
