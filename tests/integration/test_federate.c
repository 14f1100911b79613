/* test_federate.c - network-wide requests on loopback. Two cities and a
 * province that follows both, each with vacancies of its own; city-a also
 * has the province and city-b as [peers]. A federated match.vacancies at
 * the province and at city-a equals the same query at a fourth daemon
 * holding the union of the vacancies (ids, order, scores within 1e-9,
 * and each match's node), for many random profiles and stored workers;
 * with a city killed, the reply names it missing and the rest comes back;
 * a peer that never answers costs federation_timeout_ms and is named; a
 * national node asking two provinces, one behind, takes the counts of
 * the current one. The roll-up of stats.supply_demand equals the union's
 * figures too. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

#define KEY_PROVINCE_AT_A "province-at-a-secret-1111"
#define KEY_PROVINCE_AT_B "province-at-b-secret-2222"
#define KEY_A_AT_B "city-a-at-b-secret-3333"
#define KEY_A_AT_PROVINCE "city-a-at-province-secret-4444"

#define AS_OF 1780000000  /* 2026-05-28 */

typedef struct fnet {
    jt_daemon_t *a, *b, *province, *uni;
} fnet_t;

static void
start_fnet(fnet_t *n)
{
    char a_listen[64], a_addr[64], ini[1024];
    int port = jt_free_port();
    snprintf(a_listen, sizeof a_listen, "127.0.0.1:%d", port);
    snprintf(a_addr, sizeof a_addr, "127.0.0.1:%d", port);
    snprintf(ini, sizeof ini,
             "[server]\nnode = city-b\n[keys]\nprovince = node:%s\ncity-a = node:%s\n",
             KEY_PROVINCE_AT_B, KEY_A_AT_B);
    n->b = jt_daemon_start_ini(ini, NULL);
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nsync_interval = 50\n"
             "[keys]\ncity-a = node:%s\n"
             "[peers]\ncity-a = %s %s\ncity-b = %s %s\n",
             KEY_A_AT_PROVINCE, a_addr, KEY_PROVINCE_AT_A, n->b->addr, KEY_PROVINCE_AT_B);
    n->province = jt_daemon_start_ini(ini, NULL);
    snprintf(ini, sizeof ini,
             "[server]\nnode = city-a\nsync_interval = 50\nfederation_timeout_ms = 3000\n"
             "[keys]\nprovince = node:%s\n"
             "[peers]\ncity-b = %s %s\nprovince = %s %s\n",
             KEY_PROVINCE_AT_A, n->b->addr, KEY_A_AT_B, n->province->addr, KEY_A_AT_PROVINCE);
    const char *args[] = {"--listen", a_listen, NULL};
    n->a = jt_daemon_start_ini(ini, args);
    n->uni = jt_daemon_start_ini("[server]\nnode = union\n", NULL);
}

/* A network-wide match.vacancies for a welder's profile in 110105. */
static jm_reply_t *
weld_network_match(jm_client_t *c)
{
    return jt_call_json(c, "match.vacancies",
                        "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\", "
                        "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}, "
                        "\"scope\": \"network\"}");
}

static const char *const skills[] = {"weld", "lathe", "cook", "drive", "sew", "c",
                                     "excel", "paint", "forklift", "nurse"};
#define NSK (sizeof skills / sizeof skills[0])
static const char *const occupations[] = {"6-18-01-01", "6-18-01-02", "6-18-02-01",
                                          "4-03-01-01", "4-03-02-05", "2-02-01-01"};
#define NOCC (sizeof occupations / sizeof occupations[0])
static const char *const regions[] = {"110105", "110108", "110221", "440305", "440106"};
#define NREG (sizeof regions / sizeof regions[0])
static const char *const categories[] = {"laid_off", "unemployed", "graduate", "migrant",
                                         "other"};

/* A random skills array: n distinct skills with levels. */
static void
skills_json(char *out, size_t len, int n)
{
    bool used[NSK] = {false};
    size_t o = (size_t)snprintf(out, len, "[");
    for (int i = 0; i < n; i++) {
        int s;
        do
            s = rand() % (int)NSK;
        while (used[s]);
        used[s] = true;
        o += (size_t)snprintf(out + o, len - o, "%s{\"id\": \"%s\", \"level\": %d}",
                              i ? ", " : "", skills[s], 1 + rand() % 5);
    }
    snprintf(out + o, len - o, "]");
}

static void
random_vacancy(char *out, size_t len, const char *id)
{
    char sk[512];
    skills_json(sk, sizeof sk, rand() % 4);
    int wage_min = 3000 + 500 * (rand() % 8);
    int wage_max = rand() % 4 ? wage_min + 1000 * (rand() % 5) : 0;
    snprintf(out, len,
             "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"E%d\", \"title\": \"T\", "
             "\"occupation\": \"%s\", \"region\": \"%s\", \"skills\": %s, "
             "\"education_min\": %d, \"age_min\": %d, \"age_max\": %d, "
             "\"wage_min\": %d, \"wage_max\": %d, \"headcount\": %d, "
             "\"priority_categories\": [\"%s\"], \"expires\": %d, \"status\": \"%s\"}}",
             id, rand() % 5, occupations[rand() % NOCC], regions[rand() % NREG], sk,
             rand() % 5, rand() % 3 ? 0 : 18 + rand() % 10, rand() % 3 ? 0 : 40 + rand() % 20,
             wage_min, wage_max, 1 + rand() % 3, categories[rand() % 5],
             rand() % 6 ? 0 : AS_OF - 100 + 200 * (rand() % 2), rand() % 7 ? "open" : "closed");
}

/* A worker map without an id (a profile), or with one. */
static void
random_worker(char *out, size_t len, const char *id)
{
    char sk[512], idf[96] = "";
    skills_json(sk, sizeof sk, 1 + rand() % 4);
    if (id)
        snprintf(idf, sizeof idf, "\"id\": \"%s\", \"name\": \"Wang Fang\", ", id);
    snprintf(out, len,
             "{%s\"birth_year\": %d, \"region\": \"%s\", \"education\": %d, \"skills\": %s, "
             "\"desired_occupations\": [\"%s\"], \"wage_min\": %d, \"category\": \"%s\"}",
             idf, 1965 + rand() % 40, regions[rand() % NREG], rand() % 8, sk,
             rand() % 2 ? occupations[rand() % NOCC] : "6-18", 2000 + 500 * (rand() % 10),
             categories[rand() % 5]);
}

static void
put_json(jm_client_t *c, const char *op, const char *json)
{
    jm_reply_t *r = jt_call_json(c, op, "%s", json);
    jt_expect_ok(r, op);
    jm_reply_free(r);
}

static bool
has_vacancy(const jt_daemon_t *d, const char *id)
{
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
    bool ok = r->ok;
    jm_reply_free(r);
    jm_close(c);
    return ok;
}

static void
wait_vacancy(const jt_daemon_t *d, const char *id)
{
    int64_t t0 = jt_now_ms();
    while (!has_vacancy(d, id)) {
        cr_assert(jt_now_ms() - t0 < 30000, "%s never arrived", id);
        jt_sleep_ms(50);
    }
}

#define PER_NODE 120

/* Each of city-a, city-b and the province writes vacancies of its own
 * (the union daemon all of them), and the copies settle. */
