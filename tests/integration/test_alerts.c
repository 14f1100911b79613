/* test_alerts.c - match alerts through the daemon, checked against the
 * reference ranking (tests/support/oracle.h).
 *
 * One connection subscribes for workers (vacancies that match them, with
 * scopes, minimum scores and the match filters) and for vacancies (newly
 * registered workers that match them, some with a category filter), and
 * listens. Another connection writes: new and replaced vacancies, new and
 * replaced workers, closes, deletes. After each round, the alerts pushed
 * to the listener must be exactly those the oracle computes write by
 * write (a record put is checked against every subscription with the
 * store as it is right after that write), with the oracle's scores; the
 * stored alerts (alert.list) must equal the pushed ones; and all of it
 * must hold again after a restart, with the subscriptions reloaded.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "oracle.h"
#include "records.h"
#include "wire.h"

#define EPS 1e-9
#define MAX_ALERTS 20000

static const char *const scope_names[] = {"county", "city", "province", "all"};

typedef struct sub {
    uint64_t id;
    bool for_worker;          /* subject is a worker: alerts name vacancies */
    char subject[JO_ID_SIZE];
    double min_score;
    jo_query_t q;             /* scope and filters; as_of set per write */
    bool active;
} sub_t;

typedef struct alert {
    uint64_t sub;
    char id[JO_ID_SIZE];
    double score;
    bool seen;
} alert_t;

static sub_t subs[320];
static size_t n_subs;
static alert_t expected[MAX_ALERTS];
static size_t n_expected;      /* over the whole test */
static size_t n_checked;       /* the first n_checked were pushed already */

/* ---- the oracle's view of one write ------------------------------------- */

static void
expect(uint64_t sub, const char *id, double score)
{
    cr_assert_lt(n_expected, MAX_ALERTS);
    alert_t *a = &expected[n_expected++];
    a->sub = sub;
    snprintf(a->id, sizeof a->id, "%s", id);
    a->score = score;
    a->seen = false;
}

/* The store already holds the record just written. */
static void
expect_for_vacancy(const jo_store_t *s, const jo_vacancy_t *v, int64_t now)
{
    for (size_t i = 0; i < n_subs; i++) {
        sub_t *sb = &subs[i];
        const jo_worker_t *w = sb->for_worker ? jo_find_worker(s, sb->subject) : NULL;
        if (!sb->active || !w)
            continue;
        sb->q.as_of = now;
        if (!jo_is_match(v, w, &sb->q, false))
            continue;
        jo_match_t m;
        jo_score(s, v, w, false, &m, NULL, NULL);
        if (m.score >= sb->min_score)
            expect(sb->id, v->id, m.score);
    }
}

static void
expect_for_worker(const jo_store_t *s, const jo_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < n_subs; i++) {
        sub_t *sb = &subs[i];
        const jo_vacancy_t *v = sb->for_worker ? NULL : jo_find_vacancy(s, sb->subject);
        if (!sb->active || !v)
            continue;
        sb->q.as_of = now;
        if (!jo_is_match(v, w, &sb->q, true))
            continue;
        jo_match_t m;
        jo_score(s, v, w, true, &m, NULL, NULL);
        if (m.score >= sb->min_score)
            expect(sb->id, w->id, m.score);
    }
}

/* ---- talking to the daemon ------------------------------------------------ */

static void
put_one(jm_client_t *c, const char *op, const char *key, const void *rec, bool vacancy)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, key);
    if (vacancy)
        jt_pack_jo_vacancy(&pk, rec);
    else
        jt_pack_jo_worker(&pk, rec, false);
    jm_reply_t *r = jt_call(c, op, &sb);
    jt_expect_ok(r, op);
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);
}

