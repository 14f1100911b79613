/* fuzz_request.c - libFuzzer harness for request handling: one input is
 * one request frame body, taken through the daemon's own steps in process,
 * without sockets: the guard, msgpack-c, the envelope, the operation table
 * and the role check, then the operation's handler against a real store.
 *
 * Every input runs twice, as the anonymous kiosk and as admin, so both the
 * role checks and every operation's argument validation are reached. A
 * write that passes validation is applied in a write transaction that is
 * then aborted: the store keeps the few records loaded at start-up, so
 * each input sees the same store and a crash replays exactly.
 *
 * Oracles, besides the sanitizers: every reply is exactly one msgpack map
 * with the request's id (or 0) and a boolean ok; a failure carries a known
 * error code and a message of 1..239 bytes; every string in a reply is
 * valid UTF-8; a write counts its decoded request in job->mem.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "alerts.h"
#include "auth.h"
#include "command.h"
#include "config.h"
#include "conn.h"
#include "guard.h"
#include "index.h"
#include "keystore.h"
#include "log.h"
#include "match.h"
#include "message.h"
#include "occupation.h"
#include "seal.h"
#include "throttle.h"
#include "writer.h"

/* A fixed clock keeps defaults (posted, registered, as_of) reproducible. */
#define FUZZ_NOW 1767225600

static en_config_t cfg;
static en_server_t srv;
static en_worker_t worker;
static msgpack_sbuffer apply_scratch;
static char dir[] = "/tmp/jobmatch-fuzz-XXXXXX";

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_request: %s\n", what);
    abort();
}

/* ---- checking replies --------------------------------------------------- */

static void
check_strings(const msgpack_object *o, unsigned depth)
{
    if (depth > 64)
        fail("reply nested implausibly deep");
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        if (!pr_utf8_valid(o->via.str.ptr, o->via.str.size))
            fail("reply holds a string that is not UTF-8");
        break;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            check_strings(&o->via.array.ptr[i], depth + 1);
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            check_strings(&o->via.map.ptr[i].key, depth + 1);
            check_strings(&o->via.map.ptr[i].val, depth + 1);
        }
        break;
    default:
        break;
    }
}

static bool
is_known_code(const msgpack_object *code)
{
    for (int c = PR_BAD_FRAME; c < PR_CODE_COUNT; c++) {
        const char *name = pr_code_name((pr_code_t)c);
        if (code->via.str.size == strlen(name) &&
            memcmp(code->via.str.ptr, name, code->via.str.size) == 0)
            return true;
    }
    return false;
}

/* The reply in worker.out must be one response map for request id. */
static void
check_reply(uint64_t id)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object root;
    size_t off = 0;
    if (msgpack_unpack(worker.out.data, worker.out.size, &off, &zone, &root) !=
        MSGPACK_UNPACK_SUCCESS)
        fail("reply is not msgpack");
    if (off != worker.out.size)
        fail("reply is more than one object");
    if (root.type != MSGPACK_OBJECT_MAP)
        fail("reply is not a map");
    const msgpack_object *rid = pr_map_get(&root, "id");
    if (!rid || rid->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        (rid->via.u64 != id && rid->via.u64 != 0))
        fail("reply id is not the request's");
    const msgpack_object *ok = pr_map_get(&root, "ok");
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN)
        fail("reply has no boolean ok");
    if (ok->via.boolean) {
        if (!pr_map_get(&root, "result"))
            fail("success without a result");
    } else {
        const msgpack_object *err = pr_map_get(&root, "error");
        const msgpack_object *code = pr_map_get(err, "code");
        const msgpack_object *msg = pr_map_get(err, "message");
        if (!code || code->type != MSGPACK_OBJECT_STR || !is_known_code(code))
            fail("error without a known code");
        if (!msg || msg->type != MSGPACK_OBJECT_STR || msg->via.str.size == 0 ||
            msg->via.str.size >= PR_MESSAGE_MAX)
            fail("error message empty or too long");
    }
    check_strings(&root, 0);
    msgpack_zone_destroy(&zone);
}

/* ---- running one request ------------------------------------------------ */

static void
pack_error(uint64_t id, const pr_error_t *err)
{
    worker.out.size = 0;
    pr_pack_error(&worker.pk, id, err);
}

/* What the writer thread does with a job, in one transaction of its own:
 * apply, then commit (start-up data) or abort (fuzz input), and pack the
 * reply as the connection would once the job completes. */
static void
run_job(en_write_t *job, bool commit)
{
    ix_txn_t *txn;
    int rc = ix_write_begin(srv.ix, &txn);
    if (rc == 0) {
        rc = job->apply(txn, job, &apply_scratch);
        if (rc == 0 && commit)
            rc = ix_write_commit(txn);
        else
            ix_write_abort(txn);
    }
    if (rc != 0) {
        job->failed = true;
        en_storage_error(&job->err, rc);
    }
    if (job->failed) {
        pack_error(job->req_id, &job->err);
    } else {
        worker.out.size = 0;
        pr_pack_ok_begin(&worker.pk, job->req_id);
        job->reply(job, &worker.pk);
    }
    en_write_free(job);
}