static void
load(fnet_t *n)
{
    jt_daemon_t *owner[3] = {n->a, n->b, n->province};
    const char *prefix[3] = {"a", "b", "p"};
    jm_client_t *u = jt_connect_admin(n->uni);
    char json[2048], id[32];
    for (int k = 0; k < 3; k++) {
        jm_client_t *c = jt_connect_admin(owner[k]);
        for (int i = 0; i < PER_NODE; i++) {
            snprintf(id, sizeof id, "%s-%03d", prefix[k], i);
            random_vacancy(json, sizeof json, id);
            put_json(c, "vacancy.put", json);
            put_json(u, "vacancy.put", json);
        }
        jm_close(c);
    }
    jm_close(u);
    snprintf(id, sizeof id, "a-%03d", PER_NODE - 1);
    wait_vacancy(n->province, id);
    snprintf(id, sizeof id, "b-%03d", PER_NODE - 1);
    wait_vacancy(n->province, id);
    wait_vacancy(n->a, id);
    snprintf(id, sizeof id, "p-%03d", PER_NODE - 1);
    wait_vacancy(n->a, id);
}

static const char *
node_of(const char *id)
{
    return id[0] == 'a' ? "city-a" : id[0] == 'b' ? "city-b" : "province-11";
}

/* The federated reply equals the union's, match for match. */
static unsigned matches_compared;

static void
expect_same(const jm_reply_t *fed, const jm_reply_t *uni, const char *what, int q)
{
    jt_expect_ok(fed, what);
    jt_expect_ok(uni, "match.vacancies at the union");
    const msgpack_object *fm = jt_need(&fed->result, "matches");
    const msgpack_object *um = jt_need(&uni->result, "matches");
    cr_assert_eq(fm->via.array.size, um->via.array.size, "%s, query %d: %u matches, union %u",
                 what, q, fm->via.array.size, um->via.array.size);
    for (uint32_t i = 0; i < fm->via.array.size; i++) {
        const msgpack_object *f = &fm->via.array.ptr[i], *u = &um->via.array.ptr[i];
        const msgpack_object *fid = jt_need(f, "id"), *uid = jt_need(u, "id");
        char id[80];
        snprintf(id, sizeof id, "%.*s", (int)uid->via.str.size, uid->via.str.ptr);
        cr_assert(jt_str_is(fid, id), "%s, query %d: match %u is %.*s, union has %s", what, q,
                  i, (int)fid->via.str.size, fid->via.str.ptr, id);
        double fs = jt_need(f, "score")->via.f64, us = jt_need(u, "score")->via.f64;
        cr_assert(fabs(fs - us) <= 1e-9, "%s, query %d: %s scores %.12f, union %.12f", what, q,
                  id, fs, us);
        cr_assert(jt_str_is(jt_need(f, "node"), node_of(id)), "%s: %s names the wrong node",
                  what, id);
    }
    cr_assert_eq(jt_need(&fed->result, "missing")->via.array.size, 0, "%s: a peer is missing",
                 what);
    matches_compared += fm->via.array.size;
}

/* A roll-up's rows (list, each labelled by label) and total equal the
 * union's, counter for counter, and no peer is missing. */
typedef struct rows_shape {
    const char *list, *label;
    const char *counters[3];
    int n_counters;
} rows_shape_t;

static void
expect_same_rows(const jm_reply_t *fed, const jm_reply_t *uni, const rows_shape_t *sh,
                 const char *what)
{
    jt_expect_ok(fed, what);
    jt_expect_ok(uni, what);
    const msgpack_object *fl = jt_need(&fed->result, sh->list);
    const msgpack_object *ul = jt_need(&uni->result, sh->list);
    cr_assert_eq(fl->via.array.size, ul->via.array.size, "%s: %u %s, union %u", what,
                 fl->via.array.size, sh->list, ul->via.array.size);
    for (uint32_t i = 0; i < fl->via.array.size; i++) {
        const msgpack_object *f = &fl->via.array.ptr[i], *u = &ul->via.array.ptr[i];
        const msgpack_object *ulabel = jt_need(u, sh->label);
        char label[32];
        snprintf(label, sizeof label, "%.*s", (int)ulabel->via.str.size, ulabel->via.str.ptr);
        cr_assert(jt_str_is(jt_need(f, sh->label), label), "%s: %s %u", what, sh->label, i);
        for (int k = 0; k < sh->n_counters; k++)
            cr_assert_eq(jt_need(f, sh->counters[k])->via.u64,
                         jt_need(u, sh->counters[k])->via.u64, "%s: %s %s, %s", what,
                         sh->label, label, sh->counters[k]);
    }
    const msgpack_object *ft = jt_need(&fed->result, "total");
    const msgpack_object *ut = jt_need(&uni->result, "total");
    for (int k = 0; k < sh->n_counters; k++)
        cr_assert_eq(jt_need(ft, sh->counters[k])->via.u64, jt_need(ut, sh->counters[k])->via.u64,
                     "%s: total %s", what, sh->counters[k]);
    cr_assert_eq(jt_need(&fed->result, "missing")->via.array.size, 0, "%s: missing", what);
    cr_assert_eq(jt_need(&fed->result, "answered")->via.array.size, 3, "%s: answered", what);
}

static const rows_shape_t supply_demand_rows = {
    "groups", "group", {"openings", "vacancies", "applicants"}, 3};
static const rows_shape_t reemployment_rows = {
    "categories", "category", {"registered", "hired"}, 2};

/* The roll-up of stats.supply_demand equals the union's, group for group. */
static void
expect_same_figures(const jm_reply_t *fed, const jm_reply_t *uni, const char *what)
{
    expect_same_rows(fed, uni, &supply_demand_rows, what);
    cr_assert_gt(jt_need(jt_need(&uni->result, "total"), "vacancies")->via.u64, 0,
                 "%s: nothing to compare", what);
}

/* stats.reemployment's roll-up equals the union's, category for category. */
static void
expect_same_categories(const jm_reply_t *fed, const jm_reply_t *uni, const char *what)
{
    expect_same_rows(fed, uni, &reemployment_rows, what);
    cr_assert_eq(jt_need(&fed->result, "categories")->via.array.size, 5, "%s: categories",
                 what);
    const msgpack_object *ft = jt_need(&fed->result, "total");
    const msgpack_object *ut = jt_need(&uni->result, "total");
    cr_assert_gt(jt_need(ut, "hired")->via.u64, 0, "%s: no hire to compare", what);
    cr_assert(fabs(jt_need(ft, "rate")->via.f64 - jt_need(ut, "rate")->via.f64) < 1e-12);
    cr_assert(jt_str_is(jt_need(&fed->result, "period"), "2026"));
}

/* city's admin.stats: connections accepted since it started. */
static uint64_t
connections_accepted(jm_client_t *c)
{
    jm_reply_t *r = jt_call_json(c, "admin.stats", "{}");
    jt_expect_ok(r, "admin.stats");
    uint64_t n = jt_need(jt_need(&r->result, "connections"), "total")->via.u64;
    jm_reply_free(r);
    return n;
}

/* d's admin.stats "network" figure `key` ("requests", "ranked_again"), or,
 * with peer set, how many requests that [peers] line was left out of. */
