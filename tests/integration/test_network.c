/* test_network.c - the labour-market network on loopback: two city nodes
 * and a province node that follows both (sync.pull, [peers]). Writes at a
 * city reach the province within a second, carrying their origin; the
 * province's copies are read-only; workers never leave their city; a
 * province killed with SIGKILL while the cities keep writing converges,
 * record for record, once restarted. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

#define NODE_KEY_A "city-a-node-secret-1234"
#define NODE_KEY_B "city-b-node-secret-5678"

typedef struct net {
    jt_daemon_t *city[2];
    jt_daemon_t *province;
} net_t;

static const char *const city_names[2] = {"city-a", "city-b"};

static jt_daemon_t *
start_city(int i)
{
    char ini[256];
    snprintf(ini, sizeof ini, "[server]\nnode = %s\n[keys]\nprovince = node:%s\n",
             city_names[i], i == 0 ? NODE_KEY_A : NODE_KEY_B);
    return jt_daemon_start_ini(ini, NULL);
}

static void
start_net(net_t *n)
{
    n->city[0] = start_city(0);
    n->city[1] = start_city(1);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nsync_interval = 50\n"
             "[peers]\ncity-a = %s %s\ncity-b = %s %s\n",
             n->city[0]->addr, NODE_KEY_A, n->city[1]->addr, NODE_KEY_B);
    n->province = jt_daemon_start_ini(ini, NULL);
}

/* Each daemon must exit cleanly: a follower stopped mid-pull, a leak or a
 * sanitizer report shows up as a non-zero status. */
static void
stop_net(net_t *n)
{
    cr_assert_eq(jt_daemon_stop(n->province), 0, "the province did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(n->city[0]), 0, "city-a did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(n->city[1]), 0, "city-b did not exit cleanly");
}

/* jt_expect_error, naming the line of the test that expected it. */
#define expect_error(r, code, part)                                                  \
    do {                                                                         \
        cr_assert(!(r)->ok, "line %d: expected error %s, got success", __LINE__, code); \
        jt_expect_error(r, code, part);                                        \
    } while (0)

static jm_reply_t *
put_vacancy(jm_client_t *c, const char *id, int headcount)
{
    return jt_call_json(c, "vacancy.put",
                        "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"Acme Works\", "
                        "\"title\": \"Lathe operator\", \"occupation\": \"6-18-01-01\", "
                        "\"region\": \"110105\", \"headcount\": %d, "
                        "\"skills\": [{\"id\": \"lathe\", \"level\": 3}]}}",
                        id, headcount);
}

/* Polls vacancy.get of id at c until it answers with ok == want, for at
 * most ms; returns the milliseconds it took, or -1. */
static int64_t
wait_for(jm_client_t *c, const char *id, bool want, int ms)
{
    int64_t t0 = jt_now_ms();
    for (;;) {
        jm_reply_t *r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
        bool ok = r->ok;
        jm_reply_free(r);
        int64_t took = jt_now_ms() - t0;
        if (ok == want)
            return took;
        if (took > ms)
            return -1;
        jt_sleep_ms(10);
    }
}

/* ---- record sets -------------------------------------------------------- */

typedef struct rec {
    char id[65];
    char *bytes;
    size_t len;
} rec_t;

typedef struct recs {
    rec_t *v;
    size_t n, cap;
} recs_t;

static int
rec_cmp(const void *a, const void *b)
{
    return strcmp(((const rec_t *)a)->id, ((const rec_t *)b)->id);
}

/* Every vacancy of the daemon, as canonical msgpack bytes, appended. */
static void
collect(const jt_daemon_t *d, recs_t *out)
{
    jm_client_t *c = jt_connect_admin(d);
    char cursor[256] = "";
    do {
        jm_reply_t *r = cursor[0]
            ? jt_call_json(c, "vacancy.list", "{\"limit\": 1000, \"cursor\": \"%s\"}", cursor)
            : jt_call_json(c, "vacancy.list", "{\"limit\": 1000}");
        jt_expect_ok(r, "vacancy.list");
        const msgpack_object *arr = jt_need(&r->result, "vacancies");
        for (uint32_t i = 0; i < arr->via.array.size; i++) {
            const msgpack_object *v = &arr->via.array.ptr[i];
            const msgpack_object *id = jt_need(v, "id");
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->v = realloc(out->v, out->cap * sizeof *out->v);
                cr_assert_not_null(out->v);
            }
            rec_t *rc = &out->v[out->n++];
            snprintf(rc->id, sizeof rc->id, "%.*s", (int)id->via.str.size, id->via.str.ptr);
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            msgpack_pack_object(&pk, *v);
            rc->bytes = sb.data;
            rc->len = sb.size;
        }
        const msgpack_object *next = jt_get(&r->result, "cursor");
        if (next && next->type == MSGPACK_OBJECT_STR)
            snprintf(cursor, sizeof cursor, "%.*s", (int)next->via.str.size,
                     next->via.str.ptr);
        else
            cursor[0] = '\0';
        jm_reply_free(r);
    } while (cursor[0]);
    jm_close(c);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, rec_cmp);
}

