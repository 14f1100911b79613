/* test_fair.c - job fairs through the daemon: fair.create, fair.register,
 * fair.unregister, fair.get and fair.allocate.
 *
 * Allocations on random stores (tests/support/records.h) are checked
 * against the reference ranking (tests/support/oracle.h): every pair the
 * daemon assigns is a match with the oracle's scores, no vacancy holds
 * more workers than it has places, no pair of a worker and a vacancy
 * would both rather have each other (stability), and the assignment is
 * the one a plain worker-proposing deferred acceptance written here gets
 * from the oracle's preferences (so it is the worker-optimal one).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "oracle.h"
#include "records.h"
#include "wire.h"

#define EPS 1e-9
#define NONE (-1)

static const char *const scope_names[] = {"county", "city", "province", "all"};

/* ---- the expected allocation -------------------------------------------- */

typedef struct fair_case {
    const jo_store_t *s;
    jo_scope_t scope;
    int64_t as_of;
    size_t nw, nv;
    const jo_worker_t **w;       /* members, in id order */
    const jo_vacancy_t **v;
    bool *ok;                    /* nw x nv: the pair is a match */
    double *ws, *vs;             /* nw x nv: each side's score */
    int64_t *capacity;           /* per vacancy */
} fair_case_t;

#define AT(fc, i, j) ((i) * (fc)->nv + (j))

static bool
worker_prefers(const fair_case_t *fc, size_t w, size_t a, size_t b)
{
    double x = fc->ws[AT(fc, w, a)], y = fc->ws[AT(fc, w, b)];
    if (fabs(x - y) > EPS)
        return x > y;
    return strcmp(fc->v[a]->id, fc->v[b]->id) < 0;
}

static bool
vacancy_prefers(const fair_case_t *fc, size_t v, size_t a, size_t b)
{
    double x = fc->vs[AT(fc, a, v)], y = fc->vs[AT(fc, b, v)];
    if (fabs(x - y) > EPS)
        return x > y;
    return strcmp(fc->w[a]->id, fc->w[b]->id) < 0;
}

static int
cmp_worker_ptr(const void *a, const void *b)
{
    return strcmp((*(const jo_worker_t *const *)a)->id, (*(const jo_worker_t *const *)b)->id);
}

static int
cmp_vacancy_ptr(const void *a, const void *b)
{
    return strcmp((*(const jo_vacancy_t *const *)a)->id, (*(const jo_vacancy_t *const *)b)->id);
}

static void
case_build(fair_case_t *fc, const jo_store_t *s, const jo_worker_t **w, size_t nw,
           const jo_vacancy_t **v, size_t nv, jo_scope_t scope, int64_t as_of)
{
    memset(fc, 0, sizeof *fc);
    fc->s = s;
    fc->scope = scope;
    fc->as_of = as_of;
    fc->nw = nw;
    fc->nv = nv;
    fc->w = w;
    fc->v = v;
    qsort(w, nw, sizeof *w, cmp_worker_ptr);
    qsort(v, nv, sizeof *v, cmp_vacancy_ptr);
    fc->ok = calloc(nw * nv + 1, sizeof *fc->ok);
    fc->ws = calloc(nw * nv + 1, sizeof *fc->ws);
    fc->vs = calloc(nw * nv + 1, sizeof *fc->vs);
    fc->capacity = calloc(nv + 1, sizeof *fc->capacity);
    cr_assert(fc->ok && fc->ws && fc->vs && fc->capacity);
    jo_query_t q = jo_query_default(as_of);
    q.scope = scope;
    for (size_t j = 0; j < nv; j++) {
        const jo_vacancy_t *x = v[j];
        bool taking = strcmp(x->status, "open") == 0 && (x->expires == 0 || x->expires > as_of);
        fc->capacity[j] = taking && x->headcount > x->filled ? x->headcount - x->filled : 0;
    }
    for (size_t i = 0; i < nw; i++)
        for (size_t j = 0; j < nv; j++) {
            if (!jo_is_match(v[j], w[i], &q, true))
                continue;
            jo_match_t m;
            fc->ok[AT(fc, i, j)] = true;
            jo_score(s, v[j], w[i], false, &m, NULL, NULL);
            fc->ws[AT(fc, i, j)] = m.score;
            jo_score(s, v[j], w[i], true, &m, NULL, NULL);
            fc->vs[AT(fc, i, j)] = m.score;
        }
}