static int64_t
network_stat(const jt_daemon_t *d, const char *key, const char *peer)
{
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "admin.stats", "{}");
    jt_expect_ok(r, "admin.stats");
    const msgpack_object *net = jt_need(&r->result, "network");
    int64_t n = peer ? jt_get_int(jt_need(net, "missing"), peer) : jt_get_int(net, key);
    jm_reply_free(r);
    jm_close(c);
    return n;
}

/* How many match.counts requests (a network-wide match's first round) a
 * node has answered. */
static uint64_t
match_counts_answered(jm_client_t *c)
{
    jm_reply_t *r = jt_call_json(c, "admin.stats", "{}");
    jt_expect_ok(r, "admin.stats");
    const msgpack_object *ops = jt_need(&r->result, "ops");
    uint64_t n = jt_need(jt_need(ops, "match.counts"), "requests")->via.u64;
    jm_reply_free(r);
    return n;
}

/* A network-wide match of a random profile that every peer answers. */
static void
network_match_ok(jm_client_t *c, char *profile, size_t cap, const char *what)
{
    random_worker(profile, cap, NULL);
    jm_reply_t *r = jt_call_json(c, "match.vacancies",
                                 "{\"profile\": %s, \"scope\": \"network\", \"as_of\": %d}",
                                 profile, AS_OF);
    jt_expect_ok(r, what);
    cr_assert_eq(jt_need(&r->result, "missing")->via.array.size, 0, "%s: a peer is missing",
                 what);
    cr_assert_eq(jt_need(&r->result, "answered")->via.array.size, 3, "%s", what);
    jm_reply_free(r);
}

/* op with args at the union, and its roll-up (network) at the province
 * and at city-a, compared by expect. */
static void
compare_rollup(jm_client_t *uni, jm_client_t *prov, jm_client_t *city, const char *op,
               const char *args,
               void (*expect)(const jm_reply_t *, const jm_reply_t *, const char *))
{
    jm_reply_t *ru = jt_call_json(uni, op, "{%s}", args);
    jm_reply_t *rp = jt_call_json(prov, op, "{%s, \"network\": true}", args);
    jm_reply_t *ra = jt_call_json(city, op, "{%s, \"network\": true}", args);
    expect(rp, ru, args);
    expect(ra, ru, args);
    jm_reply_free(ru);
    jm_reply_free(rp);
    jm_reply_free(ra);
}

/* Refers worker wid to vacancy vid and hires them; false when the
 * referral is refused (a vacancy closed or full, say). */
static bool
hire(jm_client_t *c, const char *wid, const char *vid)
{
    jm_reply_t *r = jt_call_json(c, "referral.create", "{\"worker\": \"%s\", \"vacancy\": \"%s\"}",
                                 wid, vid);
    if (!r->ok) {
        jm_reply_free(r);
        return false;
    }
    const msgpack_object *id = jt_need(&r->result, "id");
    char rid[32];
    snprintf(rid, sizeof rid, "%.*s", (int)id->via.str.size, id->via.str.ptr);
    jm_reply_free(r);
    r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"hired\"}", rid);
    jt_expect_ok(r, "referral.update to hired");
    jm_reply_free(r);
    return true;
}

