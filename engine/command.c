/* command.c - the operation table and the helpers handlers share. */
#include "command.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conn.h"
#include "log.h"

#define R_ALL EN_ROLES_ALL
#define R_STAFF (EN_ROLE_COUNSELOR | EN_ROLE_ADMIN)
#define R_VACANCY_READ (EN_ROLE_KIOSK | EN_ROLE_COUNSELOR | EN_ROLE_NODE | EN_ROLE_ADMIN)

static const en_command_t commands[] = {
    {"hello", R_ALL, 0, en_op_hello},
    {"ping", R_ALL, 0, en_op_ping},
    {"vacancy.get", R_VACANCY_READ, 0, en_op_vacancy_get},
    {"vacancy.list", R_VACANCY_READ, 0, en_op_vacancy_list},
    {"vacancy.put", R_STAFF, EN_CMD_WRITE, en_op_vacancy_put},
    {"vacancy.put_many", R_STAFF, EN_CMD_WRITE, en_op_vacancy_put_many},
    {"vacancy.delete", R_STAFF, EN_CMD_WRITE, en_op_vacancy_delete},
    {"vacancy.close", R_STAFF, EN_CMD_WRITE, en_op_vacancy_close},
    {"worker.get", R_STAFF, 0, en_op_worker_get},
    {"worker.list", R_STAFF, 0, en_op_worker_list},
    {"worker.put", R_STAFF, EN_CMD_WRITE, en_op_worker_put},
    {"worker.put_many", R_STAFF, EN_CMD_WRITE, en_op_worker_put_many},
    {"worker.delete", R_STAFF, EN_CMD_WRITE, en_op_worker_delete},
    {"match.vacancies", R_ALL, 0, en_op_match_vacancies},
    {"match.workers", R_STAFF, 0, en_op_match_workers},
    {"match.explain", R_STAFF, 0, en_op_match_explain},
    {"match.counts", EN_ROLE_NODE | EN_ROLE_ADMIN, 0, en_op_match_counts},
    {"fair.create", R_STAFF, EN_CMD_WRITE, en_op_fair_create},
    {"fair.register", R_STAFF, EN_CMD_WRITE, en_op_fair_register},
    {"fair.unregister", R_STAFF, EN_CMD_WRITE, en_op_fair_unregister},
    {"fair.get", R_STAFF, 0, en_op_fair_get},
    {"fair.allocate", R_STAFF, 0, en_op_fair_allocate},
    {"alert.subscribe", R_STAFF, EN_CMD_WRITE, en_op_alert_subscribe},
    {"alert.unsubscribe", R_STAFF, EN_CMD_WRITE, en_op_alert_unsubscribe},
    {"alert.listen", R_STAFF, 0, en_op_alert_listen},
    {"alert.list", R_STAFF, 0, en_op_alert_list},
    {"alert.subscriptions", R_STAFF, 0, en_op_alert_subscriptions},
    {"admin.info", EN_ROLE_ADMIN, 0, en_op_admin_info},
    {"admin.check", EN_ROLE_ADMIN, 0, en_op_admin_check},
    {"audit.list", EN_ROLE_ADMIN, 0, en_op_audit_list},
    {"admin.backup", EN_ROLE_ADMIN, EN_CMD_BACKGROUND, en_op_admin_backup},
    {"admin.stats", EN_ROLE_ADMIN, 0, en_op_admin_stats},
    {"referral.create", R_STAFF, EN_CMD_WRITE, en_op_referral_create},
    {"referral.update", R_STAFF, EN_CMD_WRITE, en_op_referral_update},
    {"referral.get", R_STAFF, 0, en_op_referral_get},
    {"referral.list", R_STAFF, 0, en_op_referral_list},
    {"stats.supply_demand", R_ALL, 0, en_op_stats_supply_demand},
    {"stats.wages", R_ALL, 0, en_op_stats_wages},
    {"sync.pull", EN_ROLE_NODE | EN_ROLE_ADMIN, 0, en_op_sync_pull},
    {"stats.reemployment", R_ALL, 0, en_op_stats_reemployment},
    {"occupation.suggest", R_ALL, 0, en_op_occupation_suggest},
};

