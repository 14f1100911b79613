/* test_roles.c - every operation against every role, as the operation
 * table in engine/command.c grants them, plus the personal-field rule. */
#define _GNU_SOURCE  /* memmem */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

#define KIOSK (1u << 0)
#define COUNSELOR (1u << 1)
#define NODE (1u << 2)
#define ADMIN (1u << 3)
#define ALL (KIOSK | COUNSELOR | NODE | ADMIN)
#define STAFF (COUNSELOR | ADMIN)

static const char ini[] =
    "[keys]\n"
    "front-desk = counselor:counselor-secret-1\n"
    "peer-city = node:node-secret-2\n";

typedef struct role {
    unsigned bit;
    const char *name;
    const char *key;  /* NULL = anonymous */
    const char *referral;  /* the id its referral.create gets (staff) */
} role_t;

static const role_t roles[] = {
    {KIOSK, "kiosk", NULL, "r-1"},
    {COUNSELOR, "counselor", "counselor-secret-1", "r-1"},
    {NODE, "node", "node-secret-2", "r-1"},
    {ADMIN, "admin", NULL /* JT_ADMIN_KEY */, "r-2"},
};

/* The expected table. Arguments are JSON with %1$s standing for the role
 * name, so each role writes its own records, %2$s for the id of the
 * referral the role creates, and %3$d for the role's number (1-4), the
 * alert subscription seed() made for it; in order, so that close and
 * delete find what put created. */
typedef struct op_case {
    const char *op;
    const char *args;
    unsigned allowed;
} op_case_t;

#define VAC(id) "{\"id\": \"" id "\", \"employer\": \"E\", \"title\": \"T\", " \
                "\"occupation\": \"6-05-02-03\", \"region\": \"110105\"}"
#define WRK(id) "{\"id\": \"" id "\", \"birth_year\": 1990, \"region\": \"110105\", " \
                "\"name\": \"N\"}"

static const op_case_t cases[] = {
    {"hello", "{\"protocol\": 1}", ALL},
    {"ping", "{}", ALL},
    {"vacancy.get", "{\"id\": \"seed-v\"}", ALL},
    {"vacancy.list", "{}", ALL},
    {"vacancy.put", "{\"vacancy\": " VAC("v-%1$s") "}", STAFF},
    {"vacancy.put_many", "{\"vacancies\": [" VAC("vm-%1$s") "]}", STAFF},
    {"vacancy.close", "{\"id\": \"v-%1$s\"}", STAFF},
    {"vacancy.delete", "{\"id\": \"vm-%1$s\"}", STAFF},
    {"worker.get", "{\"id\": \"seed-w\"}", STAFF},
    {"worker.list", "{}", STAFF},
    {"worker.put", "{\"worker\": " WRK("w-%1$s") "}", STAFF},
    {"worker.put_many", "{\"workers\": [" WRK("wm-%1$s") "]}", STAFF},
    {"worker.delete", "{\"id\": \"wm-%1$s\"}", STAFF},
    {"match.vacancies", "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}}", ALL},
    {"match.workers", "{\"vacancy\": \"seed-v\"}", STAFF},
    {"match.explain", "{\"worker\": \"seed-w\", \"vacancy\": \"seed-v\"}", STAFF},
    {"fair.create", "{\"id\": \"f-%1$s\", \"name\": \"Spring fair\"}", STAFF},
    {"fair.register", "{\"fair\": \"f-%1$s\", \"vacancies\": [\"seed-v\"], \"workers\": [\"seed-w\"]}", STAFF},
    {"fair.get", "{\"fair\": \"f-%1$s\"}", STAFF},
    {"fair.allocate", "{\"fair\": \"f-%1$s\"}", STAFF},
    {"fair.unregister", "{\"fair\": \"f-%1$s\", \"workers\": [\"seed-w\"]}", STAFF},
    {"referral.create", "{\"worker\": \"w-%1$s\", \"vacancy\": \"seed-v\"}", STAFF},
    {"referral.update", "{\"id\": \"%2$s\", \"status\": \"interviewed\", \"note\": \"by %1$s\"}",
     STAFF},
    {"referral.get", "{\"id\": \"%2$s\"}", STAFF},
    {"referral.list", "{\"vacancy\": \"seed-v\"}", STAFF},
    {"stats.supply_demand", "{\"period\": \"2026\"}", ALL},
    {"stats.wages", "{\"region\": \"11\"}", ALL},
    {"stats.reemployment", "{\"period\": \"2026-Q1\"}", ALL},
    {"occupation.suggest", "{\"text\": \"软件工程师\", \"limit\": 3}", ALL},
    {"sync.pull", "{\"after\": 0, \"limit\": 10}", NODE | ADMIN},
    {"match.counts", "{\"skills\": [\"weld\"]}", NODE | ADMIN},
    {"alert.subscribe", "{\"worker\": \"seed-w\"}", STAFF},
    {"alert.subscriptions", "{\"worker\": \"seed-w\"}", STAFF},
    {"alert.listen", "{\"subscription\": 1}", STAFF},
    {"alert.list", "{\"subscription\": 1}", STAFF},
    {"alert.unsubscribe", "{\"subscription\": %3$d}", STAFF},
    {"admin.info", "{}", ADMIN},
    {"admin.check", "{}", ADMIN},
    {"audit.list", "{\"worker\": \"seed-w\"}", ADMIN},
    /* A bare name: a copy inside the test daemon's backup_dir. */
    {"admin.backup", "{\"path\": \"copy-%1$s\"}", ADMIN},
    {"admin.stats", "{}", ADMIN},
};