static void
subscribe(jm_client_t *c, sub_t *sb)
{
    char filters[256] = "";
    if (sb->q.occupation)
        snprintf(filters + strlen(filters), sizeof filters - strlen(filters),
                 ", \"occupation\": \"%s\"", sb->q.occupation);
    if (sb->q.employer)
        snprintf(filters + strlen(filters), sizeof filters - strlen(filters),
                 ", \"employer\": \"%s\"", sb->q.employer);
    if (sb->q.min_wage >= 0)
        snprintf(filters + strlen(filters), sizeof filters - strlen(filters),
                 ", \"min_wage\": %lld", (long long)sb->q.min_wage);
    if (sb->q.category)
        snprintf(filters + strlen(filters), sizeof filters - strlen(filters),
                 ", \"category\": \"%s\"", sb->q.category);
    jm_reply_t *r = jt_call_json(c, "alert.subscribe",
                                 "{\"%s\": \"%s\", \"min_score\": %.3f, \"scope\": \"%s\"%s}",
                                 sb->for_worker ? "worker" : "vacancy", sb->subject,
                                 sb->min_score, scope_names[sb->q.scope], filters);
    jt_expect_ok(r, "alert.subscribe");
    sb->id = (uint64_t)jt_get_int(&r->result, "subscription");
    sb->active = true;
    jm_reply_free(r);
}

/* Reads the listener's pushes up to the answer of a ping, and checks each
 * against the expected alerts: none missing, none extra, scores equal. */
static void
check_pushes(jm_client_t *l)
{
    uint64_t id;
    cr_assert_eq(jm_send(l, "ping", NULL, 0, &id), 0);
    size_t got = 0;
    for (;;) {
        jm_reply_t *r = NULL;
        cr_assert_eq(jm_recv(l, &r), 0, "%s", l->errstr);
        if (r->id == id) {
            jm_reply_free(r);
            break;
        }
        cr_assert_eq(r->id, 0);
        cr_assert(jt_str_is(jt_need(&r->result, "push"), "alert"));
        const msgpack_object *d = jt_need(&r->result, "data");
        uint64_t sub = (uint64_t)jt_get_int(d, "subscription");
        const msgpack_object *who = jt_get(d, "vacancy") ? jt_get(d, "vacancy") : jt_need(d, "worker");
        char rid[JO_ID_SIZE];
        snprintf(rid, sizeof rid, "%.*s", (int)who->via.str.size, who->via.str.ptr);
        double score = jt_get_double(d, "score");
        bool found = false;
        for (size_t i = n_checked; i < n_expected && !found; i++) {
            alert_t *a = &expected[i];
            if (a->seen || a->sub != sub || strcmp(a->id, rid) != 0 ||
                fabs(a->score - score) > EPS)
                continue;
            a->seen = found = true;
        }
        cr_assert(found, "unexpected alert: subscription %llu, %s, score %.12f",
                  (unsigned long long)sub, rid, score);
        got++;
        jm_reply_free(r);
    }
    for (size_t i = n_checked; i < n_expected; i++)
        cr_assert(expected[i].seen, "missing alert: subscription %llu, %s, score %.12f",
                  (unsigned long long)expected[i].sub, expected[i].id, expected[i].score);
    cr_assert_eq(got, n_expected - n_checked);
    n_checked = n_expected;
}

/* How many alerts alert.list holds over every active subscription, read
 * page by page (seqs growing, each alert its subscription's). */