const en_command_t *
en_command_find(pr_str_t op)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *name = commands[i].name;
        if (strlen(name) == op.len && memcmp(name, op.ptr, op.len) == 0)
            return &commands[i];
    }
    return NULL;
}

const en_command_t *
en_commands(size_t *n)
{
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

void
en_reply_ok(en_req_t *req)
{
    pr_pack_ok_begin(req->pk, req->rq->id);
}

int
en_storage_error(pr_error_t *err, int rc)
{
    if (rc == -ENOSPC)
        return pr_fail(err, PR_STORAGE_FULL, "the database is full");
    if (rc == -EFBIG)
        return pr_fail(err, PR_STORAGE_FULL, "too many changes for one transaction");
    if (rc == -EDQUOT)
        return pr_fail(err, PR_STORAGE_FULL, "no space left on the disk");
    if (rc == -EBUSY)
        return pr_fail(err, PR_OVERLOADED, "too many readers");
    en_error("storage: %s", ix_strerror(rc));
    return pr_fail(err, PR_INTERNAL, "storage error");
}

int
en_read_error(pr_error_t *err, const char *record, const char *sealed, int rc)
{
    char why[160];
    switch (rc) {
    case -ENOKEY:
        snprintf(why, sizeof why, "its %s are sealed under a secret key the daemon does not hold",
                 sealed);
        break;
    case -EBADMSG:
        snprintf(why, sizeof why,
                 "its %s do not authenticate (altered, or sealed for another record)", sealed);
        break;
    case -EIO:
        snprintf(why, sizeof why, "the stored record does not decode");
        break;
    default:
        return en_storage_error(err, rc);
    }
    en_error("%s: %s", record, why);
    return pr_fail(err, PR_INTERNAL, "%s: %s", record, why);
}

void
en_pack_raw(msgpack_packer *pk, const void *bytes, size_t len)
{
    /* The packer writes straight through its callback, so raw bytes
     * appended the same way land in order. */
    pk->callback(pk->data, bytes, len);
}

int
en_job_new(en_req_t *req, void *data,
           int (*apply)(ix_txn_t *, en_write_t *, msgpack_sbuffer *),
           void (*reply)(en_write_t *, msgpack_packer *))
{
    en_write_t *job = calloc(1, sizeof *job);
    msgpack_zone *taken = malloc(sizeof *taken);
    if (!job || !taken) {
        free(job);
        free(taken);
        free(data);
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    }
    /* The job takes the worker's zone, which holds this request, and the
     * worker starts a fresh one. msgpack_zone_free() releases it later. */
    *taken = req->worker->zone;
    msgpack_zone_init(&req->worker->zone, MSGPACK_ZONE_CHUNK_SIZE);
    job->zone = taken;
    job->conn = req->conn;
    job->worker = req->worker;
    job->req_id = req->rq->id;
    job->now = req->now;
    job->op = req->rq->op;
    job->started_ns = req->started_ns;
    job->stats_slot = req->slot;
    snprintf(job->actor, sizeof job->actor, "%s", req->conn->key_name);
    job->role = req->conn->role;
    job->apply = apply;
    job->reply = reply;
    job->data = data;
    job->mem = req->decoded_mem;
    req->job = job;
    return 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
en_get_cursor(en_req_t *req, uint8_t *out, size_t max, size_t *len)
{
    pr_str_t s;
    int rc = pr_get_str(req->rq->args, "cursor", "cursor", 0, 2, (uint32_t)(2 * max),
                        &s, &req->err);
    if (rc != 0)
        return rc;
    if (s.len % 2)
        return pr_fail(&req->err, PR_BAD_REQUEST, "cursor: malformed");
    for (uint32_t i = 0; i < s.len; i += 2) {
        int hi = hex_value(s.ptr[i]), lo = hex_value(s.ptr[i + 1]);
        if (hi < 0 || lo < 0)
            return pr_fail(&req->err, PR_BAD_REQUEST, "cursor: malformed");
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = s.len / 2;
    return 0;
}

void
en_pack_cursor(msgpack_packer *pk, const uint8_t *cursor, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    if (len == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_str(pk, 2 * len);
    for (size_t i = 0; i < len; i++) {
        char hex[2] = {digits[cursor[i] >> 4], digits[cursor[i] & 15]};
        msgpack_pack_str_body(pk, hex, 2);
    }
}