static jm_client_t *
connect_as(const jt_daemon_t *d, const role_t *r)
{
    if (r->bit == ADMIN)
        return jt_connect_admin(d);
    if (!r->key) {
        jm_client_t *c = jt_connect(d);
        return c;
    }
    return jt_connect_key(d, r->key, r->name);
}

static void
seed(jm_client_t *admin)
{
    jm_reply_t *r = jt_call_json(admin, "vacancy.put", "{\"vacancy\": " VAC("seed-v") "}");
    jt_expect_ok(r, "seed vacancy");
    jm_reply_free(r);
    r = jt_call_json(admin, "worker.put",
                     "{\"worker\": {\"id\": \"seed-w\", \"birth_year\": 1988,"
                     " \"region\": \"110105\", \"name\": \"李四\","
                     " \"national_id\": \"110105198801011234\", \"phone\": \"13800000000\"}}");
    jt_expect_ok(r, "seed worker");
    jm_reply_free(r);
    for (int i = 1; i <= 4; i++) {   /* subscriptions 1-4, one per role */
        r = jt_call_json(admin, "alert.subscribe", "{\"vacancy\": \"seed-v\"}");
        jt_expect_ok(r, "seed subscription");
        cr_assert_eq(jt_get_int(&r->result, "subscription"), i);
        jm_reply_free(r);
    }
}

/* Whether the record exists, asked as admin. */
static bool
exists(jm_client_t *admin, const char *kind, const char *id)
{
    char op[32];
    snprintf(op, sizeof op, "%s.get", kind);
    jm_reply_t *r = jt_call_json(admin, op, "{\"id\": \"%s\"}", id);
    bool ok = r->ok;
    if (!ok)
        cr_assert_str_eq(r->error_code, "not_found");
    jm_reply_free(r);
    return ok;
}