static void
recs_free(recs_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].bytes);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* True when the province holds exactly the cities' vacancies, byte for
 * byte; why says the first difference otherwise. */
static bool
same_records(const net_t *n, char *why, size_t why_len)
{
    recs_t cities = {0}, prov = {0};
    collect(n->city[0], &cities);
    collect(n->city[1], &cities);
    if (cities.n)
        qsort(cities.v, cities.n, sizeof *cities.v, rec_cmp);
    collect(n->province, &prov);
    bool same = cities.n == prov.n;
    if (!same)
        snprintf(why, why_len, "%zu vacancies at the cities, %zu at the province", cities.n,
                 prov.n);
    for (size_t i = 0; same && i < cities.n; i++) {
        same = strcmp(cities.v[i].id, prov.v[i].id) == 0 &&
               cities.v[i].len == prov.v[i].len &&
               memcmp(cities.v[i].bytes, prov.v[i].bytes, prov.v[i].len) == 0;
        if (!same)
            snprintf(why, why_len, "record %zu differs: %s at a city, %s at the province", i,
                     cities.v[i].id, prov.v[i].id);
    }
    recs_free(&cities);
    recs_free(&prov);
    return same;
}

static void
expect_converges(const net_t *n, int ms)
{
    char why[256] = "";
    int64_t t0 = jt_now_ms();
    while (!same_records(n, why, sizeof why)) {
        cr_assert(jt_now_ms() - t0 < ms, "no convergence within %d ms: %s", ms, why);
        jt_sleep_ms(100);
    }
}

static void
expect_check_ok(const jt_daemon_t *d, const char *what)
{
    jm_client_t *c = jt_connect_admin(d);
    jt_expect_check_clean(c, what);
    jm_close(c);
}

/* ---- tests -------------------------------------------------------------- */