static void
case_free(fair_case_t *fc)
{
    free(fc->ok);
    free(fc->ws);
    free(fc->vs);
    free(fc->capacity);
}

/* Worker-proposing deferred acceptance, as plainly as it can be written:
 * each free worker proposes to the best vacancy it has not yet tried; a
 * full vacancy keeps the workers it prefers. match[i] = vacancy or NONE. */
static void
expected_allocation(const fair_case_t *fc, int *match)
{
    bool *tried = calloc(fc->nw * fc->nv + 1, sizeof *tried);
    cr_assert_not_null(tried);
    for (size_t i = 0; i < fc->nw; i++)
        match[i] = NONE;
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = 0; i < fc->nw; i++) {
            if (match[i] != NONE)
                continue;
            size_t best = fc->nv;
            for (size_t j = 0; j < fc->nv; j++)
                if (fc->ok[AT(fc, i, j)] && !tried[AT(fc, i, j)] &&
                    (best == fc->nv || worker_prefers(fc, i, j, best)))
                    best = j;
            if (best == fc->nv)
                continue;
            tried[AT(fc, i, best)] = true;
            moved = true;
            match[i] = (int)best;
            int64_t held = 0;
            size_t worst = fc->nw;
            for (size_t o = 0; o < fc->nw; o++)
                if (match[o] == (int)best) {
                    held++;
                    if (worst == fc->nw || vacancy_prefers(fc, best, worst, o))
                        worst = o;
                }
            if (held > fc->capacity[best])
                match[worst] = NONE;
        }
    }
    free(tried);
}

static size_t
find_worker(const fair_case_t *fc, const char *id)
{
    for (size_t i = 0; i < fc->nw; i++)
        if (strcmp(fc->w[i]->id, id) == 0)
            return i;
    cr_assert_fail("worker %s is not a member", id);
    return 0;
}

static size_t
find_vacancy(const fair_case_t *fc, const char *id)
{
    for (size_t j = 0; j < fc->nv; j++)
        if (strcmp(fc->v[j]->id, id) == 0)
            return j;
    cr_assert_fail("vacancy %s is not a member", id);
    return 0;
}