Test(federate, a_network_match_equals_one_node_holding_the_union, .timeout = 180)
{
    srand(20261126);
    fnet_t n;
    start_fnet(&n);
    load(&n);
    jm_client_t *prov = jt_connect(n.province), *a = jt_connect(n.a), *u = jt_connect(n.uni);
    char profile[1024];
    int queries = jt_instrumented() ? 30 : 120;
    for (int q = 0; q < queries; q++) {
        random_worker(profile, sizeof profile, NULL);
        int limit = 1 + rand() % 30;
        jm_reply_t *ru = jt_call_json(u, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"all\", \"limit\": %d, "
                                      "\"as_of\": %d}", profile, limit, AS_OF);
        jm_reply_t *rp = jt_call_json(prov, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"network\", \"limit\": %d, "
                                      "\"as_of\": %d}", profile, limit, AS_OF);
        jm_reply_t *ra = jt_call_json(a, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"network\", \"limit\": %d, "
                                      "\"as_of\": %d}", profile, limit, AS_OF);
        expect_same(rp, ru, "at the province", q);
        expect_same(ra, ru, "at city-a", q);
        jm_reply_free(ru);
        jm_reply_free(rp);
        jm_reply_free(ra);
    }
    jm_close(prov);
    jm_close(a);
    jm_close(u);
    /* Most profiles find something, from every node. */
    cr_assert_gt(matches_compared, (unsigned)(2 * queries * 3), "%u matches compared",
                 matches_compared);

    /* Stored workers: registered at city-a (and at the union); what goes
     * to the peers is a profile, so they never learn who asks. */
    jm_client_t *aa = jt_connect_admin(n.a), *ua = jt_connect_admin(n.uni);
    char worker[1200], id[32];
    for (int q = 0; q < 20; q++) {
        snprintf(id, sizeof id, "w-%02d", q);
        random_worker(worker, sizeof worker, id);
        char put[1300];
        snprintf(put, sizeof put, "{\"worker\": %s}", worker);
        put_json(aa, "worker.put", put);
        put_json(ua, "worker.put", put);
        jm_reply_t *ru = jt_call_json(ua, "match.vacancies",
                                      "{\"worker\": \"%s\", \"scope\": \"all\", \"as_of\": %d}",
                                      id, AS_OF);
        jm_reply_t *ra = jt_call_json(aa, "match.vacancies",
                                      "{\"worker\": \"%s\", \"scope\": \"network\", "
                                      "\"as_of\": %d}", id, AS_OF);
        expect_same(ra, ru, "a stored worker at city-a", q);
        jm_reply_free(ru);
        jm_reply_free(ra);
    }

    /* Workers at every node (the union has them all): the roll-up of
     * stats.supply_demand sums each node's own figures. */
    jt_daemon_t *owner[3] = {n.a, n.b, n.province};
    for (int k = 0; k < 3; k++) {
        jm_client_t *c = jt_connect_admin(owner[k]);
        for (int i = 0; i < 25; i++) {
            snprintf(id, sizeof id, "w%d-%02d", k, i);
            random_worker(worker, sizeof worker, id);
            char put[1300];
            snprintf(put, sizeof put, "{\"worker\": %s}", worker);
            put_json(c, "worker.put", put);
            put_json(ua, "worker.put", put);
        }
        jm_close(c);
    }
    static const char *const rollups[] = {
        "\"period\": \"2026\"",
        "\"period\": \"2026\", \"by\": \"minor\"",
        "\"period\": \"2026\", \"by\": \"county\"",
        "\"period\": \"2026\", \"by\": \"city\", \"region\": \"11\"",
        "\"period\": \"2026\", \"by\": \"detail\", \"occupation\": \"6-18\"",
    };
    jm_close(aa);
    jm_client_t *pa = jt_connect(n.province);
    aa = jt_connect(n.a);
    for (size_t i = 0; i < sizeof rollups / sizeof rollups[0]; i++)
        compare_rollup(ua, pa, aa, "stats.supply_demand", rollups[i], expect_same_figures);

    /* Hires through referrals at city-a and the province, the same ones at
     * the union: the roll-up of stats.reemployment sums each node's
     * registered workers and hires, category by category. */
    jt_daemon_t *hiring[2] = {n.a, n.province};
    unsigned hires = 0;
    for (int k = 0; k < 2; k++) {
        jm_client_t *c = jt_connect_admin(hiring[k]);
        for (int i = 0; i < 8; i++) {
            char wid[32], vid[32];
            snprintf(wid, sizeof wid, "w%d-%02d", k == 0 ? 0 : 2, i);
            snprintf(vid, sizeof vid, "%s-%03d", k == 0 ? "a" : "p", i);
            if (hire(c, wid, vid)) {
                cr_assert(hire(ua, wid, vid), "the union refused the hire of %s", wid);
                hires++;
            }
        }
        jm_close(c);
    }
    cr_assert_geq(hires, 4, "only %u hires", hires);
    static const char *const reemp[] = {"\"period\": \"2026\"",
                                        "\"period\": \"2026\", \"region\": \"11\""};
    for (size_t i = 0; i < sizeof reemp / sizeof reemp[0]; i++)
        compare_rollup(ua, pa, aa, "stats.reemployment", reemp[i], expect_same_categories);
    jm_reply_t *rn = jt_call_json(pa, "stats.reemployment",
                                  "{\"period\": \"2026\", \"network\": \"yes\"}");
    jt_expect_error(rn, "bad_request", "network: must be a boolean");
    jm_reply_free(rn);
    rn = jt_call_json(pa, "stats.reemployment", "{\"period\": \"2026-Q5\", \"network\": true}");
    jt_expect_error(rn, "bad_request", "period: must be");
    jm_reply_free(rn);
    /* A node asking a node for a roll-up would fan out again. */
    jm_client_t *node = jt_connect_key(n.a, KEY_PROVINCE_AT_A, "node");
    static const char *const stats_ops[] = {"stats.reemployment", "stats.supply_demand"};
    for (int i = 0; i < 2; i++) {
        rn = jt_call_json(node, stats_ops[i], "{\"period\": \"2026\", \"network\": true}");
        jt_expect_error(rn, "forbidden", "network: is not asked of a node by a node");
        jm_reply_free(rn);
    }
    jm_close(node);
    jm_close(pa);
    jm_close(aa);
    jm_close(ua);
    for (int k = 0; k < 3; k++) {
        jm_client_t *c = jt_connect_admin(owner[k]);
        jt_expect_check_clean(c, "a node after the loads");
        jm_close(c);
    }

    /* The province keeps its connections to the peers between requests:
     * six more network-wide matches make city-a accept one new connection
     * at most (none unless a slow run cut the kept one before). */
    jm_client_t *sa = jt_connect_admin(n.a), *pm = jt_connect(n.province);
    uint64_t accepted = connections_accepted(sa), asked = match_counts_answered(sa);
    for (int q = 0; q < 6; q++)
        network_match_ok(pm, profile, sizeof profile, "a kept connection");
    cr_assert_leq(connections_accepted(sa), accepted + 1, "city-a accepted %llu connections",
                  (unsigned long long)(connections_accepted(sa) - accepted));
    cr_assert_eq(match_counts_answered(sa), asked + 6, "city-a was not asked every time");
    jm_close(sa);
    /* City-a restarts on its port: the connection kept to it is dead, and
     * the next request finds out and connects anew. */
    cr_assert_eq(jt_daemon_restart(n.a), 0);
    network_match_ok(pm, profile, sizeof profile, "after city-a restarted");
    jm_close(pm);

    /* City-b goes down: the province names it, and still answers from
     * its own store and city-a; its copies of city-b's vacancies stand in
     * for city-b's own answer, so the result is still the union's. */
    jt_daemon_kill9(n.b);
    prov = jt_connect(n.province);
    u = jt_connect(n.uni);
    for (int q = 0; q < 5; q++) {
        random_worker(profile, sizeof profile, NULL);
        int64_t t0 = jt_now_ms();
        jm_reply_t *rp = jt_call_json(prov, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"network\", \"as_of\": %d}",
                                      profile, AS_OF);
        int64_t took = jt_now_ms() - t0;
        jt_expect_ok(rp, "match.vacancies at the province, city-b down");
        cr_assert_lt(took, jt_instrumented() ? 15000 : 3000, "took %lld ms", (long long)took);
        const msgpack_object *missing = jt_need(&rp->result, "missing");
        cr_assert_eq(missing->via.array.size, 1);
        cr_assert(jt_str_is(jt_need(&missing->via.array.ptr[0], "peer"), "city-b"));
        const msgpack_object *err = jt_need(&missing->via.array.ptr[0], "error");
        cr_assert(err->type == MSGPACK_OBJECT_STR && err->via.str.size > 0);
        const msgpack_object *answered = jt_need(&rp->result, "answered");
        cr_assert_eq(answered->via.array.size, 2);
        jm_reply_t *ru = jt_call_json(u, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"all\", \"as_of\": %d}",
                                      profile, AS_OF);
        const msgpack_object *fm = jt_need(&rp->result, "matches");
        const msgpack_object *um = jt_need(&ru->result, "matches");
        cr_assert_eq(fm->via.array.size, um->via.array.size);
        for (uint32_t i = 0; i < fm->via.array.size; i++) {
            const msgpack_object *uid = jt_need(&um->via.array.ptr[i], "id");
            char want[80];
            snprintf(want, sizeof want, "%.*s", (int)uid->via.str.size, uid->via.str.ptr);
            cr_assert(jt_str_is(jt_need(&fm->via.array.ptr[i], "id"), want));
        }
        jm_reply_free(rp);
        jm_reply_free(ru);
    }
    /* The province counts the requests city-b was left out of. */
    cr_assert_geq(network_stat(n.province, NULL, "city-b"), 5);
    cr_assert_eq(network_stat(n.province, NULL, "city-a"), 0);
    /* The roll-up without city-b: its figures are left out, and it is
     * named. */
    jm_reply_t *rp = jt_call_json(prov, "stats.supply_demand",
                                  "{\"period\": \"2026\", \"network\": true}");
    jt_expect_ok(rp, "stats.supply_demand roll-up, city-b down");
    const msgpack_object *missing = jt_need(&rp->result, "missing");
    cr_assert_eq(missing->via.array.size, 1);
    cr_assert(jt_str_is(jt_need(&missing->via.array.ptr[0], "peer"), "city-b"));
    const msgpack_object *total = jt_need(&rp->result, "total");
    /* city-a's 20 + 25 workers and the province's 25. */
    cr_assert_eq(jt_need(total, "applicants")->via.u64, 70);
    jm_reply_free(rp);
    jm_close(prov);
    jm_close(u);
    cr_assert_eq(jt_daemon_stop(n.a), 0, "city-a did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(n.province), 0, "the province did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(n.uni), 0, "the union did not exit cleanly");
    jt_daemon_stop(n.b);
}

typedef struct slow_call {
    jm_client_t *c;
    bool answered;
} slow_call_t;

/* A network-wide match on its own thread; answered tells whether it got
 * a success. */
static void *
slow_call(void *arg)
{
    slow_call_t *sc = arg;
    char *res = NULL;
    /* The library directly: a failed assertion must not happen off the
     * test's thread. */
    int rc = jm_call_json(sc->c, "match.vacancies",
                          "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}, "
                          "\"scope\": \"network\"}", &res);
    sc->answered = rc == 0 && res && strstr(res, "\"missing\"");
    free(res);
    return NULL;
}