/* The audit entries of a read, as the writer would apply them, in a
 * transaction of their own that commits or aborts like the writes. */
static void
run_audit(en_write_t *job, bool commit)
{
    ix_txn_t *txn;
    if (ix_write_begin(srv.ix, &txn) == 0) {
        if (job->apply(txn, job, &apply_scratch) == 0 && commit)
            ix_write_commit(txn);
        else
            ix_write_abort(txn);
    }
    en_write_free(job);
}

/* Handles one frame body as the connection would, with the given role.
 * Returns false when the frame itself was refused. */
static bool
run_request(const uint8_t *body, size_t len, unsigned role, bool commit)
{
    pr_error_t err = {0};
    size_t elements;
    if (pr_guard_check(body, len, PR_MAX_DEPTH, &elements, &err) != 0)
        return false;
    msgpack_zone_clear(&worker.zone);
    char *copy = msgpack_zone_malloc(&worker.zone, len ? len : 1);
    if (!copy)
        fail("out of memory");
    memcpy(copy, body, len);
    msgpack_object root;
    size_t off = 0;
    if (msgpack_unpack(copy, len, &off, &worker.zone, &root) != MSGPACK_UNPACK_SUCCESS)
        fail("msgpack-c refused a body the guard accepted");

    pr_request_t rq;
    if (pr_request_decode(&root, &rq, &err) != 0) {
        pack_error(rq.id, &err);
        check_reply(rq.id);
        return true;
    }
    en_conn_t conn = {.worker = &worker, .state = EN_CONN_OPEN, .role = role};
    snprintf(conn.peer, sizeof conn.peer, "fuzz");
    const en_command_t *cmd = en_command_find(rq.op);
    if (!cmd) {
        pr_fail(&err, PR_UNKNOWN_OP, "op: unknown operation");
        pack_error(rq.id, &err);
    } else if (!(cmd->roles & role)) {
        pr_fail(&err, PR_FORBIDDEN, "role %s may not use %s", en_role_name(role), cmd->name);
        pack_error(rq.id, &err);
    } else if (cmd->flags & EN_CMD_BACKGROUND) {
        /* admin.backup creates directories on the host and starts a
         * thread: not something to run on arbitrary input. Its checks are
         * covered by tests/integration/test_backup.c. */
        pr_fail(&err, PR_INTERNAL, "not run by the fuzzer");
        pack_error(rq.id, &err);
    } else {
        en_req_t req = {
            .srv = &srv, .worker = &worker, .conn = &conn, .rq = &rq,
            .frame_len = len, .decoded_mem = en_decoded_bound(len, elements),
            .pk = &worker.pk, .now = FUZZ_NOW,
        };
        worker.out.size = 0;
        if (cmd->handler(&req) != 0)
            pack_error(rq.id, &req.err);
        /* A write holds its decoded request until it commits, and the
         * per-connection cap on memory in flight must count it. */
        if (req.job && req.job->mem < en_decoded_bound(len, elements))
            fail("a write counts less memory than its decoded request");
        if (req.job)
            run_job(req.job, commit);
        if (req.audit)
            run_audit(req.audit, commit);
    }
    check_reply(rq.id);
    return true;
}

/* ---- start-up ------------------------------------------------------------ */

/* A few records, a fair of them, a referral and alert subscriptions 1
 * and 2 for gets, lists, matches, fairs, referrals, alerts and deletes to
 * find. Each is a request body; they go through the same path as fuzz
 * input. */
static const char *const preload[] = {
    "\x83\xa2id\x01\xa2op\xabvacancy.put\xa4""args\x81\xa7vacancy\x87"
    "\xa2id\xa3v-1\xa8""employer\xa4""Acme\xa5title\xa6Welder"
    "\xaaoccupation\xaa""6-05-02-03\xa6region\xa6""110105"
    "\xa6skills\x91\x82\xa2id\xa4weld\xa5level\x03"
    "\xb3priority_categories\x91\xa8laid_off",
    "\x83\xa2id\x02\xa2op\xaaworker.put\xa4""args\x81\xa6worker\x87"
    "\xa2id\xa3w-1\xa4name\xa6Li Lei\xaa""birth_year\xcd\x07\xc6"
    "\xa6region\xa6""110105\xa6skills\x91\x82\xa2id\xa4weld\xa5level\x04"
    "\xb3""desired_occupations\x91\xa4""6-05\xa8""category\xa8laid_off",
    "\x83\xa2id\x03\xa2op\xab""fair.create\xa4""args\x82\xa2id\xa6""fair-1\xa4name\xa4""Fair",
    "\x83\xa2id\x04\xa2op\xad""fair.register\xa4""args\x83\xa4""fair\xa6""fair-1"
    "\xa9vacancies\x91\xa3v-1\xa7workers\x91\xa3w-1",
    /* A second vacancy, and referral r-1 of w-1 to it. */
    "\x83\xa2id\x05\xa2op\xabvacancy.put\xa4\x61rgs\x81\xa7vacancy\x86\xa2id\xa3v-9\xa8\x65mployer\xa4\x41\x63me\xa5title\xa6\x46itter\xaaoccupation\xaa\x36-05-02-03\xa6region\xa6\x31\x31\x30\x31\x30\x35\xa9headcount\xcd\x03\xe8",
    "\x83\xa2id\x06\xa2op\xafreferral.create\xa4\x61rgs\x82\xa6worker\xa3w-1\xa7vacancy\xa3v-9",
    /* Alert subscriptions 1 and 2. */
    "\x83\xa2id\x07\xa2op\xaf""alert.subscribe\xa4""args\x81\xa6worker\xa3w-1",
    "\x83\xa2id\x08\xa2op\xaf""alert.subscribe\xa4""args\x82\xa7vacancy\xa3v-1\xa9min_score\x02",
};