static size_t
count_stored(jm_client_t *c)
{
    size_t total = 0;
    for (size_t i = 0; i < n_subs; i++) {
        if (!subs[i].active)
            continue;
        int64_t after = 0;
        size_t of_sub = 0;
        for (;;) {
            jm_reply_t *r = jt_call_json(c, "alert.list",
                                         "{\"subscription\": %llu, \"after\": %lld, \"limit\": 50}",
                                         (unsigned long long)subs[i].id, (long long)after);
            jt_expect_ok(r, "alert.list");
            const msgpack_object *as = jt_need(&r->result, "alerts");
            int64_t prev = after;
            for (uint32_t k = 0; k < as->via.array.size; k++) {
                int64_t seq = jt_get_int(&as->via.array.ptr[k], "seq");
                cr_assert_gt(seq, prev, "alerts out of order");
                prev = seq;
                cr_assert_eq(jt_get_int(&as->via.array.ptr[k], "subscription"), (int64_t)subs[i].id);
            }
            total += as->via.array.size;
            of_sub += as->via.array.size;
            const msgpack_object *next = jt_need(&r->result, "next");
            bool more = next->type != MSGPACK_OBJECT_NIL;
            if (more) {
                cr_assert_eq(as->via.array.size, 50, "a page with more behind it is full");
                after = next->via.i64;
            }
            jm_reply_free(r);
            if (!more)
                break;
        }
        /* A page that ends exactly at the last alert says there is no
         * next one. */
        if (of_sub > 0 && of_sub <= 1000) {
            jm_reply_t *r = jt_call_json(c, "alert.list",
                                         "{\"subscription\": %llu, \"limit\": %zu}",
                                         (unsigned long long)subs[i].id, of_sub);
            jt_expect_ok(r, "alert.list");
            cr_assert_eq(jt_need(&r->result, "alerts")->via.array.size, of_sub);
            cr_assert_eq(jt_need(&r->result, "next")->type, MSGPACK_OBJECT_NIL,
                         "a full last page of %zu alerts has a next", of_sub);
            jm_reply_free(r);
        }
    }
    return total;
}

/* One round of writes through c, each mirrored in s and turned into the
 * expected alerts. */
static void
write_round(jm_client_t *c, jo_store_t *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int64_t now = (int64_t)time(NULL);
        unsigned what = jt_rn(10);
        if (what < 4) {                     /* a new vacancy */
            jo_vacancy_t v;
            char id[JO_ID_SIZE];
            jt_new_vacancy_id(id, sizeof id);
            jt_random_vacancy(&v, id);
            v.expires = jt_rn(3) ? 0 : now + 400 * JT_DAY;
            put_one(c, "vacancy.put", "vacancy", &v, true);
            cr_assert_eq(jo_put_vacancy(s, &v), 0);
            expect_for_vacancy(s, jo_find_vacancy(s, id), now);
        } else if (what < 6 && s->n_vacancies) {   /* a changed vacancy */
            jo_vacancy_t v;
            char id[JO_ID_SIZE];
            snprintf(id, sizeof id, "%s", s->vacancies[jt_rn((unsigned)s->n_vacancies)].id);
            jt_random_vacancy(&v, id);
            v.expires = 0;
            put_one(c, "vacancy.put", "vacancy", &v, true);
            cr_assert_eq(jo_put_vacancy(s, &v), 0);
            expect_for_vacancy(s, jo_find_vacancy(s, id), now);
        } else if (what < 8) {              /* a newly registered worker */
            jo_worker_t w;
            char id[JO_ID_SIZE];
            jt_new_worker_id(id, sizeof id);
            jt_random_worker(&w, id);
            put_one(c, "worker.put", "worker", &w, false);
            cr_assert_eq(jo_put_worker(s, &w), 0);
            expect_for_worker(s, jo_find_worker(s, id), now);
        } else if (what < 9 && s->n_workers) {     /* a changed worker: no alert */
            jo_worker_t w;
            char id[JO_ID_SIZE];
            snprintf(id, sizeof id, "%s", s->workers[jt_rn((unsigned)s->n_workers)].id);
            jt_random_worker(&w, id);
            put_one(c, "worker.put", "worker", &w, false);
            cr_assert_eq(jo_put_worker(s, &w), 0);
        } else if (s->n_vacancies) {        /* a close: no alert */
            const char *id = s->vacancies[jt_rn((unsigned)s->n_vacancies)].id;
            jm_reply_t *r = jt_call_json(c, "vacancy.close", "{\"id\": \"%s\"}", id);
            jt_expect_ok(r, "vacancy.close");
            jm_reply_free(r);
            JT_SET(jo_find_vacancy(s, id)->status, "closed");
        }
    }
}