Test(network, writes_reach_the_province_within_a_second)
{
    net_t n;
    start_net(&n);
    jm_client_t *a = jt_connect_admin(n.city[0]);
    jm_client_t *p = jt_connect_admin(n.province);

    jm_reply_t *r = put_vacancy(a, "va-1", 2);
    jt_expect_ok(r, "vacancy.put at city-a");
    jm_reply_free(r);
    int64_t took = wait_for(p, "va-1", true, 1000);
    cr_assert(took >= 0, "va-1 did not reach the province within a second");

    r = jt_call_json(p, "vacancy.get", "{\"id\": \"va-1\"}");
    jt_expect_ok(r, "vacancy.get at the province");
    const msgpack_object *v = jt_need(&r->result, "vacancy");
    cr_assert(jt_str_is(jt_need(v, "origin"), "city-a"), "origin is not city-a");
    cr_assert_eq(jt_get_int(v, "headcount"), 2);
    jm_reply_free(r);

    /* The city's own copy names its origin too. */
    r = jt_call_json(a, "vacancy.get", "{\"id\": \"va-1\"}");
    cr_assert(jt_str_is(jt_need(jt_need(&r->result, "vacancy"), "origin"), "city-a"));
    jm_reply_free(r);

    /* The province's copy is read-only there. */
    r = put_vacancy(p, "va-1", 5);
    expect_error(r, "conflict", "belongs to node city-a");
    jm_reply_free(r);
    r = jt_call_json(p, "vacancy.close", "{\"id\": \"va-1\"}");
    expect_error(r, "conflict", "read-only");
    jm_reply_free(r);
    r = jt_call_json(p, "vacancy.delete", "{\"id\": \"va-1\"}");
    expect_error(r, "conflict", "city-a");
    jm_reply_free(r);
    char *own = strdup(jt_vacancy_json("vp-own"));  /* the helper's buffer is static */
    r = jt_call_json(p, "vacancy.put_many", "{\"vacancies\": [%s, %s]}", own,
                     jt_vacancy_json("va-1"));
    free(own);
    expect_error(r, "conflict", "va-1");
    jm_reply_free(r);
    r = jt_call_json(p, "vacancy.get", "{\"id\": \"vp-own\"}");
    expect_error(r, "not_found", NULL);  /* the batch wrote nothing */
    jm_reply_free(r);

    /* A hire is the owning node's to record: a province counselor may refer
     * one of the province's workers, but not fill a city's vacancy. */
    r = jt_call_json(p, "worker.put", "{\"worker\": %s}", jt_worker_json("wp-1"));
    jt_expect_ok(r, "worker.put at the province");
    jm_reply_free(r);
    r = jt_call_json(p, "referral.create", "{\"worker\": \"wp-1\", \"vacancy\": \"va-1\"}");
    jt_expect_ok(r, "referral.create at the province");
    char ref[32];
    const msgpack_object *rid = jt_need(&r->result, "id");
    snprintf(ref, sizeof ref, "%.*s", (int)rid->via.str.size, rid->via.str.ptr);
    jm_reply_free(r);
    r = jt_call_json(p, "referral.update", "{\"id\": \"%s\", \"status\": \"hired\"}", ref);
    expect_error(r, "conflict", "record the hire at its node city-a");
    jm_reply_free(r);
    r = jt_call_json(p, "vacancy.get", "{\"id\": \"va-1\"}");
    cr_assert_eq(jt_get_int(jt_need(&r->result, "vacancy"), "filled"), 0);
    jm_reply_free(r);

    /* Changes at the city follow: an update, a close, a delete. */
    r = put_vacancy(a, "va-1", 7);
    jt_expect_ok(r, "update at city-a");
    jm_reply_free(r);
    int64_t t0 = jt_now_ms();
    for (;;) {
        r = jt_call_json(p, "vacancy.get", "{\"id\": \"va-1\"}");
        jt_expect_ok(r, "vacancy.get");
        int64_t hc = jt_get_int(jt_need(&r->result, "vacancy"), "headcount");
        jm_reply_free(r);
        if (hc == 7)
            break;
        cr_assert(jt_now_ms() - t0 < 1000, "the update did not arrive within a second");
        jt_sleep_ms(10);
    }
    r = jt_call_json(a, "vacancy.delete", "{\"id\": \"va-1\"}");
    jt_expect_ok(r, "delete at city-a");
    jm_reply_free(r);
    cr_assert(wait_for(p, "va-1", false, 1000) >= 0, "the delete did not arrive");

    /* Workers never leave their city. */
    r = jt_call_json(a, "worker.put", "{\"worker\": %s}", jt_worker_json("wa-1"));
    jt_expect_ok(r, "worker.put at city-a");
    jm_reply_free(r);
    r = put_vacancy(a, "va-2", 1);  /* written after the worker: its arrival proves
                                       the worker's entry was passed over */
    jm_reply_free(r);
    cr_assert(wait_for(p, "va-2", true, 1000) >= 0);
    r = jt_call_json(p, "worker.get", "{\"id\": \"wa-1\"}");
    expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(p, "workers"), 1, "only the province's own worker");

    /* admin.info reports each peer and its lag. */
    r = jt_call(p, "admin.info", NULL);
    jt_expect_ok(r, "admin.info");
    const msgpack_object *peers = jt_need(&r->result, "peers");
    cr_assert_eq(peers->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(peers->via.array.size, 2);
    const msgpack_object *pa = &peers->via.array.ptr[0];
    cr_assert(jt_str_is(jt_need(pa, "name"), "city-a"));
    cr_assert(jt_str_is(jt_need(pa, "node"), "city-a"));
    cr_assert_eq(jt_get_int(pa, "lag"), 0);
    cr_assert_geq(jt_get_int(pa, "cursor"), 4);
    cr_assert_eq(jt_need(pa, "error")->type, MSGPACK_OBJECT_NIL);
    jm_reply_free(r);

    jm_close(a);
    jm_close(p);
    stop_net(&n);
}