/* Removes the store's files and directory. Called as soon as the store is
 * open (LMDB keeps working on the open files), so that not even a crashing
 * input leaves anything behind in /tmp. */
static void
unlink_store(void)
{
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static void
close_store(void)
{
    en_alerts_close(srv.alerts);
    srv.alerts = NULL;
    en_occupations_free(srv.occupations);
    srv.occupations = NULL;
    if (srv.ix)
        ix_close(srv.ix);
    srv.ix = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    en_config_defaults(&cfg);
    en_log_threshold = EN_LOG_ERROR;
    if (sodium_init() < 0 || !mkdtemp(dir))
        fail("mkdtemp");
    /* A secret key beside the store, so workers with personal fields are
     * sealed as in the daemon; once loaded the file is not needed. */
    char key_path[sizeof dir + 16], why[600];
    snprintf(key_path, sizeof key_path, "%s.key", dir);
    if (en_seal_key_create(key_path, why, sizeof why) != 0 ||
        !(srv.sealer = en_sealer_load(key_path, dir, why, sizeof why))) {
        unlink(key_path);
        fail(why);
    }
    unlink(key_path);
    ix_options_t opts = {.map_size = 64u << 20, .sync = IX_SYNC_NONE};
    int opened = ix_open(dir, &opts, &srv.ix);
    unlink_store();
    if (opened != 0)
        fail("cannot open the store");
    atexit(close_store);
    if (!(srv.alerts = en_alerts_open(&srv)))
        fail("cannot load the alert subscriptions");
    /* The classification and job titles the daemon loads by default, so
     * occupation.suggest searches as it does there. */
    if (!(srv.occupations = en_occupations_load(cfg.occupations_file, why, sizeof why)) ||
        en_occupations_add_aliases(srv.occupations, cfg.occupation_aliases_file, why,
                                   sizeof why) != 0)
        fail(why);
    srv.cfg = &cfg;
    srv.started = FUZZ_NOW;
    srv.n_workers = 1;
    srv.workers = &worker;  /* admin.stats adds up each worker's counts */
    srv.writer = en_writer_start(srv.ix, 0, 0, 0, 0);  /* idle; admin.info reads its counts */
    /* One counselor key, and the throttle that wrong keys in hello meet. */
    pthread_rwlock_init(&srv.keys.lock, NULL);
    srv.keys.ring = calloc(1, sizeof *srv.keys.ring);
    srv.throttle = en_throttle_new();
    /* A network-wide request (scope network, a roll-up) starts threads
     * that connect to the [peers] and answer through an event loop: with
     * every slot taken it stops, overloaded, right after its validation,
     * which is what the fuzzer is after (tests/integration/test_federate.c
     * runs the rest). */
    en_federation_init(&srv.federation);
    srv.federation.running = EN_FEDERATION_MAX;
    if (!srv.writer || !srv.keys.ring || !srv.throttle ||
        en_keyring_add(srv.keys.ring, "desk", EN_ROLE_COUNSELOR, "desk-key", 8) != 0)
        fail("start-up");
    worker.srv = &srv;
    msgpack_sbuffer_init(&worker.out);
    msgpack_packer_init(&worker.pk, &worker.out, msgpack_sbuffer_write);
    msgpack_sbuffer_init(&apply_scratch);
    if (!msgpack_zone_init(&worker.zone, MSGPACK_ZONE_CHUNK_SIZE) ||
        !(worker.match_scratch = en_match_scratch_new()))
        fail("out of memory");
    for (size_t i = 0; i < sizeof preload / sizeof preload[0]; i++) {
        if (!run_request((const uint8_t *)preload[i], strlen(preload[i]), EN_ROLE_ADMIN, true))
            fail("a preload request is not a valid frame");
        const msgpack_object *ok = NULL;
        msgpack_zone z;
        msgpack_zone_init(&z, 1024);
        msgpack_object root;
        size_t off = 0;
        msgpack_unpack(worker.out.data, worker.out.size, &off, &z, &root);
        ok = pr_map_get(&root, "ok");
        if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean)
            fail("a preload request failed");
        msgpack_zone_destroy(&z);
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (run_request(data, size, EN_ROLE_KIOSK, false))
        run_request(data, size, EN_ROLE_ADMIN, false);
    return 0;
}