/* Checks one fair.allocate answer; returns how many workers it placed. */
static size_t
check_allocation(const fair_case_t *fc, const msgpack_object *res)
{
    int *got = malloc((fc->nw + 1) * sizeof *got);
    int *want = malloc((fc->nw + 1) * sizeof *want);
    int64_t *taken = calloc(fc->nv + 1, sizeof *taken);
    cr_assert(got && want && taken);
    for (size_t i = 0; i < fc->nw; i++)
        got[i] = NONE;
    const char *scope = scope_names[fc->scope];
    cr_assert_str_eq(jt_get_str(res, "scope"), scope);
    cr_assert_eq(jt_get_int(res, "as_of"), fc->as_of);

    size_t pairs = 0;
    for (size_t k = 0; k < fc->nw * fc->nv; k++)
        pairs += fc->ok[k];
    cr_assert_eq(jt_get_int(res, "pairs"), (int64_t)pairs, "scope %s: pairs", scope);

    const msgpack_object *as = jt_need(res, "assignments");
    cr_assert_eq(as->type, MSGPACK_OBJECT_ARRAY);
    char prev[JO_ID_SIZE] = "";
    for (uint32_t k = 0; k < as->via.array.size; k++) {
        const msgpack_object *a = &as->via.array.ptr[k];
        char wid[JO_ID_SIZE];
        snprintf(wid, sizeof wid, "%s", jt_get_str(a, "worker"));
        cr_assert_gt(strcmp(wid, prev), 0, "assignments not in worker id order at %s", wid);
        snprintf(prev, sizeof prev, "%s", wid);
        size_t i = find_worker(fc, wid), j = find_vacancy(fc, jt_get_str(a, "vacancy"));
        cr_assert(fc->ok[AT(fc, i, j)], "scope %s: %s and %s do not match", scope, wid,
                  fc->v[j]->id);
        cr_assert_float_eq(jt_get_double(a, "worker_score"), fc->ws[AT(fc, i, j)], EPS);
        cr_assert_float_eq(jt_get_double(a, "vacancy_score"), fc->vs[AT(fc, i, j)], EPS);
        got[i] = (int)j;
        taken[j]++;
    }
    for (size_t j = 0; j < fc->nv; j++)
        cr_assert_leq(taken[j], fc->capacity[j], "vacancy %s over its places", fc->v[j]->id);

    /* Stability: no worker and vacancy would both rather have each other. */
    for (size_t i = 0; i < fc->nw; i++)
        for (size_t j = 0; j < fc->nv; j++) {
            if (!fc->ok[AT(fc, i, j)] || got[i] == (int)j)
                continue;
            if (got[i] != NONE && !worker_prefers(fc, i, j, (size_t)got[i]))
                continue;
            cr_assert_geq(taken[j], fc->capacity[j],
                          "scope %s: %s would take the free place at %s", scope,
                          fc->w[i]->id, fc->v[j]->id);
            for (size_t o = 0; o < fc->nw; o++)
                cr_assert(got[o] != (int)j || !vacancy_prefers(fc, j, i, o),
                          "scope %s: blocking pair %s / %s (over %s)", scope,
                          fc->w[i]->id, fc->v[j]->id, fc->w[o]->id);
        }

    expected_allocation(fc, want);
    size_t placed = 0;
    for (size_t i = 0; i < fc->nw; i++) {
        cr_assert_eq(got[i], want[i], "scope %s: worker %s got %s, worker-optimal is %s",
                     scope, fc->w[i]->id, got[i] == NONE ? "nothing" : fc->v[got[i]]->id,
                     want[i] == NONE ? "nothing" : fc->v[want[i]]->id);
        placed += got[i] != NONE;
    }

    /* Everyone else is listed: unassigned workers, vacancies with places. */
    const msgpack_object *un = jt_need(res, "unassigned");
    cr_assert_eq(un->via.array.size, fc->nw - placed);
    for (uint32_t k = 0; k < un->via.array.size; k++) {
        const msgpack_object *o = &un->via.array.ptr[k];
        char id[JO_ID_SIZE];
        snprintf(id, sizeof id, "%.*s", (int)o->via.str.size, o->via.str.ptr);
        cr_assert_eq(got[find_worker(fc, id)], NONE);
    }
    const msgpack_object *uf = jt_need(res, "unfilled");
    size_t n_unfilled = 0;
    for (size_t j = 0; j < fc->nv; j++)
        n_unfilled += taken[j] < fc->capacity[j];
    cr_assert_eq(uf->via.array.size, n_unfilled);
    for (uint32_t k = 0; k < uf->via.array.size; k++) {
        const msgpack_object *o = &uf->via.array.ptr[k];
        size_t j = find_vacancy(fc, jt_get_str(o, "vacancy"));
        cr_assert_eq(jt_get_int(o, "places"), fc->capacity[j] - taken[j]);
    }
    free(got);
    free(want);
    free(taken);
    return placed;
}

/* ---- talking to the daemon ---------------------------------------------- */