static void
add_subscriptions(jm_client_t *l, const jo_store_t *s)
{
    static const char *const occ[] = {NULL, NULL, "6", "6-05", "6-05-02-03"};
    /* More than the daemon checks one by one (256) before it indexes them,
     * so both ways of finding the subscriptions a write concerns run. */
    for (unsigned i = 0; i < 300; i++) {
        sub_t *sb = &subs[n_subs++];
        memset(sb, 0, sizeof *sb);
        sb->for_worker = i % 3 != 2;
        sb->q = jo_query_default(0);
        sb->q.scope = (jo_scope_t)(i % 4);
        sb->min_score = (i % 5) * 0.8 + (i >= 24 ? 2.5 : 0);
        if (sb->for_worker) {
            snprintf(sb->subject, sizeof sb->subject, "%s", s->workers[i * 7 % s->n_workers].id);
            sb->q.occupation = occ[i % 5];
            sb->q.employer = i % 7 == 3 ? jt_employers[0] : NULL;
            sb->q.min_wage = i % 6 == 1 ? 5000 : -1;
        } else {
            snprintf(sb->subject, sizeof sb->subject, "%s", s->vacancies[i * 5 % s->n_vacancies].id);
            sb->q.category = i % 4 == 1 ? jt_categories[i % 5] : NULL;
        }
        subscribe(l, sb);
    }
}

Test(alerts, pushed_and_stored_as_the_oracle_says, .timeout = 300)
{
    jt_rng_state = 4242;
    jt_n_regions_used = 6;
    jo_store_t s = {0};
    for (int i = 0; i < 60; i++) {
        jo_vacancy_t v;
        char id[JO_ID_SIZE];
        jt_new_vacancy_id(id, sizeof id);
        jt_random_vacancy(&v, id);
        v.expires = 0;
        cr_assert_eq(jo_put_vacancy(&s, &v), 0);
    }
    for (int i = 0; i < 80; i++) {
        jo_worker_t w;
        char id[JO_ID_SIZE];
        jt_new_worker_id(id, sizeof id);
        jt_random_worker(&w, id);
        cr_assert_eq(jo_put_worker(&s, &w), 0);
    }
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d), *l = jt_connect_admin(d);
    jt_put_store(c, &s);
    add_subscriptions(l, &s);

    /* Loading the store raised nothing: the subscriptions came after. */
    write_round(c, &s, 150);
    size_t first = n_expected;
    check_pushes(l);
    cr_assert_gt(first, 20, "only %zu alerts: the round tests little", first);
    cr_assert_eq(count_stored(c), n_expected);

    /* A subject's own change counts from then on (a worker who learns a
     * skill gets alerts for it), and an unsubscribed one gets nothing. */
    jm_reply_t *r = jt_call_json(l, "alert.unsubscribe", "{\"subscription\": %llu}",
                                 (unsigned long long)subs[0].id);
    jt_expect_ok(r, "alert.unsubscribe");
    jm_reply_free(r);
    subs[0].active = false;
    /* Its stored alerts went with it. */
    size_t first_sub_alerts = 0;
    for (size_t i = 0; i < n_expected; i++)
        first_sub_alerts += expected[i].sub == subs[0].id;
    cr_assert_eq(count_stored(c), n_expected - first_sub_alerts);
    jo_worker_t *w = jo_find_worker(&s, subs[1].subject);
    jt_add_skill(w->skills, &w->n_skills, "r/new-skill", 3);
    put_one(c, "worker.put", "worker", w, false);
    jo_vacancy_t v = jt_vacancy("v-with-new-skill", "9-99-99-99", w->region);
    jt_add_skill(v.skills, &v.n_skills, "r/new-skill", 2);
    put_one(c, "vacancy.put", "vacancy", &v, true);
    cr_assert_eq(jo_put_vacancy(&s, &v), 0);
    expect_for_vacancy(&s, jo_find_vacancy(&s, v.id), (int64_t)time(NULL));
    check_pushes(l);
    size_t before_restart = n_expected;

    /* After a restart the subscriptions are back; a listener reattaches
     * with alert.listen, and the stored alerts are all there. */
    jm_close(c);
    jm_close(l);
    cr_assert_eq(jt_daemon_restart(d), 0);
    c = jt_connect_admin(d);
    l = jt_connect_admin(d);
    cr_assert_eq(count_stored(c), before_restart - first_sub_alerts);
    for (size_t i = 0; i < n_subs; i++) {
        if (!subs[i].active)
            continue;
        r = jt_call_json(l, "alert.listen", "{\"subscription\": %llu}", (unsigned long long)subs[i].id);
        jt_expect_ok(r, "alert.listen");
        jm_reply_free(r);
    }
    write_round(c, &s, 100);
    check_pushes(l);
    cr_assert_gt(n_expected - before_restart, 5);
    cr_assert_eq(count_stored(c), n_expected - first_sub_alerts);

    jt_expect_check_clean(c, "after the alerts");

    jm_close(c);
    jm_close(l);
    jo_store_free(&s);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(alerts, errors_name_the_problem, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_worker(c, "aw1", "110101", "6-05-02", "weld:3");
    jm_reply_t *r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"nobody\"}");
    jt_expect_error(r, "not_found", "nobody");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscribe", "{}");
    jt_expect_error(r, "bad_request", "worker or vacancy");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"aw1\", \"vacancy\": \"v\"}");
    jt_expect_error(r, "bad_request", "one, not both");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"aw1\", \"min_score\": \"high\"}");
    jt_expect_error(r, "bad_request", "min_score");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"aw1\", \"scope\": \"moon\"}");
    jt_expect_error(r, "bad_request", "scope");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"aw1\", \"occupation\": \"6-0\"}");
    jt_expect_error(r, "bad_request", "occupation");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.list", "{\"subscription\": 99}");
    jt_expect_error(r, "not_found", "subscription 99");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.listen", "{\"subscription\": 0}");
    jt_expect_error(r, "bad_request", "subscription");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.unsubscribe", "{\"subscription\": 7}");
    jt_expect_error(r, "not_found", "subscription 7");
    jm_reply_free(r);
    /* A kiosk may not subscribe. */
    jm_client_t *k = jt_connect(d);
    r = jt_call_json(k, "alert.subscribe", "{\"worker\": \"aw1\"}");
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    jm_close(k);
    /* A nil subject is an absent one. */
    r = jt_call_json(c, "alert.subscribe", "{\"worker\": null, \"vacancy\": null}");
    jt_expect_error(r, "bad_request", "worker or vacancy: required");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscriptions", "{\"worker\": null}");
    jt_expect_ok(r, "alert.subscriptions with a nil worker lists them all");
    jm_reply_free(r);
    r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"aw1\", \"vacancy\": null}");
    jt_expect_ok(r, "alert.subscribe with a worker and a nil vacancy");
    cr_assert(jt_str_is(jt_need(&r->result, "worker"), "aw1"));
    jm_reply_free(r);
    r = jt_call_json(c, "ping", NULL);
    jt_expect_ok(r, "ping after errors");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* The alerts of one subscription in the store, oldest first. */