Test(network, sync_pull_is_for_nodes_and_sends_no_workers)
{
    net_t n = {0};
    n.city[0] = start_city(0);
    jm_client_t *a = jt_connect_admin(n.city[0]);
    jm_reply_t *r = jt_call_json(a, "worker.put", "{\"worker\": %s}", jt_worker_json("wa-9"));
    jm_reply_free(r);
    r = put_vacancy(a, "va-9", 1);
    jm_reply_free(r);

    jm_client_t *k = jt_connect(n.city[0]);
    r = jt_call_json(k, "sync.pull", "{}");
    expect_error(r, "forbidden", NULL);
    jm_reply_free(r);

    jm_client_t *node = jt_connect_key(n.city[0], NODE_KEY_A, "node");
    r = jt_call_json(node, "sync.pull", "{\"after\": 0, \"limit\": 10}");
    jt_expect_ok(r, "sync.pull");
    const msgpack_object *e = jt_need(&r->result, "entries");
    cr_assert_eq(e->via.array.size, 1, "only the vacancy's entry is sent");
    cr_assert(jt_str_is(jt_need(&e->via.array.ptr[0], "op"), "put"));
    cr_assert_eq(jt_get_int(&e->via.array.ptr[0], "seq"), 2);
    cr_assert_eq(jt_get_int(&r->result, "next"), 2);
    cr_assert_eq(jt_get_int(&r->result, "last"), 2);
    jm_reply_free(r);
    r = jt_call_json(node, "sync.pull", "{\"after\": 0, \"limit\": 1}");
    cr_assert_eq(jt_need(&r->result, "entries")->via.array.size, 0);
    cr_assert_eq(jt_get_int(&r->result, "next"), 1, "the worker's entry advances next");
    jm_reply_free(r);
    r = jt_call_json(node, "sync.pull", "{\"limit\": 0}");
    expect_error(r, "bad_request", "limit");
    jm_reply_free(r);
    jm_close(node);
    jm_close(k);
    jm_close(a);
    cr_assert_eq(jt_daemon_stop(n.city[0]), 0, "city-a did not exit cleanly");
}

typedef struct load {
    const net_t *n;
    atomic_bool stop;
    atomic_int writes, failures;
} load_t;

/* Keeps both cities writing: new vacancies, updates of earlier ones and
 * deletes, until told to stop. */
static void *
write_load(void *arg)
{
    load_t *l = arg;
    jm_client_t *c[2];
    for (int i = 0; i < 2; i++) {
        char role[16];
        c[i] = jm_connect(l->n->city[i]->addr, JT_IO_TIMEOUT_MS, NULL, 0);
        if (!c[i] || jm_hello(c[i], JT_ADMIN_KEY, role, sizeof role) != 0) {
            atomic_fetch_add(&l->failures, 1);
            return NULL;
        }
    }
    for (int k = 0; !atomic_load(&l->stop) || k < 60; k++) {
        int city = k % 2;
        char args[512], id[32];
        const char *op = "vacancy.put";
        if (k % 7 == 6) {
            op = "vacancy.delete";
            snprintf(id, sizeof id, "v%c-%d", 'a' + city, k - 4);
            snprintf(args, sizeof args, "{\"id\": \"%s\"}", id);
        } else {
            snprintf(id, sizeof id, "v%c-%d", 'a' + city, k % 5 == 4 ? k - 2 : k);
            snprintf(args, sizeof args,
                     "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"Works %d\", "
                     "\"title\": \"Welder\", \"occupation\": \"6-05-02-03\", "
                     "\"region\": \"%s\", \"headcount\": %d, "
                     "\"skills\": [{\"id\": \"weld\", \"level\": 2}]}}",
                     id, k, city ? "110106" : "120101", 1 + k % 4);
        }
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        char err[128];
        int rc = jm_json_to_msgpack(args, &sb, err, sizeof err);
        jm_reply_t *r = NULL;
        if (rc == 0)
            rc = jm_call(c[city], op, sb.data, sb.size, &r);
        msgpack_sbuffer_destroy(&sb);
        if (rc != 0 && rc != JM_ESERVER)
            atomic_fetch_add(&l->failures, 1);
        else if (r->ok)
            atomic_fetch_add(&l->writes, 1);
        else if (strcmp(r->error_code, "not_found") != 0)
            atomic_fetch_add(&l->failures, 1);
        jm_reply_free(r);
        if (k % 2 == 1)
            jt_sleep_ms(2);
    }
    jm_close(c[0]);
    jm_close(c[1]);
    return NULL;
}