static void
register_members(jm_client_t *c, const char *op, const char *fair,
                 const jo_vacancy_t **v, size_t nv, const jo_worker_t **w,
                 size_t nw, int64_t want_v, int64_t want_w)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    jt_pack_str(&pk, "fair");
    jt_pack_str(&pk, fair);
    jt_pack_str(&pk, "vacancies");
    msgpack_pack_array(&pk, nv);
    for (size_t j = 0; j < nv; j++)
        jt_pack_str(&pk, v[j]->id);
    jt_pack_str(&pk, "workers");
    msgpack_pack_array(&pk, nw);
    for (size_t i = 0; i < nw; i++)
        jt_pack_str(&pk, w[i]->id);
    jm_reply_t *r = jt_call(c, op, &sb);
    jt_expect_ok(r, op);
    const msgpack_object *n = jt_need(&r->result, strcmp(op, "fair.register") == 0 ? "added" : "removed");
    cr_assert_eq(jt_get_int(n, "vacancies"), want_v, "%s: vacancies", op);
    cr_assert_eq(jt_get_int(n, "workers"), want_w, "%s: workers", op);
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);
}

static jm_reply_t *
allocate(jm_client_t *c, const char *fair, jo_scope_t scope, int64_t as_of)
{
    jm_reply_t *r = jt_call_json(c, "fair.allocate",
                                 "{\"fair\": \"%s\", \"scope\": \"%s\", \"as_of\": %lld}",
                                 fair, scope_names[scope], (long long)as_of);
    jt_expect_ok(r, "fair.allocate");
    return r;
}