/* A peer that takes the connection but never answers: the reply comes
 * after about federation_timeout_ms and names it; the other peer's and
 * this node's matches are in it. */
Test(federate, a_silent_peer_costs_the_timeout_and_is_named, .timeout = 60)
{
    int silent_port;
    int silent = jt_silent_listener(&silent_port);

    char ini[512];
    snprintf(ini, sizeof ini, "[server]\nnode = city-b\n[keys]\nprovince = node:%s\n",
             KEY_PROVINCE_AT_B);
    jt_daemon_t *b = jt_daemon_start_ini(ini, NULL);
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nfederation_timeout_ms = 400\n"
             "[peers]\ncity-b = %s %s\nquiet = 127.0.0.1:%d some-key\n",
             b->addr, KEY_PROVINCE_AT_B, silent_port);
    jt_daemon_t *p = jt_daemon_start_ini(ini, NULL);
    jm_client_t *cb = jt_connect_admin(b), *cp = jt_connect_admin(p);
    put_json(cb, "vacancy.put",
             "{\"vacancy\": {\"id\": \"b-1\", \"employer\": \"E\", \"title\": \"T\", "
             "\"occupation\": \"6-18-01-01\", \"region\": \"110105\", "
             "\"skills\": [{\"id\": \"weld\", \"level\": 2}]}}");
    put_json(cp, "vacancy.put",
             "{\"vacancy\": {\"id\": \"p-1\", \"employer\": \"E\", \"title\": \"T\", "
             "\"occupation\": \"6-18-01-01\", \"region\": \"110105\", "
             "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}}");
    int64_t t0 = jt_now_ms();
    jm_reply_t *r = weld_network_match(cp);
    int64_t took = jt_now_ms() - t0;
    jt_expect_ok(r, "match.vacancies with a silent peer");
    cr_assert_geq(took, 350, "answered in %lld ms, before the timeout", (long long)took);
    cr_assert_lt(took, jt_instrumented() ? 10000 : 2500, "answered in %lld ms", (long long)took);
    const msgpack_object *missing = jt_need(&r->result, "missing");
    cr_assert_eq(missing->via.array.size, 1);
    cr_assert(jt_str_is(jt_need(&missing->via.array.ptr[0], "peer"), "quiet"));
    const msgpack_object *err = jt_need(&missing->via.array.ptr[0], "error");
    cr_assert(err->type == MSGPACK_OBJECT_STR &&
              memmem(err->via.str.ptr, err->via.str.size, "400 ms", 6) != NULL,
              "error: %.*s", (int)err->via.str.size, err->via.str.ptr);
    char quiet_addr[64];
    snprintf(quiet_addr, sizeof quiet_addr, "127.0.0.1:%d", silent_port);
    cr_assert(jt_str_is(jt_need(&missing->via.array.ptr[0], "address"), quiet_addr),
              "an admin sees the missing peer's address");
    /* Peers' addresses are internal: a kiosk learns only the peer's name. */
    jm_client_t *kiosk_p = jt_connect(p);
    jm_reply_t *rk = weld_network_match(kiosk_p);
    jt_expect_ok(rk, "a kiosk's match.vacancies with a silent peer");
    const msgpack_object *kmissing = jt_need(&rk->result, "missing");
    cr_assert_eq(kmissing->via.array.size, 1);
    cr_assert(jt_str_is(jt_need(&kmissing->via.array.ptr[0], "peer"), "quiet"));
    cr_assert_null(jt_get(&kmissing->via.array.ptr[0], "address"),
                   "a kiosk must not see peers' addresses");
    jm_reply_free(rk);
    jm_close(kiosk_p);
    const msgpack_object *m = jt_need(&r->result, "matches");
    cr_assert_eq(m->via.array.size, 2);
    bool seen_b = false, seen_p = false;
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *x = &m->via.array.ptr[i];
        seen_b |= jt_str_is(jt_need(x, "id"), "b-1") && jt_str_is(jt_need(x, "node"), "city-b");
        seen_p |= jt_str_is(jt_need(x, "id"), "p-1") &&
                  jt_str_is(jt_need(x, "node"), "province-11");
    }
    cr_assert(seen_b && seen_p);
    jm_reply_free(r);

    /* Bad requests are refused before anything goes out. */
    r = jt_call_json(cp, "match.vacancies",
                     "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}, "
                     "\"scope\": \"network\", \"explain\": true}");
    jt_expect_error(r, "bad_request", "explain");
    jm_reply_free(r);
    jm_client_t *kiosk = jt_connect(p);
    r = jt_call_json(kiosk, "match.vacancies",
                     "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}, "
                     "\"network_counts\": {\"open\": 5, \"df\": {}}}");
    jt_expect_error(r, "forbidden", "network_counts");
    jm_reply_free(r);
    r = jt_call_json(kiosk, "match.counts", "{\"skills\": [\"weld\"]}");
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    /* A node asking a node for scope network would fan out again. */
    jm_client_t *node = jt_connect_key(b, KEY_PROVINCE_AT_B, "node");
    r = jt_call_json(node, "match.vacancies",
                     "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}, "
                     "\"scope\": \"network\"}");
    jt_expect_error(r, "forbidden", "network");
    jm_reply_free(r);
    r = jt_call_json(node, "match.counts", "{\"skills\": [\"weld\", \"cook\"]}");
    jt_expect_ok(r, "match.counts");
    cr_assert(jt_str_is(jt_need(&r->result, "node"), "city-b"));
    const msgpack_object *origins = jt_need(&r->result, "origins");
    cr_assert_eq(origins->via.array.size, 1);
    cr_assert(jt_str_is(jt_need(&origins->via.array.ptr[0], "origin"), "city-b"));
    cr_assert_eq(jt_need(&origins->via.array.ptr[0], "open")->via.u64, 1);
    const msgpack_object *df = jt_need(&origins->via.array.ptr[0], "df");
    cr_assert_eq(df->via.array.size, 2);
    cr_assert_eq(df->via.array.ptr[0].via.u64, 1);
    cr_assert_eq(df->via.array.ptr[1].via.u64, 0);
    jm_reply_free(r);
    r = jt_call_json(node, "match.counts", "{\"skills\": [\"no space\"]}");
    jt_expect_error(r, "bad_request", "skills[0]");
    jm_reply_free(r);
    jm_close(node);
    jm_close(kiosk);
    jm_close(cb);
    jm_close(cp);

    /* SIGTERM while a request waits for the silent peer: it is answered
     * (the drain waits for it) and the daemon exits cleanly. */
    slow_call_t sc = {.c = jt_connect(p)};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, slow_call, &sc), 0);
    jt_sleep_ms(100);
    cr_assert_eq(jt_daemon_stop(p), 0, "the province did not exit cleanly");
    pthread_join(t, NULL);
    cr_assert(sc.answered, "the request in flight was not answered");
    jm_close(sc.c);
    cr_assert_eq(jt_daemon_stop(b), 0);
    close(silent);
}

/* A welder's vacancy, id, in region. */
static void
put_weld_vacancy(jm_client_t *c, const char *id, const char *region)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"E\", \"title\": \"T\", "
             "\"occupation\": \"6-18-01-01\", \"region\": \"%s\", "
             "\"skills\": [{\"id\": \"weld\", \"level\": 2}]}}", id, region);
    put_json(c, "vacancy.put", json);
}