Test(network, province_killed_while_cities_write_converges, .timeout = 120)
{
    net_t n;
    start_net(&n);
    load_t l = {.n = &n};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, write_load, &l), 0);
    jt_sleep_ms(400);
    jt_daemon_kill9(n.province);
    jt_sleep_ms(600);  /* the cities go on writing meanwhile */
    jt_daemon_restart(n.province);
    jt_sleep_ms(300);
    jt_daemon_kill9(n.province);  /* once more, likely in the middle of a batch */
    jt_daemon_restart(n.province);
    jt_sleep_ms(400);
    atomic_store(&l.stop, true);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&l.failures), 0, "city writes failed");
    cr_assert_gt(atomic_load(&l.writes), 100, "too few writes to prove anything");

    expect_converges(&n, 10000);
    expect_check_ok(n.city[0], "city-a");
    expect_check_ok(n.city[1], "city-b");
    expect_check_ok(n.province, "the province");

    /* A restart with nothing new changes nothing. */
    jt_daemon_restart(n.province);
    jt_sleep_ms(300);
    expect_converges(&n, 5000);
    stop_net(&n);
}

/* A national node following the province gets the city's vacancies through
 * it, still naming the city as their origin, and read-only there too. */
Test(network, a_chain_passes_vacancies_on_with_their_origin)
{
    jt_daemon_t *city = start_city(0);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nsync_interval = 50\n"
             "[keys]\nnational = node:national-node-secret-99\n"
             "[peers]\ncity-a = %s %s\n", city->addr, NODE_KEY_A);
    jt_daemon_t *prov = jt_daemon_start_ini(ini, NULL);
    snprintf(ini, sizeof ini,
             "[server]\nnode = national\nsync_interval = 50\n"
             "[peers]\nprovince-11 = %s national-node-secret-99\n", prov->addr);
    jt_daemon_t *nat = jt_daemon_start_ini(ini, NULL);

    jm_client_t *a = jt_connect_admin(city);
    jm_client_t *n = jt_connect_admin(nat);
    jm_reply_t *r = put_vacancy(a, "va-c1", 3);
    jt_expect_ok(r, "vacancy.put at city-a");
    jm_reply_free(r);
    cr_assert(wait_for(n, "va-c1", true, 2000) >= 0, "va-c1 did not reach the national node");
    r = jt_call_json(n, "vacancy.get", "{\"id\": \"va-c1\"}");
    cr_assert(jt_str_is(jt_need(jt_need(&r->result, "vacancy"), "origin"), "city-a"));
    jm_reply_free(r);
    r = jt_call_json(n, "vacancy.close", "{\"id\": \"va-c1\"}");
    expect_error(r, "conflict", "city-a");
    jm_reply_free(r);

    r = jt_call_json(a, "vacancy.delete", "{\"id\": \"va-c1\"}");
    jt_expect_ok(r, "vacancy.delete at city-a");
    jm_reply_free(r);
    cr_assert(wait_for(n, "va-c1", false, 2000) >= 0, "the delete did not reach the national node");
    expect_check_ok(nat, "the national node");

    jm_close(a);
    jm_close(n);
    cr_assert_eq(jt_daemon_stop(nat), 0);
    cr_assert_eq(jt_daemon_stop(prov), 0);
    cr_assert_eq(jt_daemon_stop(city), 0);
}

/* A city killed with SIGKILL comes back on its address: the province
 * reconnects and takes up from its cursor; what the city acknowledged
 * before dying arrives, and nothing twice. */
Test(network, a_city_killed_and_restarted_is_followed_again, .timeout = 60)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", jt_free_port());
    const char *args[] = {"--listen", listen, NULL};
    net_t n;
    char ini[512];
    snprintf(ini, sizeof ini, "[server]\nnode = city-a\n[keys]\nprovince = node:%s\n",
             NODE_KEY_A);
    n.city[0] = jt_daemon_start_ini(ini, args);
    n.city[1] = start_city(1);
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nsync_interval = 50\n"
             "[peers]\ncity-a = %s %s\ncity-b = %s %s\n",
             n.city[0]->addr, NODE_KEY_A, n.city[1]->addr, NODE_KEY_B);
    n.province = jt_daemon_start_ini(ini, NULL);

    for (int round = 0; round < 3; round++) {
        jm_client_t *a = jt_connect_admin(n.city[0]);
        for (int i = 0; i < 40; i++) {
            char id[32];
            snprintf(id, sizeof id, "vk-%d-%d", round, i);
            jm_reply_t *r = put_vacancy(a, id, 1 + i % 3);
            jt_expect_ok(r, "vacancy.put at city-a");
            jm_reply_free(r);
        }
        jm_close(a);
        jt_daemon_kill9(n.city[0]);
        jt_sleep_ms(300);  /* the province finds it gone meanwhile */
        jt_daemon_restart(n.city[0]);
        cr_assert_str_eq(n.city[0]->addr, listen);
    }
    expect_converges(&n, 10000);
    expect_check_ok(n.province, "the province");
    stop_net(&n);
}