Test(fair, allocations_are_stable_and_worker_optimal, .timeout = 300)
{
    jt_rng_state = 20261126;
    jo_store_t s = {0};
    jt_n_regions_used = 6;   /* one province: every scope keeps many pairs */
    for (int i = 0; i < 70; i++) {
        jo_vacancy_t v;
        char id[JO_ID_SIZE];
        jt_new_vacancy_id(id, sizeof id);
        jt_random_vacancy(&v, id);
        cr_assert_eq(jo_put_vacancy(&s, &v), 0);
    }
    for (int i = 0; i < 260; i++) {
        jo_worker_t w;
        char id[JO_ID_SIZE];
        jt_new_worker_id(id, sizeof id);
        jt_random_worker(&w, id);
        cr_assert_eq(jo_put_worker(&s, &w), 0);
    }
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_store(c, &s);

    jm_reply_t *r = jt_call_json(c, "fair.create",
                                 "{\"id\": \"spring-2026\", \"name\": \"Spring job fair\","
                                 " \"region\": \"110101\", \"date\": 1775000000}");
    jt_expect_ok(r, "fair.create");
    jm_reply_free(r);

    /* Every vacancy and all but every fifth worker take part, registered
     * in two requests that overlap by ten workers. */
    const jo_vacancy_t **v = malloc(s.n_vacancies * sizeof *v);
    const jo_worker_t **w = malloc(s.n_workers * sizeof *w);
    cr_assert(v && w);
    size_t nv = 0, nw = 0;
    for (size_t j = 0; j < s.n_vacancies; j++)
        v[nv++] = &s.vacancies[j];
    for (size_t i = 0; i < s.n_workers; i++)
        if (i % 5 != 4)
            w[nw++] = &s.workers[i];
    register_members(c, "fair.register", "spring-2026", v, nv, w, nw / 2 + 10, (int64_t)nv,
                     (int64_t)(nw / 2 + 10));
    register_members(c, "fair.register", "spring-2026", v, 0, w + nw / 2, nw - nw / 2, 0,
                     (int64_t)(nw - nw / 2 - 10));

    size_t placed_total = 0;
    for (int scope = JO_SCOPE_COUNTY; scope <= JO_SCOPE_ALL; scope++) {
        for (int t = 0; t < 2; t++) {
            int64_t as_of = t == 0 ? JT_AS_OF : JT_AS_OF + 20 * JT_DAY;
            fair_case_t fc;
            case_build(&fc, &s, w, nw, v, nv, (jo_scope_t)scope, as_of);
            r = allocate(c, "spring-2026", (jo_scope_t)scope, as_of);
            placed_total += check_allocation(&fc, &r->result);
            const msgpack_object *missing = jt_need(&r->result, "missing");
            cr_assert_eq(jt_need(missing, "vacancies")->via.array.size, 0);
            cr_assert_eq(jt_need(missing, "workers")->via.array.size, 0);
            jm_reply_free(r);
            case_free(&fc);
        }
    }
    cr_assert_gt(placed_total, 100, "the allocations placed only %zu workers", placed_total);

    /* Members whose records are deleted are named as missing; an
     * unregistered worker is no longer considered; both survive a restart. */
    r = jt_call_json(c, "vacancy.delete", "{\"id\": \"%s\"}", v[0]->id);
    jt_expect_ok(r, "vacancy.delete");
    jm_reply_free(r);
    char gone[JO_ID_SIZE];
    snprintf(gone, sizeof gone, "%s", v[0]->id);
    jo_delete_vacancy(&s, gone);
    register_members(c, "fair.unregister", "spring-2026", v, 0, w, 1, 0, 1);
    cr_assert_eq(jt_daemon_restart(d), 0);
    jm_close(c);
    c = jt_connect_admin(d);

    r = jt_call_json(c, "fair.get", "{\"fair\": \"spring-2026\"}");
    jt_expect_ok(r, "fair.get");
    const msgpack_object *f = jt_need(&r->result, "fair");
    cr_assert_str_eq(jt_get_str(f, "name"), "Spring job fair");
    cr_assert_str_eq(jt_get_str(f, "region"), "110101");
    cr_assert_eq(jt_get_int(f, "date"), 1775000000);
    cr_assert_eq(jt_need(&r->result, "vacancies")->via.array.size, nv);
    cr_assert_eq(jt_need(&r->result, "workers")->via.array.size, nw - 1);
    jm_reply_free(r);

    fair_case_t fc;
    /* v and w are in id order: drop the deleted vacancy and the worker. */
    case_build(&fc, &s, w + 1, nw - 1, v + 1, nv - 1, JO_SCOPE_CITY, JT_AS_OF);
    r = allocate(c, "spring-2026", JO_SCOPE_CITY, JT_AS_OF);
    check_allocation(&fc, &r->result);
    const msgpack_object *missing = jt_need(&r->result, "missing");
    const msgpack_object *mv = jt_need(missing, "vacancies");
    cr_assert_eq(mv->via.array.size, 1);
    cr_assert(jt_str_is(&mv->via.array.ptr[0], gone));
    jm_reply_free(r);
    case_free(&fc);

    free(v);
    free(w);
    jo_store_free(&s);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(fair, errors_name_the_problem_and_change_nothing, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "fv1", "110101", "6-05-02-03", "weld:3");
    jt_put_worker(c, "fw1", "110101", "6-05-02", "weld:3");

    jm_reply_t *r = jt_call_json(c, "fair.create", "{\"id\": \"f1\", \"name\": \"Fair\"}");
    jt_expect_ok(r, "fair.create");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.create", "{\"id\": \"f1\", \"name\": \"Again\"}");
    jt_expect_error(r, "conflict", "f1");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.create", "{\"id\": \"bad id\", \"name\": \"Fair\"}");
    jt_expect_error(r, "bad_request", "id");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.create", "{\"id\": \"f2\"}");
    jt_expect_error(r, "bad_request", "name");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.create", "{\"id\": \"f2\", \"name\": \"F\", \"region\": \"11010x\"}");
    jt_expect_error(r, "bad_request", "region");
    jm_reply_free(r);

    /* One unknown id refuses the whole request. */
    r = jt_call_json(c, "fair.register",
                     "{\"fair\": \"f1\", \"vacancies\": [\"fv1\"], \"workers\": [\"fw1\", \"nobody\"]}");
    jt_expect_error(r, "not_found", "nobody");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.get", "{\"fair\": \"f1\"}");
    jt_expect_ok(r, "fair.get");
    cr_assert_eq(jt_need(&r->result, "vacancies")->via.array.size, 0);
    cr_assert_eq(jt_need(&r->result, "workers")->via.array.size, 0);
    jm_reply_free(r);

    r = jt_call_json(c, "fair.register", "{\"fair\": \"nofair\", \"workers\": [\"fw1\"]}");
    jt_expect_error(r, "not_found", "nofair");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.register", "{\"fair\": \"f1\", \"workers\": [\"fw1\", 7]}");
    jt_expect_error(r, "bad_request", "workers[1]");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.register", "{\"fair\": \"f1\", \"workers\": \"fw1\"}");
    jt_expect_error(r, "bad_request", "workers");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.register", "{\"fair\": \"f1\"}");
    jt_expect_error(r, "bad_request", "vacancies or workers");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"f1\", \"scope\": \"planet\"}");
    jt_expect_error(r, "bad_request", "scope");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"nofair\"}");
    jt_expect_error(r, "not_found", "nofair");
    jm_reply_free(r);

    /* An empty fair allocates nothing, and the connection still works. */
    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"f1\"}");
    jt_expect_ok(r, "fair.allocate");
    cr_assert_str_eq(jt_get_str(&r->result, "scope"), "all");
    cr_assert_eq(jt_need(&r->result, "assignments")->via.array.size, 0);
    jm_reply_free(r);

    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* With "referrals": true every assignment becomes a referral, under the
 * rules of referral.create: a pair already referred is refused, and the
 * allocation itself is the same as without. */