/* The status of vacancy id at d. */
static bool
vacancy_open_at(const jt_daemon_t *d, const char *id)
{
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
    jt_expect_ok(r, "vacancy.get");
    bool open = jt_str_is(jt_need(jt_need(&r->result, "vacancy"), "status"), "open");
    jm_reply_free(r);
    jm_close(c);
    return open;
}

/* A welder's network match at the asking node, limit 1 to 3, equals the
 * union's. At limit 2 a lagging copy keeps a node's own vacancy out of
 * that node's first answer; 1 and 3 are the edges either side. */
static void
expect_union_despite_lag(jm_client_t *asker, jm_client_t *uni, const char *what)
{
    static const char *const profile =
        "{\"birth_year\": 1990, \"region\": \"110105\", "
        "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}";
    for (int limit = 1; limit <= 3; limit++) {
        jm_reply_t *rn = jt_call_json(asker, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"network\", "
                                      "\"limit\": %d}", profile, limit);
        jm_reply_t *ru = jt_call_json(uni, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"all\", "
                                      "\"limit\": %d}", profile, limit);
        expect_same(rn, ru, what, limit);
        cr_assert_eq(jt_need(&rn->result, "matches")->via.array.size, limit < 2 ? 1 : 2);
        jm_reply_free(rn);
        jm_reply_free(ru);
    }
}

/* city-a and a union daemon; province-11, started later, pulls city-a
 * once a minute, so that its copies lag. Each with an admin connection. */
typedef struct {
    jt_daemon_t *a, *uni, *p;
    jm_client_t *ca, *cu, *cp;
} lagging_province_t;

static void
start_city_a(lagging_province_t *n)
{
    char ini[512];
    snprintf(ini, sizeof ini, "[server]\nnode = city-a\n[keys]\nprovince = node:%s\n",
             KEY_PROVINCE_AT_A);
    n->a = jt_daemon_start_ini(ini, NULL);
    n->uni = jt_daemon_start_ini("[server]\nnode = union\n", NULL);
    n->ca = jt_connect_admin(n->a);
    n->cu = jt_connect_admin(n->uni);
}

/* After the vacancies of city-a its first pull takes. */
static void
start_lagging_province(lagging_province_t *n)
{
    char ini[512];
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nsync_interval = 60000\n"
             "federation_timeout_ms = 10000\n[peers]\ncity-a = %s %s\n",
             n->a->addr, KEY_PROVINCE_AT_A);
    n->p = jt_daemon_start_ini(ini, NULL);
    n->cp = jt_connect_admin(n->p);
}

/* city-a and the union close id, which the province's copy keeps open. */
static void
close_behind_the_province(lagging_province_t *n, const char *id)
{
    char args[64];
    snprintf(args, sizeof args, "{\"id\": \"%s\"}", id);
    put_json(n->ca, "vacancy.close", args);
    put_json(n->cu, "vacancy.close", args);
    cr_assert(vacancy_open_at(n->p, id), "the province's copy of %s does not lag", id);
}

static void
stop_lagging_province(lagging_province_t *n)
{
    jm_close(n->ca);
    jm_close(n->cu);
    jm_close(n->cp);
    cr_assert_eq(jt_daemon_stop(n->p), 0, "the province did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(n->a), 0);
    cr_assert_eq(jt_daemon_stop(n->uni), 0);
}

/* The province's copy of a vacancy city-a has closed still ranks first
 * there (its next pull is a minute away); city-a answers without it, so
 * the copy is dropped, and the province's next best must take its place:
 * the answer is still the union's. */
Test(federate, a_lagging_copy_costs_no_match, .timeout = 60)
{
    lagging_province_t n;
    start_city_a(&n);
    /* a-1 in the profile's county (its bonus puts it first); a-2 and p-1
     * elsewhere, equal, so ranked by id. */
    put_weld_vacancy(n.ca, "a-1", "110105");
    put_weld_vacancy(n.ca, "a-2", "110108");
    start_lagging_province(&n);
    put_weld_vacancy(n.cp, "p-1", "110106");
    put_weld_vacancy(n.cu, "a-1", "110105");
    put_weld_vacancy(n.cu, "a-2", "110108");
    put_weld_vacancy(n.cu, "p-1", "110106");
    wait_vacancy(n.p, "a-2");
    close_behind_the_province(&n, "a-1");
    expect_union_despite_lag(n.cp, n.cu, "a lagging copy at the province");
    /* Each of the three ranked again at the province, city-a never left
     * out. */
    cr_assert_eq(network_stat(n.p, "requests", NULL), 3);
    cr_assert_eq(network_stat(n.p, "ranked_again", NULL), 3);
    cr_assert_eq(network_stat(n.p, NULL, "city-a"), 0);
    stop_lagging_province(&n);
}

/* A lagging copy in a list of a client's largest limit: the province
 * ranks deeper than any client may ask (200 own vacancies and the copy
 * above them), and its 200th still makes the list. */
Test(federate, a_lagging_copy_in_the_largest_list_costs_no_match, .timeout = 120)
{
    lagging_province_t n;
    start_city_a(&n);
    /* In the profile's county: first everywhere. */
    put_weld_vacancy(n.ca, "a-1", "110105");
    put_weld_vacancy(n.cu, "a-1", "110105");
    start_lagging_province(&n);
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "p-%03d", i);
        put_weld_vacancy(n.cp, id, "110106");
        put_weld_vacancy(n.cu, id, "110106");
    }
    wait_vacancy(n.p, "a-1");
    close_behind_the_province(&n, "a-1");
    static const char *const profile =
        "{\"birth_year\": 1990, \"region\": \"110105\", "
        "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}";
    jm_reply_t *rn = jt_call_json(n.cp, "match.vacancies",
                                  "{\"profile\": %s, \"scope\": \"network\", \"limit\": 200}",
                                  profile);
    jm_reply_t *ru = jt_call_json(n.cu, "match.vacancies",
                                  "{\"profile\": %s, \"scope\": \"all\", \"limit\": 200}",
                                  profile);
    expect_same(rn, ru, "a lagging copy above 200 of the province's own", 200);
    cr_assert_eq(jt_need(&rn->result, "matches")->via.array.size, 200);
    jm_reply_free(rn);
    jm_reply_free(ru);
    /* A client's limit stays 200. */
    jm_reply_t *r = jt_call_json(n.cp, "match.vacancies", "{\"profile\": %s, \"limit\": 201}",
                                 profile);
    jt_expect_error(r, "bad_request", "limit:");
    jm_reply_free(r);
    stop_lagging_province(&n);
}

/* The same at a peer: city-a asks city-b and the province, whose copy of
 * a vacancy city-b has closed lags (its next pull is a minute away) and
 * ranks first there. The province is asked once more, deeper, and its own
 * vacancy still makes the list. */