static jm_reply_t *
list_alerts(jm_client_t *c, uint64_t sub, const msgpack_object **alerts)
{
    jm_reply_t *r = jt_call_json(c, "alert.list", "{\"subscription\": %llu, \"limit\": 1000}",
                                 (unsigned long long)sub);
    jt_expect_ok(r, "alert.list");
    *alerts = jt_need(&r->result, "alerts");
    return r;
}

#define VAC_JSON(id, skill, occupation)                                                  \
    "{\"id\": \"" id "\", \"employer\": \"E\", \"title\": \"T\", \"occupation\": \""      \
    occupation "\", \"region\": \"110101\", \"headcount\": 2, \"skills\": "                 \
    "[{\"id\": \"" skill "\", \"level\": 2}]}"

/* A put_many is one write: its alerts are scored with the counts after all
 * of it, as match.vacancies scores once it is answered, and a record it
 * puts twice alerts once. A hire is no put: it raises nothing. */
Test(alerts, a_write_is_checked_whole_and_a_hire_is_no_put, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_worker(c, "w1", "110101", "6-05-02", "weld:3");
    jt_put_worker(c, "w2", "110101", "6-05-02", "weld:3");
    jm_client_t *s = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(s, "alert.subscribe", "{\"worker\": \"w1\"}");
    jt_expect_ok(r, "alert.subscribe");
    uint64_t sub = (uint64_t)jt_get_int(&r->result, "subscription");
    jm_reply_free(r);
    jm_close(s);

    r = jt_call_json(c, "vacancy.put_many", "{\"vacancies\": [" VAC_JSON("v1", "weld", "6-05-02-03") ", "
                     VAC_JSON("v2", "cook", "4-03-02-01") ", "
                     VAC_JSON("v3", "weld", "6-05-02-03") "]}");
    jt_expect_ok(r, "vacancy.put_many");
    jm_reply_free(r);
    jm_reply_t *m = jt_call_json(c, "match.vacancies", "{\"worker\": \"w1\"}");
    jt_expect_ok(m, "match.vacancies");
    const msgpack_object *matches = jt_need(&m->result, "matches");
    cr_assert_eq(matches->via.array.size, 2, "match.vacancies: %s",
                 jt_match_ids(c, "match.vacancies", "{\"worker\": \"w1\"}"));
    const msgpack_object *alerts;
    jm_reply_t *l = list_alerts(c, sub, &alerts);
    cr_assert_eq(alerts->via.array.size, 2, "one alert for each of v1 and v3");
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *a = &alerts->via.array.ptr[i];
        const char *id = jt_get_str(a, "vacancy");
        bool found = false;
        for (uint32_t k = 0; k < matches->via.array.size; k++) {
            const msgpack_object *mk = &matches->via.array.ptr[k];
            if (strcmp(jt_get_str(mk, "id"), id) != 0)
                continue;
            found = true;
            cr_assert(fabs(jt_get_double(a, "score") - jt_get_double(mk, "score")) < EPS,
                      "%s: alert score %.12f, match.vacancies %.12f", id,
                      jt_get_double(a, "score"), jt_get_double(mk, "score"));
        }
        cr_assert(found, "alert for %s, which does not match", id);
        cr_assert(jt_get_bool(a, "new"));
    }
    jm_reply_free(l);
    jm_reply_free(m);

    /* v4 twice in one batch: one alert, new. */
    r = jt_call_json(c, "vacancy.put_many", "{\"vacancies\": [" VAC_JSON("v4", "weld", "6-05-02-03") ", "
                     VAC_JSON("v4", "weld", "6-05-02-01") "]}");
    jt_expect_ok(r, "vacancy.put_many with v4 twice");
    jm_reply_free(r);
    l = list_alerts(c, sub, &alerts);
    cr_assert_eq(alerts->via.array.size, 3, "v4 put twice alerted %u times",
                 alerts->via.array.size - 2);
    cr_assert_str_eq(jt_get_str(&alerts->via.array.ptr[2], "vacancy"), "v4");
    cr_assert(jt_get_bool(&alerts->via.array.ptr[2], "new"));
    jm_reply_free(l);

    /* w2 hired into v1, which stays open with one place left. */
    const char *ref = jt_refer(c, "w2", "v1", NULL);
    r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"hired\"}", ref);
    jt_expect_ok(r, "referral.update to hired");
    jm_reply_free(r);
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", "{\"worker\": \"w1\"}"), "v1,v3,v4");
    l = list_alerts(c, sub, &alerts);
    cr_assert_eq(alerts->via.array.size, 3, "a hire raised an alert");
    jm_reply_free(l);
    /* A put of v1 (its filled kept) still does. */
    r = jt_call_json(c, "vacancy.put", "{\"vacancy\": " VAC_JSON("v1", "weld", "6-05-02-03") "}");
    jt_expect_ok(r, "vacancy.put v1");
    jm_reply_free(r);
    l = list_alerts(c, sub, &alerts);
    cr_assert_eq(alerts->via.array.size, 4);
    cr_assert_not(jt_get_bool(&alerts->via.array.ptr[3], "new"));
    jm_reply_free(l);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