Test(fair, allocations_become_referrals, .timeout = 120)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    static const char *const vs[] = {"fv1", "fv2", "fv3"};
    static const char *const ws[] = {"fw1", "fw2", "fw3", "fw4", "fw5"};
    for (size_t i = 0; i < 3; i++)
        jt_put_vacancy(c, vs[i], "110101", "6-05-02-03", "weld:3");
    for (size_t i = 0; i < 5; i++)
        jt_put_worker(c, ws[i], "110101", "6-05-02", i % 2 ? "weld:3" : "weld:4");
    jm_reply_t *r = jt_call_json(c, "fair.create", "{\"id\": \"rf\", \"name\": \"Fair\"}");
    jt_expect_ok(r, "fair.create");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.register",
                     "{\"fair\": \"rf\", \"vacancies\": [\"fv1\", \"fv2\", \"fv3\"],"
                     " \"workers\": [\"fw1\", \"fw2\", \"fw3\", \"fw4\", \"fw5\"]}");
    jt_expect_ok(r, "fair.register");
    jm_reply_free(r);

    jm_reply_t *plain = jt_call_json(c, "fair.allocate", "{\"fair\": \"rf\"}");
    jt_expect_ok(plain, "fair.allocate");
    const msgpack_object *want = jt_need(&plain->result, "assignments");
    cr_assert_eq(want->via.array.size, 3, "one worker per vacancy");

    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"rf\", \"referrals\": true}");
    jt_expect_ok(r, "fair.allocate with referrals");
    const msgpack_object *as = jt_need(&r->result, "assignments");
    const msgpack_object *refs = jt_need(&r->result, "referrals");
    cr_assert_eq(as->via.array.size, want->via.array.size);
    cr_assert_eq(refs->via.array.size, as->via.array.size);
    for (uint32_t i = 0; i < refs->via.array.size; i++) {
        const msgpack_object *ref = &refs->via.array.ptr[i], *a = &as->via.array.ptr[i];
        cr_assert(jt_str_is(jt_need(ref, "worker"), jt_get_str(a, "worker")));
        cr_assert(jt_str_is(jt_need(ref, "vacancy"), jt_get_str(a, "vacancy")));
        char wid[JO_ID_SIZE], vid[JO_ID_SIZE], rid[32];
        snprintf(wid, sizeof wid, "%s", jt_get_str(a, "worker"));
        snprintf(vid, sizeof vid, "%s", jt_get_str(a, "vacancy"));
        snprintf(rid, sizeof rid, "%s", jt_get_str(ref, "referral"));
        cr_assert(jt_str_is(jt_need(&want->via.array.ptr[i], "worker"), wid),
                  "referrals changed the allocation");
        jm_reply_t *g = jt_call_json(c, "referral.get", "{\"id\": \"%s\"}", rid);
        jt_expect_ok(g, "referral.get");
        const msgpack_object *m = jt_need(&g->result, "referral");
        cr_assert(jt_str_is(jt_need(m, "worker"), wid));
        cr_assert(jt_str_is(jt_need(m, "vacancy"), vid));
        cr_assert(jt_str_is(jt_need(m, "status"), "referred"));
        const msgpack_object *h = jt_need(m, "history");
        cr_assert_eq(h->via.array.size, 1);
        cr_assert(jt_str_is(jt_need(&h->via.array.ptr[0], "note"), "job fair rf"));
        cr_assert(jt_str_is(jt_need(&h->via.array.ptr[0], "by"), "admin"));
        jm_reply_free(g);
    }
    jm_reply_free(r);

    /* Again: every pair has an open referral now, and each says so. */
    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"rf\", \"referrals\": true}");
    jt_expect_ok(r, "fair.allocate with referrals, again");
    refs = jt_need(&r->result, "referrals");
    cr_assert_eq(refs->via.array.size, want->via.array.size);
    for (uint32_t i = 0; i < refs->via.array.size; i++) {
        const msgpack_object *e = jt_need(&refs->via.array.ptr[i], "error");
        cr_assert(jt_str_is(jt_need(e, "code"), "conflict"));
        cr_assert_null(jt_get(&refs->via.array.ptr[i], "referral"));
    }
    jm_reply_free(r);
    r = jt_call_json(c, "referral.list", "{\"vacancy\": \"fv1\"}");
    jt_expect_ok(r, "referral.list");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"rf\", \"referrals\": 1}");
    jt_expect_error(r, "bad_request", "referrals");
    jm_reply_free(r);

    jm_reply_free(plain);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Notes are stored sealed: a server without a secret key makes a fair's
 * referrals without the note it would give them. */