/* The alerts of subscription 1 at c. */
static uint32_t
alerts_of_first(jm_client_t *c)
{
    jm_reply_t *r = jt_call_json(c, "alert.list", "{\"subscription\": 1}");
    jt_expect_ok(r, "alert.list");
    uint32_t n = jt_need(&r->result, "alerts")->via.array.size;
    jm_reply_free(r);
    return n;
}

/* The copy's filled count at c, once it reaches want (within a second). */
static void
wait_for_filled(jm_client_t *c, const char *id, int64_t want)
{
    int64_t t0 = jt_now_ms();
    for (;;) {
        jm_reply_t *r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
        int64_t filled = r->ok ? jt_get_int(jt_need(&r->result, "vacancy"), "filled") : -1;
        jm_reply_free(r);
        if (filled == want)
            return;
        cr_assert(jt_now_ms() - t0 < 1000, "%s: filled %lld, not %lld within a second", id,
                  (long long)filled, (long long)want);
        jt_sleep_ms(10);
    }
}

/* A hire at a vacancy's own node reaches its copies as a put; a
 * subscriber at the province hears of the vacancy when it comes and when
 * the city changes it, not when the city fills a place of it. */
Test(network, a_hire_at_the_origin_raises_no_alert_at_a_copy, .timeout = 60)
{
    net_t n;
    start_net(&n);
    jm_client_t *a = jt_connect_admin(n.city[0]);
    jm_client_t *p = jt_connect_admin(n.province);
    jm_reply_t *r = jt_call_json(p, "worker.put",
                                 "{\"worker\": {\"id\": \"wp\", \"birth_year\": 1990, "
                                 "\"region\": \"110105\", \"desired_occupations\": [\"6-18-01\"], "
                                 "\"skills\": [{\"id\": \"lathe\", \"level\": 3}]}}");
    jt_expect_ok(r, "worker.put at the province");
    jm_reply_free(r);
    jm_client_t *s = jt_connect_admin(n.province);
    r = jt_call_json(s, "alert.subscribe", "{\"worker\": \"wp\"}");
    jt_expect_ok(r, "alert.subscribe at the province");
    jm_reply_free(r);
    jm_close(s);

    r = put_vacancy(a, "va-h", 3);
    jt_expect_ok(r, "vacancy.put at city-a");
    jm_reply_free(r);
    cr_assert(wait_for(p, "va-h", true, 1000) >= 0, "the vacancy did not arrive");
    cr_assert_eq(alerts_of_first(p), 1, "the copy's arrival alerts");

    r = jt_call_json(a, "worker.put", "{\"worker\": %s}", jt_worker_json("wa-1"));
    jt_expect_ok(r, "worker.put at city-a");
    jm_reply_free(r);
    const char *ref = jt_refer(a, "wa-1", "va-h", NULL);
    r = jt_call_json(a, "referral.update", "{\"id\": \"%s\", \"status\": \"hired\"}", ref);
    jt_expect_ok(r, "hired at city-a");
    jm_reply_free(r);
    wait_for_filled(p, "va-h", 1);
    cr_assert_eq(alerts_of_first(p), 1, "the hire at the origin alerted at the copy");

    r = put_vacancy(a, "va-h", 4);  /* its content changes: a put there, an alert here */
    jt_expect_ok(r, "update at city-a");
    jm_reply_free(r);
    int64_t t0 = jt_now_ms();
    while (alerts_of_first(p) < 2) {
        cr_assert(jt_now_ms() - t0 < 1000, "the update did not alert within a second");
        jt_sleep_ms(10);
    }
    jm_close(a);
    jm_close(p);
    stop_net(&n);
}