Test(federate, a_peers_lagging_copy_costs_no_match, .timeout = 60)
{
    char ini[768];
    snprintf(ini, sizeof ini,
             "[server]\nnode = city-b\n[keys]\nprovince = node:%s\ncity-a = node:%s\n",
             KEY_PROVINCE_AT_B, KEY_A_AT_B);
    jt_daemon_t *b = jt_daemon_start_ini(ini, NULL);
    jt_daemon_t *uni = jt_daemon_start_ini("[server]\nnode = union\n", NULL);
    jm_client_t *cb = jt_connect_admin(b), *cu = jt_connect_admin(uni);
    put_weld_vacancy(cb, "b-1", "110105");
    put_weld_vacancy(cb, "b-2", "110108");
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nsync_interval = 60000\n"
             "[keys]\ncity-a = node:%s\n[peers]\ncity-b = %s %s\n",
             KEY_A_AT_PROVINCE, b->addr, KEY_PROVINCE_AT_B);
    jt_daemon_t *p = jt_daemon_start_ini(ini, NULL);
    jm_client_t *cp = jt_connect_admin(p);
    put_weld_vacancy(cp, "p-1", "110106");
    put_weld_vacancy(cu, "b-1", "110105");
    put_weld_vacancy(cu, "b-2", "110108");
    put_weld_vacancy(cu, "p-1", "110106");
    wait_vacancy(p, "b-2");
    snprintf(ini, sizeof ini,
             "[server]\nnode = city-a\nsync_interval = 50\nfederation_timeout_ms = 10000\n"
             "[peers]\ncity-b = %s %s\nprovince = %s %s\n",
             b->addr, KEY_A_AT_B, p->addr, KEY_A_AT_PROVINCE);
    jt_daemon_t *a = jt_daemon_start_ini(ini, NULL);
    wait_vacancy(a, "b-2");
    wait_vacancy(a, "p-1");
    put_json(cb, "vacancy.close", "{\"id\": \"b-1\"}");
    put_json(cu, "vacancy.close", "{\"id\": \"b-1\"}");
    /* City-a's own copy follows; the province's does not. */
    int64_t t0 = jt_now_ms();
    while (vacancy_open_at(a, "b-1")) {
        cr_assert(jt_now_ms() - t0 < 30000, "city-a never had b-1 closed");
        jt_sleep_ms(50);
    }
    cr_assert(vacancy_open_at(p, "b-1"), "the province's copy of b-1 does not lag");

    jm_client_t *ca = jt_connect(a);
    expect_union_despite_lag(ca, cu, "a lagging copy at a peer");
    /* The province was asked again for each of the three. */
    cr_assert_eq(network_stat(a, "requests", NULL), 3);
    cr_assert_geq(network_stat(a, "ranked_again", NULL), 3);
    cr_assert_eq(network_stat(a, NULL, "province"), 0);
    jm_close(ca);
    jm_close(cb);
    jm_close(cu);
    jm_close(cp);
    cr_assert_eq(jt_daemon_stop(a), 0, "city-a did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(p), 0, "the province did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(b), 0);
    cr_assert_eq(jt_daemon_stop(uni), 0);
}

/* A fake peer on listening socket fd: answers one connection's hello and
 * then its match.counts with `origins` origins of its own, ignoring what
 * is asked. */
typedef struct fake_peer {
    int fd;
    uint32_t origins;
} fake_peer_t;

static bool
read_frame(int fd)
{
    uint8_t hdr[4];
    if (recv(fd, hdr, 4, MSG_WAITALL) != 4)
        return false;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    char buf[4096];
    while (len > 0) {
        ssize_t n = recv(fd, buf, len < sizeof buf ? len : sizeof buf, 0);
        if (n <= 0)
            return false;
        len -= (uint32_t)n;
    }
    return true;
}

static void
send_frame(int fd, const msgpack_sbuffer *sb)
{
    uint8_t hdr[4] = {(uint8_t)(sb->size >> 24), (uint8_t)(sb->size >> 16),
                      (uint8_t)(sb->size >> 8), (uint8_t)sb->size};
    (void)!write(fd, hdr, 4);
    (void)!write(fd, sb->data, sb->size);
}

/* One connection: its hello answered, then its next request (whatever it
 * asks) with the counts. The peer's follower connects too. */
static void
fake_peer_serve(const fake_peer_t *fp, int c)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (read_frame(c)) {
        json_t *hello = json_pack("{s:i, s:b, s:{s:s, s:s}}", "id", 1, "ok", 1, "result",
                                  "node", "fake", "role", "node");
        jt_pack_json(&pk, hello);
        json_decref(hello);
        send_frame(c, &sb);
    }
    if (read_frame(c)) {
        sb.size = 0;
        msgpack_pack_map(&pk, 3);
        jt_pack_str(&pk, "id");
        msgpack_pack_uint64(&pk, 2);
        jt_pack_str(&pk, "ok");
        msgpack_pack_true(&pk);
        jt_pack_str(&pk, "result");
        msgpack_pack_map(&pk, 2);
        jt_pack_str(&pk, "node");
        jt_pack_str(&pk, "fake");
        jt_pack_str(&pk, "origins");
        msgpack_pack_array(&pk, fp->origins);
        for (uint32_t i = 0; i < fp->origins; i++) {
            char origin[32];
            snprintf(origin, sizeof origin, "o-%u", i);
            msgpack_pack_map(&pk, 3);
            jt_pack_str(&pk, "origin");
            jt_pack_str(&pk, origin);
            jt_pack_str(&pk, "open");
            msgpack_pack_uint64(&pk, INT64_MAX);
            jt_pack_str(&pk, "df");
            msgpack_pack_array(&pk, 1);
            msgpack_pack_uint64(&pk, 1);
        }
        send_frame(c, &sb);
    }
    msgpack_sbuffer_destroy(&sb);
    close(c);
}

/* Serves connections one after another until the listening socket is shut. */
static void *
fake_peer_main(void *arg)
{
    fake_peer_t *fp = arg;
    int c;
    while ((c = accept(fp->fd, NULL, NULL)) >= 0)
        fake_peer_serve(fp, c);
    return NULL;
}

/* A peer whose counts list more origins than a network has nodes is
 * named missing with the reason, and the rest of the request goes on. */
Test(federate, a_peer_listing_too_many_origins_is_missing, .timeout = 60)
{
    fake_peer_t fp = {.origins = 1025};
    int port;
    fp.fd = jt_silent_listener(&port);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fake_peer_main, &fp), 0);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nfederation_timeout_ms = 5000\n"
             "[peers]\nfake = 127.0.0.1:%d some-key\n", port);
    jt_daemon_t *p = jt_daemon_start_ini(ini, NULL);
    jm_client_t *c = jt_connect_admin(p);
    jm_reply_t *r = weld_network_match(c);
    jt_expect_ok(r, "match.vacancies with a peer listing too many origins");
    const msgpack_object *missing = jt_need(&r->result, "missing");
    cr_assert_eq(missing->via.array.size, 1);
    cr_assert(jt_str_is(jt_need(&missing->via.array.ptr[0], "peer"), "fake"));
    const msgpack_object *err = jt_need(&missing->via.array.ptr[0], "error");
    cr_assert(err->type == MSGPACK_OBJECT_STR &&
              memmem(err->via.str.ptr, err->via.str.size, "more than 1024 origins", 22) != NULL,
              "error: %.*s", (int)err->via.str.size, err->via.str.ptr);
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(p), 0);
    shutdown(fp.fd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(fp.fd);
}

/* SIGTERM while a network-wide request waits on a silent peer with a long
 * timeout: the drain cuts the peer off, the request is answered with what
 * came back (the peer named missing) and the daemon exits well within its
 * 8 s drain deadline rather than after the timeout. */