Test(roles, every_operation_for_every_role, .timeout = 30)
{
    char backups[] = "/tmp/jm-roles-backups.XXXXXX";
    cr_assert_not_null(mkdtemp(backups));
    const char *extra[] = {"--backup-dir", backups, NULL};
    jt_daemon_t *d = jt_daemon_start_ini(ini, extra);
    jm_client_t *admin = jt_connect_admin(d);
    seed(admin);

    for (size_t ri = 0; ri < sizeof roles / sizeof roles[0]; ri++) {
        const role_t *role = &roles[ri];
        jm_client_t *c = connect_as(d, role);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char args[1024];
            snprintf(args, sizeof args, cases[i].args, role->name, role->referral, (int)ri + 1);
            jm_reply_t *r = jt_call_json(c, cases[i].op, "%s", args);
            if (cases[i].allowed & role->bit) {
                cr_assert(r->ok, "%s as %s: want success, got %s: %s", cases[i].op,
                          role->name, r->error_code, r->error_message);
            } else {
                cr_assert(!r->ok, "%s as %s: want forbidden, got success",
                          cases[i].op, role->name);
                cr_assert_str_eq(r->error_code, "forbidden", "%s as %s: got %s: %s",
                                 cases[i].op, role->name, r->error_code,
                                 r->error_message);
                cr_assert(strstr(r->error_message, cases[i].op),
                          "forbidden message '%s' does not name %s", r->error_message,
                          cases[i].op);
            }
            jm_reply_free(r);
        }

        /* What the writes left behind, seen by the admin. */
        char id[64];
        bool staff = (role->bit & STAFF) != 0;
        snprintf(id, sizeof id, "v-%s", role->name);
        cr_assert_eq(exists(admin, "vacancy", id), staff, "%s as %s", id, role->name);
        snprintf(id, sizeof id, "vm-%s", role->name);
        cr_assert_eq(exists(admin, "vacancy", id), false, "%s as %s", id, role->name);
        snprintf(id, sizeof id, "w-%s", role->name);
        cr_assert_eq(exists(admin, "worker", id), staff, "%s as %s", id, role->name);
        snprintf(id, sizeof id, "wm-%s", role->name);
        cr_assert_eq(exists(admin, "worker", id), false, "%s as %s", id, role->name);
        if (staff) {
            jm_reply_t *r = jt_call_json(admin, "vacancy.get", "{\"id\": \"v-%s\"}", role->name);
            jt_expect_ok(r, "get closed");
            cr_assert_str_eq(jt_get_str(jt_need(&r->result, "vacancy"), "status"), "closed");
            jm_reply_free(r);
        }
        jm_close(c);
    }
    /* Two staff roles wrote one vacancy and one worker each. */
    cr_assert_eq(jt_admin_count(admin, "vacancies"), 3);
    cr_assert_eq(jt_admin_count(admin, "workers"), 3);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
    /* The admin's backup alone was made. */
    char copy[300];
    snprintf(copy, sizeof copy, "%s/copy-admin/data.mdb", backups);
    cr_assert_eq(unlink(copy), 0, "the admin's backup is missing");
    snprintf(copy, sizeof copy, "%s/copy-admin", backups);
    rmdir(copy);
    cr_assert_eq(rmdir(backups), 0, "a backup was made by a role other than admin");
}

/* Every operation of the server's table (engine/command.c) has a row in
 * cases[], so a new operation cannot go untested against the roles. */
Test(roles, the_table_covers_every_operation)
{
    const char *src = getenv("JOBMATCH_SOURCE");
    cr_assert(src && *src, "JOBMATCH_SOURCE is not set: run through ctest");
    char path[512];
    snprintf(path, sizeof path, "%s/engine/command.c", src);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    char line[512];
    unsigned found = 0;
    while (fgets(line, sizeof line, f)) {
        char op[64];
        /* Rows of the commands[] table: `    {"name", ROLES, FLAGS, handler},` */
        if (sscanf(line, "    {\"%63[a-z_.]\", %*[A-Z_|() ], %*[A-Z_0-9], en_op_%*[a-z_]}", op) != 1)
            continue;
        found++;
        bool listed = false;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            listed |= strcmp(cases[i].op, op) == 0;
        cr_assert(listed, "%s (engine/command.c) has no row in test_roles.c's cases[]", op);
    }
    fclose(f);
    cr_assert_eq(found, sizeof cases / sizeof cases[0],
                 "engine/command.c lists %u operations, cases[] %zu", found,
                 sizeof cases / sizeof cases[0]);
}