Test(fair, without_a_key_referrals_are_made_without_a_note, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_keyless(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "fv1", "110101", "6-05-02-03", "weld:3");
    jt_put_worker(c, "fw1", "110101", "6-05-02", "weld:4");
    jm_reply_t *r = jt_call_json(c, "fair.create", "{\"id\": \"kf\", \"name\": \"Fair\"}");
    jt_expect_ok(r, "fair.create");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.register",
                     "{\"fair\": \"kf\", \"vacancies\": [\"fv1\"], \"workers\": [\"fw1\"]}");
    jt_expect_ok(r, "fair.register");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.allocate", "{\"fair\": \"kf\", \"referrals\": true}");
    jt_expect_ok(r, "fair.allocate with referrals");
    const msgpack_object *refs = jt_need(&r->result, "referrals");
    cr_assert_eq(refs->via.array.size, 1);
    char rid[32];
    snprintf(rid, sizeof rid, "%s", jt_get_str(&refs->via.array.ptr[0], "referral"));
    jm_reply_free(r);
    r = jt_call_json(c, "referral.get", "{\"id\": \"%s\"}", rid);
    jt_expect_ok(r, "referral.get");
    const msgpack_object *h = jt_need(jt_need(&r->result, "referral"), "history");
    cr_assert_eq(h->via.array.size, 1);
    cr_assert_eq(jt_need(&h->via.array.ptr[0], "note")->type, MSGPACK_OBJECT_NIL);
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