Test(federate, a_drain_cuts_off_silent_peers, .timeout = 60)
{
    int silent_port;
    int silent = jt_silent_listener(&silent_port);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nfederation_timeout_ms = 30000\n"
             "[peers]\nquiet = 127.0.0.1:%d some-key\n", silent_port);
    jt_daemon_t *p = jt_daemon_start_ini(ini, NULL);
    slow_call_t sc = {.c = jt_connect(p)};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, slow_call, &sc), 0);
    jt_sleep_ms(300);  /* it waits for the peer */
    int64_t t0 = jt_now_ms();
    cr_assert_eq(jt_daemon_term(p), 0, "the daemon did not exit cleanly");
    int64_t took = jt_now_ms() - t0;
    pthread_join(t, NULL);
    cr_assert(sc.answered, "the request in flight was not answered");
    cr_assert_lt(took, 4000, "the drain took %lld ms", (long long)took);
    jm_close(sc.c);
    jt_daemon_stop(p);
    close(silent);
}

/* While a network-wide request waits for a silent peer, writes that need
 * the map to grow, and the reads queued behind them, go on: the request
 * holds no read transaction while it waits (one would keep the map from
 * growing, and every reader behind the grow, until the peer timed out). */
Test(federate, a_wait_for_peers_holds_up_no_map_growth, .timeout = 120)
{
    int silent_port;
    int silent = jt_silent_listener(&silent_port);
    /* Below the clients' JT_IO_TIMEOUT_MS, which the request waits within. */
    unsigned timeout_ms = jt_instrumented() ? 8000 : 3000;
    char ini[512];
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-11\nfederation_timeout_ms = %u\n"
             "[peers]\nquiet = 127.0.0.1:%d some-key\n",
             timeout_ms, silent_port);
    const char *args[] = {"--map-size", "1M", "--map-max", "64M", NULL};
    jt_daemon_t *p = jt_daemon_start_ini(ini, args);
    jm_client_t *c = jt_connect_admin(p);
    cr_assert_eq(jt_admin_count(c, "map_size"), 1u << 20);

    slow_call_t sc = {.c = jt_connect(p)};
    pthread_t t;
    int64_t t0 = jt_now_ms();
    cr_assert_eq(pthread_create(&t, NULL, slow_call, &sc), 0);
    jt_sleep_ms(300);  /* it has read its own counts and waits for the peer */
    for (int b = 0; b < 40 && jt_admin_count(c, "map_size") == 1u << 20; b++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "g%d", b);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancies(&sb, prefix, 200, "110105", "6-18-01-01", "weld:2,cook:1");
        jm_reply_t *r = jt_call(c, "vacancy.put_many", &sb);
        msgpack_sbuffer_destroy(&sb);
        jt_expect_ok(r, "vacancy.put_many while a network request waits");
        jm_reply_free(r);
    }
    int64_t took = jt_now_ms() - t0;
    cr_assert_gt(jt_admin_count(c, "map_size"), 1u << 20, "the map never had to grow");
    cr_assert_lt(took, timeout_ms / 2,
                 "the writes that grew the map waited %lld ms for the silent peer",
                 (long long)took);
    pthread_join(t, NULL);
    cr_assert(sc.answered, "the network request was not answered");
    cr_assert_geq(jt_now_ms() - t0, (int64_t)timeout_ms - 100);
    jm_close(sc.c);
    jt_expect_check_clean(c, "after the growth");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(p), 0);
    close(silent);
}

/* A national node asks two provinces that both hold copies of city-a's
 * vacancies, one of them behind (it polls once a minute). City-a itself
 * is not asked, so for its vacancies the national node takes the counts
 * of the province holding more of them, the current one: the result is
 * still the union's, scores and all. With the other's counts it would
 * not be (a different N and df give different scores). */
Test(federate, without_the_owner_the_freshest_holder_counts, .timeout = 120)
{
    srand(7411);
    char ini[1024];
    snprintf(ini, sizeof ini,
             "[server]\nnode = city-a\n[keys]\nprovince = node:%s\n", KEY_PROVINCE_AT_A);
    jt_daemon_t *a = jt_daemon_start_ini(ini, NULL);
    snprintf(ini, sizeof ini,
             "[server]\nnode = province-1\nsync_interval = 50\n"
             "[keys]\nnational = node:%s\n[peers]\ncity-a = %s %s\n",
             KEY_A_AT_PROVINCE, a->addr, KEY_PROVINCE_AT_A);
    jt_daemon_t *p1 = jt_daemon_start_ini(ini, NULL);
    jt_daemon_t *uni = jt_daemon_start_ini("[server]\nnode = union\n", NULL);
    jm_client_t *ca = jt_connect_admin(a), *cu = jt_connect_admin(uni);
    char json[2048], id[32];
    jt_daemon_t *p2 = NULL, *nat = NULL;
    for (int i = 0; i < 160; i++) {
        if (i == 80) {
            /* Province-2 starts now: it takes the first half at once, then,
             * caught up, waits a minute before it looks again. */
            snprintf(ini, sizeof ini,
                     "[server]\nnode = province-2\nsync_interval = 60000\n"
                     "[keys]\nnational = node:%s\n[peers]\ncity-a = %s %s\n",
                     KEY_A_AT_PROVINCE, a->addr, KEY_PROVINCE_AT_A);
            p2 = jt_daemon_start_ini(ini, NULL);
            wait_vacancy(p2, "a-079");
            snprintf(ini, sizeof ini,
                     "[server]\nnode = national\n"
                     "[peers]\nprovince-1 = %s %s\nprovince-2 = %s %s\n",
                     p1->addr, KEY_A_AT_PROVINCE, p2->addr, KEY_A_AT_PROVINCE);
            nat = jt_daemon_start_ini(ini, NULL);
        }
        snprintf(id, sizeof id, "a-%03d", i);
        random_vacancy(json, sizeof json, id);
        put_json(ca, "vacancy.put", json);
        put_json(cu, "vacancy.put", json);
    }
    wait_vacancy(p1, "a-159");
    cr_assert(!has_vacancy(p2, "a-159"), "province-2 should be behind");

    jm_client_t *cn = jt_connect(nat), *un = jt_connect(uni);
    char profile[1024];
    /* Province-2 looks again a minute after it caught up: well after. */
    int queries = jt_instrumented() ? 10 : 40;
    for (int q = 0; q < queries; q++) {
        random_worker(profile, sizeof profile, NULL);
        jm_reply_t *ru = jt_call_json(un, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"all\", \"limit\": 30, "
                                      "\"as_of\": %d}", profile, AS_OF);
        jm_reply_t *rn = jt_call_json(cn, "match.vacancies",
                                      "{\"profile\": %s, \"scope\": \"network\", \"limit\": 30, "
                                      "\"as_of\": %d}", profile, AS_OF);
        expect_same(rn, ru, "at the national node", q);
        jm_reply_free(ru);
        jm_reply_free(rn);
    }
    jm_close(cn);
    jm_close(un);
    jm_close(ca);
    jm_close(cu);
    cr_assert_eq(jt_daemon_stop(nat), 0, "the national node did not exit cleanly");
    cr_assert_eq(jt_daemon_stop(p2), 0);
    cr_assert_eq(jt_daemon_stop(p1), 0);
    cr_assert_eq(jt_daemon_stop(a), 0);
    cr_assert_eq(jt_daemon_stop(uni), 0);
}