Test(roles, role_is_checked_before_the_arguments, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *kiosk = jt_connect(d);
    jm_client_t *node = jt_connect_key(d, "node-secret-2", "node");
    const char *ops[] = {"vacancy.put", "vacancy.delete", "worker.get", "worker.put",
                         "worker.list", "admin.info", "referral.create",
                         "referral.update", "referral.get", "referral.list"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        jm_reply_t *r = jt_call_json(kiosk, ops[i], "{\"junk\": [1, 2, 3]}");
        jt_expect_error(r, "forbidden", NULL);
        jm_reply_free(r);
        r = jt_call_json(node, ops[i], "{\"junk\": [1, 2, 3]}");
        jt_expect_error(r, "forbidden", NULL);
        jm_reply_free(r);
    }
    jm_close(kiosk);
    jm_close(node);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* Checks the three personal fields are present in a worker map. */
static void
expect_personal(const msgpack_object *w, const char *who)
{
    cr_assert_str_eq(jt_get_str(w, "name"), "李四", "%s", who);
    cr_assert_str_eq(jt_get_str(w, "national_id"), "110105198801011234", "%s", who);
    cr_assert_str_eq(jt_get_str(w, "phone"), "13800000000", "%s", who);
}

Test(roles, personal_fields_reach_counselor_and_admin_only, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *admin = jt_connect_admin(d);
    seed(admin);
    jm_client_t *counselor = jt_connect_key(d, "counselor-secret-1", "counselor");
    jm_client_t *staff[] = {admin, counselor};
    const char *names[] = {"admin", "counselor"};

    for (int i = 0; i < 2; i++) {
        jm_reply_t *r = jt_call_json(staff[i], "worker.get", "{\"id\": \"seed-w\"}");
        jt_expect_ok(r, "worker.get");
        expect_personal(jt_need(&r->result, "worker"), names[i]);
        jm_reply_free(r);
        r = jt_call_json(staff[i], "worker.list", "{}");
        jt_expect_ok(r, "worker.list");
        const msgpack_object *arr = jt_need(&r->result, "workers");
        cr_assert_eq(arr->via.array.size, 1);
        expect_personal(&arr->via.array.ptr[0], names[i]);
        jm_reply_free(r);
    }

    /* A kiosk and a node never see a worker, by get or by list, and what a
     * kiosk can read (vacancies) carries no personal field. */
    jm_client_t *kiosk = jt_connect(d);
    jm_client_t *node = jt_connect_key(d, "node-secret-2", "node");
    jm_client_t *outside[] = {kiosk, node};
    for (int i = 0; i < 2; i++) {
        jm_reply_t *r = jt_call_json(outside[i], "worker.get", "{\"id\": \"seed-w\"}");
        jt_expect_error(r, "forbidden", NULL);
        cr_assert_eq(r->result.type, MSGPACK_OBJECT_NIL);
        jm_reply_free(r);
        r = jt_call_json(outside[i], "worker.list", "{\"region\": \"11\"}");
        jt_expect_error(r, "forbidden", NULL);
        jm_reply_free(r);
    }
    jm_reply_t *r = jt_call_json(kiosk, "vacancy.list", "{}");
    jt_expect_ok(r, "kiosk vacancy.list");
    const msgpack_object *arr = jt_need(&r->result, "vacancies");
    cr_assert_eq(arr->via.array.size, 1);
    const msgpack_object *v = &arr->via.array.ptr[0];
    cr_assert_null(jt_get(v, "name"));
    cr_assert_null(jt_get(v, "national_id"));
    cr_assert_null(jt_get(v, "phone"));
    jm_reply_free(r);

    jm_close(kiosk);
    jm_close(node);
    jm_close(counselor);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(roles, keys_switch_roles_on_one_connection, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *c = jt_connect(d);
    char role[32];
    cr_assert_eq(jm_hello(c, NULL, role, sizeof role), 0);
    cr_assert_str_eq(role, "kiosk");
    cr_assert_eq(jm_hello(c, "counselor-secret-1", role, sizeof role), 0);
    cr_assert_str_eq(role, "counselor");
    jt_call_ok(c, "worker.list", NULL);
    cr_assert_eq(jm_hello(c, "node-secret-2", role, sizeof role), 0);
    cr_assert_str_eq(role, "node");
    jm_reply_t *r = jt_call(c, "worker.list", NULL);
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    /* A key is the whole secret: neither a prefix nor the key's name works. */
    cr_assert_eq(jm_hello(c, "counselor-secret", role, sizeof role), JM_ESERVER);
    cr_assert_eq(jm_hello(c, "front-desk", role, sizeof role), JM_ESERVER);
    cr_assert_eq(jm_hello(c, "counselor:counselor-secret-1", role, sizeof role), JM_ESERVER);
    cr_assert_eq(jm_hello(c, NULL, role, sizeof role), 0);
    cr_assert_str_eq(role, "node");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(roles, anonymous_role_is_configurable, .timeout = 30)
{
    const char *args[] = {"--anonymous-role", "counselor", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect(d);
    char role[32];
    cr_assert_eq(jm_hello(c, NULL, role, sizeof role), 0);
    cr_assert_str_eq(role, "counselor");
    jt_put_worker(c, "w1", "110105", NULL, NULL);
    jm_reply_t *r = jt_call(c, "admin.info", NULL);
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- personal values: never to outsiders, error messages or the log ---- */

static const char P_NAME[] = "Planted-Name-7QX";
static const char P_NID[] = "110105199001017777";
static const char P_PHONE[] = "13912345678";

/* Whether any string in o (at any depth) contains s. */
static bool
holds(const msgpack_object *o, const char *s)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        return memmem(o->via.str.ptr, o->via.str.size, s, strlen(s)) != NULL;
    case MSGPACK_OBJECT_BIN:
        return memmem(o->via.bin.ptr, o->via.bin.size, s, strlen(s)) != NULL;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (holds(&o->via.array.ptr[i], s))
                return true;
        return false;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (holds(&o->via.map.ptr[i].key, s) || holds(&o->via.map.ptr[i].val, s))
                return true;
        return false;
    default:
        return false;
    }
}

/* Calls op; fails when the reply carries a planted value where it must
 * not: anywhere for an outsider, in any error for everyone. Returns whether
 * the call succeeded. */
static bool
call_clean(jm_client_t *c, bool outsider, const char *op, const char *args)
{
    jm_reply_t *r = jt_call_json(c, op, "%s", args);
    const char *planted[] = {P_NAME, P_NID, P_PHONE};
    for (size_t i = 0; i < 3; i++) {
        if (!r->ok) {
            cr_assert_null(strstr(r->error_message, planted[i]), "%s: error '%s' quotes %s",
                           op, r->error_message, planted[i]);
            cr_assert(!holds(&r->error, planted[i]), "%s: the error map holds %s", op,
                      planted[i]);
        }
        if (outsider)
            cr_assert(!holds(&r->result, planted[i]), "%s: an outsider got %s", op,
                      planted[i]);
    }
    bool ok = r->ok;
    jm_reply_free(r);
    return ok;
}

#define PLANTED_WORKER(id) "{\"id\": \"" id "\", \"birth_year\": 1990, \"region\": \"110105\"," \
    " \"skills\": [{\"id\": \"weld\", \"level\": 3}], \"desired_occupations\": [\"6-05\"]," \
    " \"name\": \"Planted-Name-7QX\", \"national_id\": \"110105199001017777\"," \
    " \"phone\": \"13912345678\"}"

Test(roles, personal_values_reach_no_outsider_error_or_log_line, .timeout = 60)
{
    const char *args[] = {"--log-level", "debug", NULL};
    jt_daemon_t *d = jt_daemon_start_logged(ini, args);
    jm_client_t *desk = jt_connect_key(d, "counselor-secret-1", "counselor");
    cr_assert(call_clean(desk, false, "vacancy.put",
                         "{\"vacancy\": {\"id\": \"v1\", \"employer\": \"E\", \"title\": \"T\","
                         " \"occupation\": \"6-05-02-03\", \"region\": \"110105\","
                         " \"skills\": [{\"id\": \"weld\", \"level\": 2}]}}"));
    cr_assert(call_clean(desk, false, "worker.put", "{\"worker\": " PLANTED_WORKER("w1") "}"));
    cr_assert(call_clean(desk, false, "worker.put_many",
                         "{\"workers\": [" PLANTED_WORKER("w2") "]}"));
    /* Staff read them; the walk that checks outsiders finds them here. */
    jm_reply_t *r = jt_call_json(desk, "worker.get", "{\"id\": \"w1\"}");
    jt_expect_ok(r, "worker.get");
    cr_assert(holds(&r->result, P_NAME) && holds(&r->result, P_NID) &&
              holds(&r->result, P_PHONE));
    jm_reply_free(r);
    cr_assert(call_clean(desk, false, "worker.list", "{}"));
    cr_assert(call_clean(desk, false, "match.workers", "{\"vacancy\": \"v1\", \"explain\": true}"));
    cr_assert(call_clean(desk, false, "match.vacancies", "{\"worker\": \"w1\", \"explain\": true}"));
    cr_assert(call_clean(desk, false, "match.explain", "{\"worker\": \"w1\", \"vacancy\": \"v1\"}"));
    cr_assert(call_clean(desk, false, "fair.create", "{\"id\": \"f1\", \"name\": \"Fair\"}"));
    cr_assert(call_clean(desk, false, "fair.register",
                         "{\"fair\": \"f1\", \"vacancies\": [\"v1\"], \"workers\": [\"w1\", \"w2\"]}"));
    cr_assert(call_clean(desk, false, "fair.get", "{\"fair\": \"f1\"}"));
    cr_assert(call_clean(desk, false, "fair.allocate", "{\"fair\": \"f1\"}"));

    /* Refused writes that carry planted values: their errors quote none. */
    const char *bad[] = {
        "{\"worker\": {\"id\": \"w3\", \"birth_year\": 1800, \"region\": \"110105\","
        " \"name\": \"Planted-Name-7QX\", \"phone\": \"13912345678\"}}",
        "{\"worker\": {\"id\": \"w3\", \"birth_year\": 1990, \"region\": \"110105\","
        " \"national_id\": 110105199001017777, \"phone\": \"13912345678\"}}",
        "{\"worker\": {\"id\": \"Planted-Name-7QX 13912345678\", \"birth_year\": 1990,"
        " \"region\": \"110105\"}}",
        "{\"worker\": {\"id\": \"w3\", \"birth_year\": 1990, \"region\": \"13912345678\","
        " \"name\": \"Planted-Name-7QX\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!call_clean(desk, false, "worker.put", bad[i]), "bad[%zu] accepted", i);
    cr_assert(!call_clean(desk, false, "worker.put_many",
                          "{\"workers\": [" PLANTED_WORKER("w4") ", {\"id\": \"w5\","
                          " \"birth_year\": 1990, \"region\": \"13912345678\","
                          " \"name\": \"Planted-Name-7QX\"}]}"));

    /* Outsiders: nothing they can call returns a planted value, whatever
     * they try. */
    jm_client_t *kiosk = jt_connect(d);
    jm_client_t *node = jt_connect_key(d, "node-secret-2", "node");
    jm_client_t *outside[] = {kiosk, node};
    for (int i = 0; i < 2; i++) {
        jm_client_t *c = outside[i];
        cr_assert(call_clean(c, true, "vacancy.list", "{}"));
        cr_assert(call_clean(c, true, "vacancy.get", "{\"id\": \"v1\"}"));
        cr_assert(call_clean(c, true, "match.vacancies",
                             "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\","
                             " \"skills\": [{\"id\": \"weld\", \"level\": 3}]}, \"explain\": true}"));
        cr_assert(!call_clean(c, true, "match.vacancies",
                              "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\","
                              " \"name\": \"Planted-Name-7QX\", \"phone\": \"13912345678\"}}"));
        cr_assert(!call_clean(c, true, "match.vacancies", "{\"worker\": \"w1\"}"));
        cr_assert(!call_clean(c, true, "match.workers", "{\"vacancy\": \"v1\", \"explain\": true}"));
        cr_assert(!call_clean(c, true, "match.explain", "{\"worker\": \"w1\", \"vacancy\": \"v1\"}"));
        cr_assert(!call_clean(c, true, "worker.get", "{\"id\": \"w1\"}"));
        cr_assert(!call_clean(c, true, "worker.list", "{\"region\": \"11\"}"));
        cr_assert(!call_clean(c, true, "worker.put", "{\"worker\": " PLANTED_WORKER("w9") "}"));
        cr_assert(!call_clean(c, true, "fair.get", "{\"fair\": \"f1\"}"));
        cr_assert(!call_clean(c, true, "fair.allocate", "{\"fair\": \"f1\"}"));
    }
    /* A personal value typed as a key. */
    char role[32];
    cr_assert_eq(jm_hello(kiosk, P_PHONE, role, sizeof role), JM_ESERVER);
    cr_assert_null(strstr(kiosk->errstr, P_PHONE));
    cr_assert(call_clean(desk, false, "worker.delete", "{\"id\": \"w2\"}"));
    jm_close(kiosk);
    jm_close(node);
    jm_close(desk);
    cr_assert_eq(jt_daemon_term(d), 0);

    /* The debug log saw all of it (so the check below means something) and
     * holds none of the values. */
    char *log = jt_daemon_log(d);
    cr_assert(strstr(log, "debug conn"), "no debug lines in the log:\n%s", log);
    cr_assert(strstr(log, "hello with an unknown key"), "%s", log);
    const char *planted[] = {P_NAME, P_NID, P_PHONE};
    for (size_t i = 0; i < 3; i++)
        cr_assert_null(strstr(log, planted[i]), "the log holds %s:\n%s", planted[i], log);
    free(log);
    cr_assert_eq(jt_daemon_stop(d), -1);
}
