/* test_match.c - match.vacancies and match.workers (ranking version 1)
 * against the reference implementation in tests/support/oracle.c.
 *
 * Three kinds of test:
 *  - small hand-worked cases whose expected scores are written out as
 *    arithmetic in comments, run against the oracle alone and against the
 *    daemon;
 *  - randomized stores (seeded, so a failure replays) loaded through
 *    put_many, queried thousands of times both ways with every scope,
 *    several limits, registered workers and ad-hoc profiles (some through
 *    a kiosk connection) and the extra filters, then mutated (inserts,
 *    replacements, deletes, closes, moving as_of), queried again, and
 *    queried once more after a restart; every answer is compared with the
 *    oracle, ids, order, scores and, for a sample, the explain maps. A
 *    second, dense store (one city, three skills) is full of exact ties;
 *  - the rules of status and expiry, the role rules and the argument
 *    errors of both operations.
 *
 * Every daemon must also exit cleanly, which under AddressSanitizer means
 * without leaks.
 *
 * Environment: JM_MATCH_SEED (default 20260101) picks the stores;
 * JM_MATCH_SCALE (a float, default 1, or 0.3 under AddressSanitizer)
 * scales store sizes and query counts.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "oracle.h"
#include "records.h"
#include "wire.h"

/* 2026-01-01T00:00:00Z: every query passes an explicit as_of near it. */
#define AS_OF JT_AS_OF
#define DAY JT_DAY
#define EPS 1e-9

static const char *const scope_names[] = {"county", "city", "province", "all"};

/* One query as the tests send it. */
typedef struct mquery {
    bool for_workers;          /* match.workers, else match.vacancies */
    const jo_vacancy_t *vacancy;   /* match.workers subject */
    const jo_worker_t *worker;     /* match.vacancies subject */
    bool registered;           /* send {"worker": id}, else {"profile": map} */
    jo_query_t q;
    bool send_scope;           /* false: leave scope to its default (city) */
    bool send_limit;           /* false: leave limit to its default (20) */
    bool omit_as_of;           /* true: leave as_of to its default (now) */
    bool explain;
} mquery_t;

static void
pack_query(msgpack_sbuffer *sb, const mquery_t *m)
{
    const jo_query_t *q = &m->q;
    unsigned n = 1 + m->send_scope + m->send_limit + !m->omit_as_of + 1;
    if (m->for_workers)
        n += q->category != NULL;
    else
        n += (q->occupation != NULL) + (q->employer != NULL) + (q->min_wage >= 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    if (m->for_workers) {
        jt_pack_kv_str(&pk, "vacancy", m->vacancy->id);
        if (q->category)
            jt_pack_kv_str(&pk, "category", q->category);
    } else {
        if (m->registered) {
            jt_pack_kv_str(&pk, "worker", m->worker->id);
        } else {
            jt_pack_str(&pk, "profile");
            jt_pack_jo_worker(&pk, m->worker, true);
        }
        if (q->occupation)
            jt_pack_kv_str(&pk, "occupation", q->occupation);
        if (q->employer)
            jt_pack_kv_str(&pk, "employer", q->employer);
        if (q->min_wage >= 0)
            jt_pack_kv_int(&pk, "min_wage", q->min_wage);
    }
    if (m->send_scope)
        jt_pack_kv_str(&pk, "scope", scope_names[q->scope]);
    if (m->send_limit)
        jt_pack_kv_int(&pk, "limit", q->limit);
    if (!m->omit_as_of)
        jt_pack_kv_int(&pk, "as_of", q->as_of);
    jt_pack_str(&pk, "explain");
    if (m->explain)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

/* A one-line description of the query for failure messages. */
static const char *
describe(const mquery_t *m)
{
    static char buf[768];
    const jo_query_t *q = &m->q;
    int n;
    if (m->for_workers)
        n = snprintf(buf, sizeof buf, "match.workers {vacancy: %s",
                     m->vacancy->id);
    else if (m->registered)
        n = snprintf(buf, sizeof buf, "match.vacancies {worker: %s",
                     m->worker->id);
    else {
        const jo_worker_t *w = m->worker;
        n = snprintf(buf, sizeof buf,
                     "match.vacancies {profile: {region %s, birth %d, edu %d, "
                     "wage_min %lld, category %s, skills [",
                     w->region, w->birth_year, w->education,
                     (long long)w->wage_min, w->category);
        for (unsigned i = 0; i < w->n_skills && n < 500; i++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s:%d",
                          i ? "," : "", w->skills[i].id, w->skills[i].level);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "], desired [");
        for (unsigned i = 0; i < w->n_desired && n < 560; i++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s",
                          i ? "," : "", w->desired[i]);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "]}");
    }
    char min_wage[48] = "";
    if (q->min_wage >= 0)
        snprintf(min_wage, sizeof min_wage, ", min_wage: %lld",
                 (long long)q->min_wage);
    snprintf(buf + n, sizeof buf - (size_t)n,
             ", scope: %s, limit: %s%u, as_of: %s%lld%s%s%s%s%s%s%s%s}",
             m->send_scope ? scope_names[q->scope] : "(default city)",
             m->send_limit ? "" : "(default) ", q->limit,
             m->omit_as_of ? "(default now) " : "", (long long)q->as_of,
             q->occupation ? ", occupation: " : "",
             q->occupation ? q->occupation : "",
             q->employer ? ", employer: " : "", q->employer ? q->employer : "",
             min_wage, q->category ? ", category: " : "",
             q->category ? q->category : "",
             m->explain ? ", explain: true" : "");
    return buf;
}

/* ---- reading answers ---------------------------------------------------- */

typedef struct got {
    char id[JO_ID_SIZE];
    double score;
    const msgpack_object *explain;   /* owned by the reply; NULL if absent */
} got_t;

/* Reads result.matches into an array (caller frees); the reply must stay
 * alive while explain pointers are used. */
static got_t *
read_matches(const jm_reply_t *r, size_t *n_out)
{
    const msgpack_object *arr = jt_need(&r->result, "matches");
    cr_assert_eq(arr->type, MSGPACK_OBJECT_ARRAY, "matches: not an array");
    size_t n = arr->via.array.size;
    got_t *g = calloc(n + 1, sizeof *g);
    cr_assert_not_null(g);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *m = &arr->via.array.ptr[i];
        cr_assert_eq(m->type, MSGPACK_OBJECT_MAP, "matches[%zu]: not a map", i);
        const char *id = jt_get_str(m, "id");
        cr_assert_lt(strlen(id), sizeof g[i].id);
        strcpy(g[i].id, id);
        g[i].score = jt_get_double(m, "score");
        g[i].explain = jt_get(m, "explain");
    }
    *n_out = n;
    return g;
}

/* ---- comparing with the oracle ------------------------------------------ */

/* Mismatches are counted and the first ones printed in full, so one run
 * shows several distinct problems; each test asserts the count is 0. */
static unsigned n_failures;
static unsigned n_queries;
/* What the compared answers held, printed per round so that a reader can
 * see the queries were not trivially empty. */
static unsigned n_nonempty, n_truncated, n_explained, n_ties;
static size_t n_compared;

static void
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
    n_failures++;
    if (n_failures > 25)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "MISMATCH %u: ", n_failures);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void
dump_lists(const got_t *g, size_t ng, const jo_match_t *o, size_t no,
           size_t around)
{
    if (n_failures > 25)
        return;
    size_t from = around > 3 ? around - 3 : 0;
    for (size_t i = from; i < from + 8 && (i < ng || i < no); i++)
        fprintf(stderr, "    [%zu] daemon %-14s %.12f | oracle %-14s %.12f\n",
                i, i < ng ? g[i].id : "-", i < ng ? g[i].score : NAN,
                i < no ? o[i].id : "-", i < no ? o[i].score : NAN);
}

static const jo_match_t *
find_in(const jo_match_t *o, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(o[i].id, id) == 0)
            return &o[i];
    return NULL;
}

static bool
got_has(const got_t *g, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].id, id) == 0)
            return true;
    return false;
}

/* Checks one explain map against the oracle's parts for the pair. */
static void
check_explain(const msgpack_object *ex, const jo_store_t *s,
              const jo_vacancy_t *v, const jo_worker_t *w, bool for_workers,
              double score, const char *what, const char *id)
{
    if (!ex || ex->type != MSGPACK_OBJECT_MAP) {
        fail("%s: match %s has no explain map", what, id);
        return;
    }
    jo_match_t m;
    jo_skill_part_t parts[JO_MAX_SKILLS];
    unsigned np = 0;
    jo_score(s, v, w, for_workers, &m, parts, &np);

    double skill_part = jt_get_double(ex, "skill_part");
    double county = jt_get_double(ex, "county_bonus");
    double prio = jt_get_double(ex, "priority_bonus");
    const msgpack_object *occ = jt_need(ex, "occupation");
    cr_assert_eq(occ->type, MSGPACK_OBJECT_MAP, "explain.occupation: not a map");
    double occ_bonus = jt_get_double(occ, "bonus");
    const char *level = jt_get_str(occ, "level");
    if (strcmp(level, m.occ_level) != 0)
        fail("%s: %s explain.occupation.level %s, oracle %s", what, id, level,
             m.occ_level);
    const msgpack_object *desired = jt_need(occ, "desired");
    if (m.occ_bonus == 0.0) {
        if (desired->type != MSGPACK_OBJECT_NIL)
            fail("%s: %s explain.occupation.desired should be nil (bonus 0)",
                 what, id);
    } else if (desired->type != MSGPACK_OBJECT_STR) {
        fail("%s: %s explain.occupation.desired is not a string", what, id);
    } else {
        /* Several desired codes may reach the best bonus; any of them is a
         * right answer, so the named one must be in the list and reach it. */
        char d[JO_OCC_SIZE + 1] = "";
        if (desired->via.str.size < sizeof d)
            memcpy(d, desired->via.str.ptr, desired->via.str.size);
        bool ok = false;
        for (unsigned i = 0; i < w->n_desired; i++) {
            if (strcmp(w->desired[i], d) != 0)
                continue;
            jo_worker_t one = *w;
            one.n_desired = 1;
            JT_SET(one.desired[0], d);
            ok = ok || jo_occupation_bonus(&one, v->occupation, NULL, NULL) ==
                           m.occ_bonus;
        }
        if (!ok)
            fail("%s: %s explain.occupation.desired '%s' does not reach bonus "
                 "%.1f against %s", what, id, d, m.occ_bonus, v->occupation);
    }
    if (fabs(skill_part + occ_bonus + county + prio - score) > EPS)
        fail("%s: %s explain parts %.12f+%.12f+%.12f+%.12f != score %.12f",
             what, id, skill_part, occ_bonus, county, prio, score);
    if (fabs(skill_part - m.skill_part) > EPS || fabs(occ_bonus - m.occ_bonus) > EPS ||
        fabs(county - m.county_bonus) > EPS || fabs(prio - m.priority_bonus) > EPS)
        fail("%s: %s explain parts (skill %.12f, occ %.3f, county %.3f, "
             "priority %.3f), oracle (%.12f, %.3f, %.3f, %.3f)", what, id,
             skill_part, occ_bonus, county, prio, m.skill_part, m.occ_bonus,
             m.county_bonus, m.priority_bonus);

    const msgpack_object *sk = jt_need(ex, "skills");
    cr_assert_eq(sk->type, MSGPACK_OBJECT_ARRAY, "explain.skills: not an array");
    if (sk->via.array.size != np) {
        fail("%s: %s explain lists %u shared skills, oracle %u", what, id,
             sk->via.array.size, np);
        return;
    }
    double sum = 0;
    for (uint32_t i = 0; i < sk->via.array.size; i++) {
        const msgpack_object *e = &sk->via.array.ptr[i];
        char sid[JO_ID_SIZE];
        JT_SET(sid, jt_get_str(e, "id"));
        double idf = jt_get_double(e, "idf");
        int64_t lw = jt_get_int(e, "worker_level");
        int64_t lv = jt_get_int(e, "vacancy_level");
        double c = jt_get_double(e, "contribution");
        sum += c;
        const jo_skill_part_t *p = NULL;
        for (unsigned k = 0; k < np; k++)
            if (strcmp(parts[k].id, sid) == 0)
                p = &parts[k];
        if (!p) {
            fail("%s: %s explain lists skill %s that is not shared", what, id, sid);
            continue;
        }
        if (fabs(idf - p->idf) > EPS || lw != p->worker_level ||
            lv != p->vacancy_level || fabs(c - p->contribution) > EPS)
            fail("%s: %s explain skill %s: idf %.12f w %lld v %lld c %.12f; "
                 "oracle idf %.12f w %d v %d c %.12f", what, id, sid, idf,
                 (long long)lw, (long long)lv, c, p->idf, p->worker_level,
                 p->vacancy_level, p->contribution);
    }
    if (fabs(sum - skill_part) > EPS)
        fail("%s: %s explain contributions sum %.12f != skill_part %.12f",
             what, id, sum, skill_part);
}

/* Sends the query, runs the oracle and compares: same count (limit or all
 * matches), scores within EPS position by position, ids identical in order
 * except among near-ties (scores within EPS), and at the limit boundary a
 * missing oracle entry must be a near-tie of the last one returned. */
static void
run_query(jm_client_t *c, const jo_store_t *s, const mquery_t *m)
{
    n_queries++;
    mquery_t now_query;
    if (m->omit_as_of) {
        /* The daemon reads its clock; the stores keep every expiry far from
         * today and only the year matters for ages, so the oracle may read
         * its own a moment earlier. */
        now_query = *m;
        now_query.q.as_of = (int64_t)time(NULL);
        m = &now_query;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_query(&sb, m);
    const char *op = m->for_workers ? "match.workers" : "match.vacancies";
    jm_reply_t *r = jt_call(c, op, &sb);
    msgpack_sbuffer_destroy(&sb);
    if (!r->ok) {
        fail("%s: error %s: %s", describe(m), r->error_code, r->error_message);
        jm_reply_free(r);
        return;
    }
    size_t ng;
    got_t *g = read_matches(r, &ng);

    jo_query_t all = m->q;
    all.limit = 0;
    size_t no;
    jo_match_t *o = m->for_workers ? jo_match_workers(s, m->vacancy, &all, &no)
                                   : jo_match_vacancies(s, m->worker, &all, &no);
    size_t want = no < m->q.limit ? no : m->q.limit;
    const char *what = describe(m);
    n_nonempty += no > 0;
    n_truncated += no > m->q.limit;
    n_compared += ng;

    if (ng != want) {
        fail("%s: %zu matches, oracle %zu (of %zu)", what, ng, want, no);
        dump_lists(g, ng, o, no, ng < want ? ng : want);
        goto out;
    }
    for (size_t i = 0; i < ng; i++) {
        const jo_match_t *mine = find_in(o, no, g[i].id);
        if (!mine) {
            fail("%s: [%zu] %s (score %.12f) is not a match for the oracle",
                 what, i, g[i].id, g[i].score);
            dump_lists(g, ng, o, no, i);
            goto out;
        }
        if (fabs(g[i].score - mine->score) > EPS) {
            fail("%s: [%zu] %s score %.15f, oracle %.15f", what, i, g[i].id,
                 g[i].score, mine->score);
            dump_lists(g, ng, o, no, i);
            goto out;
        }
        if (strcmp(g[i].id, o[i].id) != 0 && fabs(mine->score - o[i].score) > EPS) {
            fail("%s: [%zu] daemon %s (%.12f), oracle %s (%.12f)", what, i,
                 g[i].id, g[i].score, o[i].id, o[i].score);
            dump_lists(g, ng, o, no, i);
            goto out;
        }
        if (i > 0 && (g[i - 1].score < g[i].score - EPS ||
                      (g[i - 1].score == g[i].score &&
                       strcmp(g[i - 1].id, g[i].id) >= 0))) {
            fail("%s: [%zu] %s (%.15f) after %s (%.15f) is out of order", what,
                 i, g[i].id, g[i].score, g[i - 1].id, g[i - 1].score);
            dump_lists(g, ng, o, no, i);
            goto out;
        }
        n_ties += i > 0 && g[i - 1].score == g[i].score;
        if (i > 0 && got_has(g, i, g[i].id)) {
            fail("%s: [%zu] %s appears twice", what, i, g[i].id);
            goto out;
        }
    }
    for (size_t j = 0; j < want; j++)
        if (!got_has(g, ng, o[j].id) && fabs(o[j].score - o[want - 1].score) > EPS) {
            fail("%s: oracle's [%zu] %s (%.12f) is missing", what, j, o[j].id,
                 o[j].score);
            dump_lists(g, ng, o, no, j);
            goto out;
        }
    for (size_t i = 0; i < ng; i++) {
        if (!m->explain) {
            if (g[i].explain)
                fail("%s: [%zu] %s has explain though none was asked", what,
                     i, g[i].id);
            continue;
        }
        const jo_match_t *mine = find_in(o, no, g[i].id);
        const jo_vacancy_t *v = m->for_workers ? m->vacancy
                                               : &s->vacancies[mine->index];
        const jo_worker_t *w = m->for_workers ? &s->workers[mine->index]
                                              : m->worker;
        check_explain(g[i].explain, s, v, w, m->for_workers, g[i].score, what,
                      g[i].id);
        n_explained++;
    }
out:
    free(o);
    free(g);
    jm_reply_free(r);
}

/* ---- hand-worked cases ---------------------------------------------------- */

/* Case one. Three vacancies, two workers, everything else at defaults.
 *
 *   va  6-05-02-03  110101  weld:3 lathe:2   priority [laid_off]
 *   vb  6-05-01-01  110102  weld:2
 *   vc  2-02-01-01  120101  code:4
 *   w1  110101  weld:4 lathe:1  desired [6-05]        laid_off
 *   w2  110102  code:2 weld:1   desired [2-02-01-01]  other
 *
 * match.vacancies counts open vacancies: N = 3, df(weld) = 2, df(lathe) = 1,
 * df(code) = 1, so idf(weld) = ln(1 + 3/2) = ln 2.5 and idf(lathe) =
 * idf(code) = ln 4.
 *
 * w1, scope all:
 *   va: weld ln2.5 * min(4,3)/3 = ln 2.5; lathe ln4 * min(1,2)/2 = ln 2;
 *       skill part ln 2.5 + ln 2 = ln 5 = 1.6094379124341003;
 *       "6-05" against 6-05-02-03 counts only to its own length: 0.6;
 *       same county 0.5; laid_off is a priority 0.5.
 *       score ln 5 + 1.6 = 3.2094379124341003
 *   vb: weld ln2.5 * min(4,2)/2 = ln 2.5 = 0.9162907318741551; 0.6; other
 *       county; score 1.5162907318741551
 *   vc: no shared skill and no occupation bonus (rule 6): no match.
 *   Scope city (1101) keeps both; scope county (110101) keeps va only.
 *
 * w2, scope all:
 *   vc: code ln4 * min(2,4)/4 = ln 2 = 0.6931471805599453; full code 2.0;
 *       score 2.6931471805599453
 *   vb: weld ln2.5 * min(1,2)/2 = 0.4581453659370776; same county 0.5;
 *       score 0.9581453659370776
 *   va: weld ln2.5 * min(1,3)/3 = 0.3054302439580517; score the same.
 *   Scope city (1101) drops vc.
 *
 * match.workers counts available workers: N = 2, df(weld) = 2,
 * df(lathe) = 1, so idf(weld) = ln 2, idf(lathe) = ln 3.
 *   va, scope city: w1: weld ln2 * 3/3 + lathe ln3 * 1/2 = 1.2424533248940002,
 *       + 0.6 + 0.5 + 0.5 = 2.8424533248940002;
 *       w2: weld ln2 * 1/3 = 0.23104906018664842.
 */
static void
hand_store_one(jo_store_t *s)
{
    memset(s, 0, sizeof *s);
    jo_vacancy_t va = jt_vacancy("va", "6-05-02-03", "110101");
    jt_add_skill(va.skills, &va.n_skills, "weld", 3);
    jt_add_skill(va.skills, &va.n_skills, "lathe", 2);
    JT_SET(va.priority[0], "laid_off");
    va.n_priority = 1;
    jo_vacancy_t vb = jt_vacancy("vb", "6-05-01-01", "110102");
    jt_add_skill(vb.skills, &vb.n_skills, "weld", 2);
    jo_vacancy_t vc = jt_vacancy("vc", "2-02-01-01", "120101");
    jt_add_skill(vc.skills, &vc.n_skills, "code", 4);
    jo_worker_t w1 = jt_worker("w1", 1990, "110101");
    jt_add_skill(w1.skills, &w1.n_skills, "weld", 4);
    jt_add_skill(w1.skills, &w1.n_skills, "lathe", 1);
    JT_SET(w1.desired[0], "6-05");
    w1.n_desired = 1;
    JT_SET(w1.category, "laid_off");
    jo_worker_t w2 = jt_worker("w2", 1990, "110102");
    jt_add_skill(w2.skills, &w2.n_skills, "code", 2);
    jt_add_skill(w2.skills, &w2.n_skills, "weld", 1);
    JT_SET(w2.desired[0], "2-02-01-01");
    w2.n_desired = 1;
    cr_assert_eq(jo_put_vacancy(s, &va), 0);
    cr_assert_eq(jo_put_vacancy(s, &vb), 0);
    cr_assert_eq(jo_put_vacancy(s, &vc), 0);
    cr_assert_eq(jo_put_worker(s, &w1), 0);
    cr_assert_eq(jo_put_worker(s, &w2), 0);
}

typedef struct expect {
    const char *id;
    double score;
} expect_t;

static void
expect_oracle(const jo_match_t *o, size_t n, const expect_t *want, size_t n_want,
              const char *what)
{
    cr_assert_eq(n, n_want, "%s: %zu matches, want %zu", what, n, n_want);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(o[i].id, want[i].id, "%s: [%zu]", what, i);
        cr_assert(fabs(o[i].score - want[i].score) < 1e-12,
                  "%s: [%zu] %s %.17g, want %.17g", what, i, o[i].id,
                  o[i].score, want[i].score);
    }
}

/* The expected answers of case one, shared by the oracle check and the
 * daemon check. */
static const expect_t w1_all[] = {{"va", 3.2094379124341003},
                                  {"vb", 1.5162907318741551}};
static const expect_t w1_county[] = {{"va", 3.2094379124341003}};
static const expect_t w2_all[] = {{"vc", 2.6931471805599453},
                                  {"vb", 0.9581453659370776},
                                  {"va", 0.3054302439580517}};
static const expect_t w2_city[] = {{"vb", 0.9581453659370776},
                                   {"va", 0.3054302439580517}};
static const expect_t va_city[] = {{"w1", 2.8424533248940002},
                                   {"w2", 0.23104906018664842}};

Test(oracle, hand_case_one)
{
    jo_store_t s;
    hand_store_one(&s);
    jo_query_t q = jo_query_default(AS_OF);
    size_t n;
    jo_match_t *o;

    q.scope = JO_SCOPE_ALL;
    o = jo_match_vacancies(&s, jo_find_worker(&s, "w1"), &q, &n);
    expect_oracle(o, n, w1_all, 2, "w1 all");
    cr_assert_str_eq(o[0].occ_level, "middle");
    cr_assert_float_eq(o[0].skill_part, log(5.0), 1e-12);
    cr_assert_float_eq(o[0].priority_bonus, 0.5, 0);
    free(o);
    q.scope = JO_SCOPE_CITY;
    o = jo_match_vacancies(&s, jo_find_worker(&s, "w1"), &q, &n);
    expect_oracle(o, n, w1_all, 2, "w1 city");
    free(o);
    q.scope = JO_SCOPE_COUNTY;
    o = jo_match_vacancies(&s, jo_find_worker(&s, "w1"), &q, &n);
    expect_oracle(o, n, w1_county, 1, "w1 county");
    free(o);

    q.scope = JO_SCOPE_ALL;
    o = jo_match_vacancies(&s, jo_find_worker(&s, "w2"), &q, &n);
    expect_oracle(o, n, w2_all, 3, "w2 all");
    free(o);
    q.scope = JO_SCOPE_CITY;
    o = jo_match_vacancies(&s, jo_find_worker(&s, "w2"), &q, &n);
    expect_oracle(o, n, w2_city, 2, "w2 city");
    free(o);
    q.limit = 1;
    o = jo_match_vacancies(&s, jo_find_worker(&s, "w2"), &q, &n);
    expect_oracle(o, n, w2_city, 1, "w2 city limit 1");
    free(o);

    q = jo_query_default(AS_OF);
    o = jo_match_workers(&s, jo_find_vacancy(&s, "va"), &q, &n);
    expect_oracle(o, n, va_city, 2, "va city");
    free(o);
    jo_store_free(&s);
}

/* Case two: ties and rule 6 by occupation alone. No skills anywhere.
 *
 *   b  6-05-02-03, a  6-05-02-07, B  6-05-02-09, c  6-05-01-01; all 120101
 *   profile 120102 desiring [6-05-02]
 *
 * b, a and B agree with 6-05-02 on the minor group: 1.2 each, which is
 * enough for rule 6; c agrees on the middle group only (0.6 < 1.2): no
 * match. Different counties, same city: no county bonus. The three tie at
 * 1.2 and come in bytewise id order: "B" (0x42) < "a" < "b". Desiring
 * [6-05-02, 6-05-02-03] instead lifts b to the full 2.0 and first place.
 */
static void
hand_store_two(jo_store_t *s)
{
    memset(s, 0, sizeof *s);
    jo_vacancy_t v = jt_vacancy("b", "6-05-02-03", "120101");
    cr_assert_eq(jo_put_vacancy(s, &v), 0);
    v = jt_vacancy("a", "6-05-02-07", "120101");
    cr_assert_eq(jo_put_vacancy(s, &v), 0);
    v = jt_vacancy("B", "6-05-02-09", "120101");
    cr_assert_eq(jo_put_vacancy(s, &v), 0);
    v = jt_vacancy("c", "6-05-01-01", "120101");
    cr_assert_eq(jo_put_vacancy(s, &v), 0);
}

static const expect_t two_minor[] = {{"B", 1.2}, {"a", 1.2}, {"b", 1.2}};
static const expect_t two_full[] = {{"b", 2.0}, {"B", 1.2}, {"a", 1.2}};

static jo_worker_t
hand_profile_two(bool with_full)
{
    jo_worker_t p = jt_worker("profile", 1990, "120102");
    JT_SET(p.desired[p.n_desired++], "6-05-02");
    if (with_full)
        JT_SET(p.desired[p.n_desired++], "6-05-02-03");
    return p;
}

Test(oracle, hand_case_two_ties)
{
    jo_store_t s;
    hand_store_two(&s);
    jo_query_t q = jo_query_default(AS_OF);
    size_t n;
    jo_worker_t p = hand_profile_two(false);
    jo_match_t *o = jo_match_vacancies(&s, &p, &q, &n);
    expect_oracle(o, n, two_minor, 3, "ties");
    free(o);
    p = hand_profile_two(true);
    o = jo_match_vacancies(&s, &p, &q, &n);
    expect_oracle(o, n, two_full, 3, "full");
    cr_assert_str_eq(o[0].occ_level, "full");
    cr_assert_str_eq(o[1].occ_level, "minor");
    free(o);
    jo_store_free(&s);
}

Test(oracle, occupation_prefix_rule)
{
    static const struct {
        const char *d, *occ;
        double bonus;
        const char *level;
    } cases[] = {
        {"6-05-02-03", "6-05-02-03", 2.0, "full"},
        {"6-05-02-07", "6-05-02-03", 1.2, "minor"},
        {"6-05-02", "6-05-02-03", 1.2, "minor"},
        {"6-05", "6-05-02-03", 0.6, "middle"},
        {"6-05-01-01", "6-05-02-03", 0.6, "middle"},
        {"6-05-01", "6-05-02-03", 0.6, "middle"},
        {"6", "6-05-02-03", 0.2, "major"},
        {"6-07", "6-05-02-03", 0.2, "major"},
        {"2-02-01-01", "6-05-02-03", 0.0, "none"},
        {"2", "6-05-02-03", 0.0, "none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jo_worker_t w = jt_worker("w", 1990, "110101");
        JT_SET(w.desired[0], cases[i].d);
        w.n_desired = 1;
        const char *level;
        int at;
        double b = jo_occupation_bonus(&w, cases[i].occ, &level, &at);
        cr_assert_eq(b, cases[i].bonus, "%s vs %s", cases[i].d, cases[i].occ);
        cr_assert_str_eq(level, cases[i].level, "%s vs %s", cases[i].d,
                         cases[i].occ);
        cr_assert_eq(at, cases[i].bonus > 0 ? 0 : -1);
    }
    /* The best over the list wins, wherever it stands. */
    jo_worker_t w = jt_worker("w", 1990, "110101");
    JT_SET(w.desired[w.n_desired++], "6");
    JT_SET(w.desired[w.n_desired++], "6-05-02");
    JT_SET(w.desired[w.n_desired++], "6-05");
    int at;
    cr_assert_eq(jo_occupation_bonus(&w, "6-05-02-03", NULL, &at), 1.2);
    cr_assert_eq(at, 1);
}

Test(oracle, rules_one_to_five)
{
    jo_query_t q = jo_query_default(AS_OF);
    q.scope = JO_SCOPE_ALL;
    jo_vacancy_t v = jt_vacancy("v", "6-05-02-03", "110101");
    jt_add_skill(v.skills, &v.n_skills, "weld", 2);
    jo_worker_t w = jt_worker("w", 1990, "120203");
    jt_add_skill(w.skills, &w.n_skills, "weld", 1);
    cr_assert(jo_is_match(&v, &w, &q, true));

    /* The calendar year of as_of in UTC: one second before 2026 is 2025. */
    cr_assert_eq(jo_year_utc(AS_OF), 2026);
    cr_assert_eq(jo_year_utc(AS_OF - 1), 2025);
    v.age_max = 36;   /* age 36 in 2026, 35 in 2025 */
    cr_assert(jo_is_match(&v, &w, &q, true));
    v.age_max = 35;
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    q.as_of = AS_OF - 1;
    cr_assert(jo_is_match(&v, &w, &q, true));
    v.age_max = 0;
    v.age_min = 36;
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    q.as_of = AS_OF;
    cr_assert(jo_is_match(&v, &w, &q, true));
    v.age_min = 0;

    v.expires = AS_OF;   /* must be later than as_of */
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    v.expires = AS_OF + 1;
    cr_assert(jo_is_match(&v, &w, &q, true));
    v.expires = 0;

    v.wage_max = 4999;
    w.wage_min = 5000;
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    v.wage_max = 5000;
    cr_assert(jo_is_match(&v, &w, &q, true));
    v.wage_max = 0;
    cr_assert(jo_is_match(&v, &w, &q, true));

    v.education_min = 4;
    w.education = 3;
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    w.education = 4;
    cr_assert(jo_is_match(&v, &w, &q, true));

    v.filled = 1;   /* headcount 1 */
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    v.filled = 0;
    JT_SET(w.status, "employed");
    cr_assert_not(jo_is_match(&v, &w, &q, true));
    cr_assert(jo_is_match(&v, &w, &q, false));   /* only match.workers asks */
    JT_SET(v.status, "closed");
    cr_assert_not(jo_is_match(&v, &w, &q, false));
    JT_SET(v.status, "open");

    q.scope = JO_SCOPE_PROVINCE;   /* 11 vs 12 */
    cr_assert_not(jo_is_match(&v, &w, &q, false));
    JT_SET(w.region, "119999");
    cr_assert(jo_is_match(&v, &w, &q, false));
    q.scope = JO_SCOPE_CITY;
    cr_assert_not(jo_is_match(&v, &w, &q, false));
    JT_SET(w.region, "110199");
    cr_assert(jo_is_match(&v, &w, &q, false));
    q.scope = JO_SCOPE_COUNTY;
    cr_assert_not(jo_is_match(&v, &w, &q, false));
}

/* ---- hand-worked cases through the daemon ------------------------------- */

/* Runs a query and compares with a hand-computed list, exactly in order. */
static void
expect_daemon(jm_client_t *c, const char *op, const char *json,
              const expect_t *want, size_t n_want)
{
    jm_reply_t *r = jt_call_json(c, op, "%s", json);
    jt_expect_ok(r, json);
    size_t n;
    got_t *g = read_matches(r, &n);
    cr_assert_eq(n, n_want, "%s %s: %zu matches, want %zu", op, json, n, n_want);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(g[i].id, want[i].id, "%s %s: [%zu]", op, json, i);
        cr_assert(fabs(g[i].score - want[i].score) < EPS,
                  "%s %s: [%zu] %s %.17g, want %.17g", op, json, i, g[i].id,
                  g[i].score, want[i].score);
    }
    free(g);
    jm_reply_free(r);
}

Test(match, hand_case_one, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jo_store_t s;
    hand_store_one(&s);
    jt_put_store(c, &s);

    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w1\", \"scope\": \"all\", \"as_of\": 1767225600}",
                  w1_all, 2);
    expect_daemon(c, "match.vacancies", "{\"worker\": \"w1\", \"as_of\": 1767225600}",
                  w1_all, 2);
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w1\", \"scope\": \"county\", \"as_of\": 1767225600}",
                  w1_county, 1);
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w2\", \"scope\": \"all\", \"as_of\": 1767225600}",
                  w2_all, 3);
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w2\", \"scope\": \"city\", \"as_of\": 1767225600}",
                  w2_city, 2);
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w2\", \"limit\": 1, \"as_of\": 1767225600}",
                  w2_city, 1);
    /* The same worker sent as a profile ranks the same. */
    expect_daemon(c, "match.vacancies",
                  "{\"profile\": {\"birth_year\": 1990, \"region\": \"110102\", "
                  "\"skills\": [{\"id\": \"code\", \"level\": 2}, "
                  "{\"id\": \"weld\", \"level\": 1}], "
                  "\"desired_occupations\": [\"2-02-01-01\"]}, \"scope\": \"all\", "
                  "\"as_of\": 1767225600}",
                  w2_all, 3);
    expect_daemon(c, "match.workers", "{\"vacancy\": \"va\", \"as_of\": 1767225600}",
                  va_city, 2);
    /* The extra filters cut the list but not the scores. */
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w2\", \"scope\": \"all\", \"occupation\": \"6-05\", "
                  "\"as_of\": 1767225600}", w2_city, 2);
    expect_daemon(c, "match.workers",
                  "{\"vacancy\": \"va\", \"category\": \"other\", \"as_of\": 1767225600}",
                  va_city + 1, 1);

    /* Explain for w1 -> va, worked out above. */
    jm_reply_t *r = jt_call_json(c, "match.vacancies",
                                 "{\"worker\": \"w1\", \"scope\": \"county\", "
                                 "\"explain\": true, \"as_of\": 1767225600}");
    jt_expect_ok(r, "explain");
    size_t n;
    got_t *g = read_matches(r, &n);
    cr_assert_eq(n, 1);
    const msgpack_object *ex = g[0].explain;
    cr_assert_not_null(ex, "explain missing");
    cr_assert_float_eq(jt_get_double(ex, "skill_part"), log(5.0), EPS);
    cr_assert_float_eq(jt_get_double(ex, "county_bonus"), 0.5, EPS);
    cr_assert_float_eq(jt_get_double(ex, "priority_bonus"), 0.5, EPS);
    const msgpack_object *occ = jt_need(ex, "occupation");
    cr_assert_float_eq(jt_get_double(occ, "bonus"), 0.6, EPS);
    cr_assert_str_eq(jt_get_str(occ, "level"), "middle");
    cr_assert_str_eq(jt_get_str(occ, "desired"), "6-05");
    const msgpack_object *sk = jt_need(ex, "skills");
    cr_assert_eq(sk->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(sk->via.array.size, 2);
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *e = &sk->via.array.ptr[i];
        bool weld = strcmp(jt_get_str(e, "id"), "weld") == 0;
        cr_assert(weld || strcmp(jt_get_str(e, "id"), "lathe") == 0);
        cr_assert_float_eq(jt_get_double(e, "idf"), weld ? log(2.5) : log(4.0), EPS);
        cr_assert_eq(jt_get_int(e, "worker_level"), weld ? 4 : 1);
        cr_assert_eq(jt_get_int(e, "vacancy_level"), weld ? 3 : 2);
        cr_assert_float_eq(jt_get_double(e, "contribution"),
                           weld ? log(2.5) : log(2.0), EPS);
    }
    free(g);
    jm_reply_free(r);

    jo_store_free(&s);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}

Test(match, hand_case_two_ties, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jo_store_t s;
    hand_store_two(&s);
    jt_put_store(c, &s);
    expect_daemon(c, "match.vacancies",
                  "{\"profile\": {\"birth_year\": 1990, \"region\": \"120102\", "
                  "\"desired_occupations\": [\"6-05-02\"]}, \"as_of\": 1767225600}",
                  two_minor, 3);
    expect_daemon(c, "match.vacancies",
                  "{\"profile\": {\"birth_year\": 1990, \"region\": \"120102\", "
                  "\"desired_occupations\": [\"6-05-02\", \"6-05-02-03\"]}, "
                  "\"as_of\": 1767225600}",
                  two_full, 3);
    expect_daemon(c, "match.vacancies",
                  "{\"profile\": {\"birth_year\": 1990, \"region\": \"120102\", "
                  "\"desired_occupations\": [\"6-05-02\"]}, \"limit\": 2, "
                  "\"as_of\": 1767225600}",
                  two_minor, 2);
    /* The county scope leaves nothing: every vacancy is in 120101. */
    expect_daemon(c, "match.vacancies",
                  "{\"profile\": {\"birth_year\": 1990, \"region\": \"120102\", "
                  "\"desired_occupations\": [\"6-05-02\"]}, \"scope\": \"county\", "
                  "\"as_of\": 1767225600}",
                  two_minor, 0);
    jo_store_free(&s);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}

/* Puts a vacancy of occupation 1-01-01-01 in region 110105 requiring the
 * skills of skills_json. */
static void
put_tie_vacancy(jm_client_t *c, const char *id, const char *extra, const char *skills_json)
{
    jm_reply_t *r = jt_call_json(c, "vacancy.put",
                                 "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"E\", "
                                 "\"title\": \"T\", \"occupation\": \"1-01-01-01\", "
                                 "\"region\": \"110105\", %s\"skills\": %s}}",
                                 id, extra, skills_json);
    jt_expect_ok(r, id);
    jm_reply_free(r);
}

/* How many records the last search of op (match.vacancies or
 * match.workers) read, from the daemon's debug line for it. */
static unsigned
records_read(const jt_daemon_t *d, const char *op)
{
    char *log = jt_daemon_log(d);
    const char *last = NULL;
    for (const char *p = strstr(log, op); p; p = strstr(p + 1, op))
        if (strstr(p, "candidates read") && strchr(p, ':'))
            last = p;
    cr_assert_not_null(last, "no debug line of %s in: %s", op, log);
    const char *words = strstr(last, " postings, ");
    cr_assert_not_null(words, "%s", last);
    unsigned n = 0;
    cr_assert_eq(sscanf(words, " postings, %u candidates read", &n), 1, "%s", last);
    free(log);
    return n;
}

/* A finalist whose whole score the postings told is not read: only its id
 * is (the names table). Every finalist of match.vacancies is one, as is a
 * worker met in the vacancy's minor group; a worker met by skills alone
 * may still agree at the middle group, and the employer filter needs each
 * record, so those are read. */
Test(match, finalists_the_postings_told_whole_are_not_read, .timeout = 60)
{
    const char *const debug[] = {"--log-level", "debug", NULL};
    jt_daemon_t *d = jt_daemon_start_logged(NULL, debug);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", "weld:3");
    jt_put_vacancy(c, "v-2", "110105", "6-05-02-03", "weld:3,cook:2");
    jt_put_worker(c, "w-1", "110105", "6-05-02-03", "weld:3,cook:2");
    jt_put_worker(c, "w-2", "110105", "2-02-01-01", "weld:2");

    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", "{\"worker\": \"w-1\"}"), "v-2,v-1");
    cr_assert_eq(records_read(d, "match.vacancies"), 0);

    cr_assert_str_eq(jt_match_ids(c, "match.vacancies",
                                  "{\"worker\": \"w-1\", \"employer\": \"Employer of v-2\"}"),
                     "v-2");
    cr_assert_eq(records_read(d, "match.vacancies"), 2, "the employer filter reads each");

    cr_assert_str_eq(jt_match_ids(c, "match.workers", "{\"vacancy\": \"v-2\"}"), "w-1,w-2");
    cr_assert_eq(records_read(d, "match.workers"), 1, "w-2, met by a skill alone");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Scores equal as real numbers tie, and the ids decide, even where the
 * same contributions summed in another order differ in their last bits:
 * vacancies listing the same skills in other orders, workers sharing
 * skills of the same idf, bonuses made up differently. */
Test(match, ties_in_real_numbers_go_by_id, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    /* N = 4, df(s1) = df(s2) = 2, df(s3) = 4: a and b require the same. */
    put_tie_vacancy(c, "a", "", "[{\"id\": \"s3\", \"level\": 1}, {\"id\": \"s2\", \"level\": 1}, "
                                "{\"id\": \"s1\", \"level\": 1}]");
    put_tie_vacancy(c, "b", "", "[{\"id\": \"s1\", \"level\": 1}, {\"id\": \"s2\", \"level\": 1}, "
                                "{\"id\": \"s3\", \"level\": 1}]");
    put_tie_vacancy(c, "c", "", "[{\"id\": \"s3\", \"level\": 1}]");
    put_tie_vacancy(c, "d", "", "[{\"id\": \"s3\", \"level\": 1}]");
    const char *profile = "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\", "
                          "\"skills\": [{\"id\": \"s1\", \"level\": 1}, {\"id\": \"s2\", "
                          "\"level\": 1}, {\"id\": \"s3\", \"level\": 1}]}, \"scope\": \"all\", "
                          "\"limit\": %d, \"as_of\": 1767225600}";
    double ab = 2 * log(3.0) + log(2.0) + 0.5;
    const expect_t both[] = {{"a", ab}, {"b", ab}};
    for (int limit = 1; limit <= 2; limit++) {
        char json[512];
        snprintf(json, sizeof json, profile, limit);
        expect_daemon(c, "match.vacancies", json, both, (size_t)limit);
    }

    /* match.workers: x holds s4, s5, s6 and y holds s4, s6, s7, where s5
     * and s7 have the same df; z holds s4 only. */
    const char *workers[][2] = {{"x", "s4\", \"level\": 1}, {\"id\": \"s5\", \"level\": 1}, "
                                      "{\"id\": \"s6"},
                                {"y", "s4\", \"level\": 1}, {\"id\": \"s6\", \"level\": 1}, "
                                      "{\"id\": \"s7"},
                                {"z", "s4"}};
    for (size_t i = 0; i < 3; i++) {
        jm_reply_t *r = jt_call_json(c, "worker.put",
                                     "{\"worker\": {\"id\": \"%s\", \"birth_year\": 1990, "
                                     "\"region\": \"110105\", \"skills\": [{\"id\": \"%s\", "
                                     "\"level\": 1}]}}",
                                     workers[i][0], workers[i][1]);
        jt_expect_ok(r, workers[i][0]);
        jm_reply_free(r);
    }
    put_tie_vacancy(c, "v", "", "[{\"id\": \"s4\", \"level\": 1}, {\"id\": \"s5\", \"level\": 1}, "
                                "{\"id\": \"s6\", \"level\": 1}, {\"id\": \"s7\", \"level\": 1}]");
    /* N = 3 workers: idf(s4) = ln 2, idf(s5) = idf(s7) = ln 4, idf(s6) =
     * ln 2.5; in v's skill order x sums ln 2 + ln 4 + ln 2.5 and y
     * ln 2 + ln 2.5 + ln 4. */
    double xy = log(2.0) + log(4.0) + log(2.5) + 0.5;
    const expect_t xy_first[] = {{"x", xy}, {"y", xy}};
    expect_daemon(c, "match.workers", "{\"vacancy\": \"v\", \"scope\": \"all\", \"limit\": 1, "
                                      "\"as_of\": 1767225600}", xy_first, 1);
    expect_daemon(c, "match.workers", "{\"vacancy\": \"v\", \"scope\": \"all\", \"limit\": 2, "
                                      "\"as_of\": 1767225600}", xy_first, 2);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}

static double
scale(void)
{
    const char *e = getenv("JM_MATCH_SCALE");
    if (e && *e)
        return atof(e) > 0 ? atof(e) : 1.0;
#if defined(__SANITIZE_ADDRESS__)
    return 0.3;
#else
    return 1.0;
#endif
}

/* base times scale(), and at least least. */
static unsigned
scaled(unsigned base, unsigned least)
{
    unsigned n = (unsigned)(base * scale());
    return n < least ? least : n;
}

static uint64_t
seed(void)
{
    const char *e = getenv("JM_MATCH_SEED");
    return e && *e ? strtoull(e, NULL, 0) : UINT64_C(20260101);
}

static const int64_t as_ofs[] = {
    AS_OF, AS_OF, AS_OF, AS_OF - 1, AS_OF + 1, AS_OF + 20 * DAY, AS_OF - 2 * DAY,
};
static const unsigned limits[] = {1, 5, 20, 200};
static const char *const occ_filters[] = {"6", "6-05", "6-05-02", "6-05-02-03",
                                          "2-02", "4"};
static const int64_t min_wages[] = {0, 4000, 8000};

/* A random query of either direction over the store. */
static void
random_query(const jo_store_t *s, mquery_t *m, jo_worker_t *profile,
             bool for_workers)
{
    memset(m, 0, sizeof *m);
    m->for_workers = for_workers;
    m->q = jo_query_default(JT_PICK(as_ofs));
    m->send_scope = jt_rn(5) != 0;
    m->q.scope = m->send_scope ? (jo_scope_t)jt_rn(4) : JO_SCOPE_CITY;
    m->send_limit = jt_rn(5) != 0;
    m->q.limit = m->send_limit ? JT_PICK(limits) : 20;
    m->explain = jt_rn(8) == 0;
    m->omit_as_of = jt_rn(10) == 0;
    if (for_workers) {
        m->vacancy = &s->vacancies[jt_rn((unsigned)s->n_vacancies)];
        if (jt_rn(5) == 0)
            m->q.category = JT_PICK(jt_categories);
        return;
    }
    m->registered = jt_rn(2) == 0;
    if (m->registered) {
        m->worker = &s->workers[jt_rn((unsigned)s->n_workers)];
    } else {
        jt_random_worker(profile, "profile");
        m->worker = profile;
    }
    if (jt_rn(5) == 0)
        m->q.occupation = JT_PICK(occ_filters);
    if (jt_rn(10) == 0)
        m->q.employer = JT_PICK(jt_employers);
    if (jt_rn(7) == 0)
        m->q.min_wage = JT_PICK(min_wages);
}

/* Runs n random queries and a fixed sweep of every scope and limit. Half
 * of the profile queries go through kiosk, the anonymous connection, to
 * show the kiosk's way ranks the same. */
static void
run_round(jm_client_t *c, jm_client_t *kiosk, const jo_store_t *s, unsigned n,
          const char *round)
{
    unsigned before = n_failures;
    n_nonempty = n_truncated = n_explained = n_ties = 0;
    n_compared = 0;
    jo_worker_t profile;
    for (unsigned i = 0; i < n; i++) {
        mquery_t m;
        random_query(s, &m, &profile, i % 2 == 1);
        bool anonymous = !m.for_workers && !m.registered && jt_rn(2) == 0;
        run_query(anonymous ? kiosk : c, s, &m);
    }
    /* Every scope and limit at least once each way, on fixed subjects. */
    for (unsigned sc = 0; sc < 4; sc++)
        for (unsigned l = 0; l < 4; l++)
            for (int dir = 0; dir < 2; dir++) {
                mquery_t m;
                memset(&m, 0, sizeof m);
                m.for_workers = dir;
                m.q = jo_query_default(AS_OF);
                m.q.scope = (jo_scope_t)sc;
                m.q.limit = limits[l];
                m.send_scope = m.send_limit = true;
                m.vacancy = &s->vacancies[(sc * 4 + l) % s->n_vacancies];
                m.worker = &s->workers[(sc * 4 + l) % s->n_workers];
                m.registered = true;
                m.explain = l == 2;
                run_query(c, s, &m);
            }
    fprintf(stderr,
            "match round %s: %u queries (%u with matches, %u cut by the "
            "limit), %zu matches (%u exact ties in id order) and %u explain "
            "maps compared, %u mismatches\n",
            round, n + 32, n_nonempty, n_truncated, n_compared, n_ties,
            n_explained, n_failures - before);
    cr_assert_gt(n_nonempty, (n + 32) / 2, "most queries should find matches");
    cr_assert_gt(n_truncated, 0, "some queries should reach their limit");
    cr_assert_gt(n_explained, 0, "some explain maps should be checked");
}

/* One round of changes, applied to the daemon and the oracle alike. */
static void
mutate(jm_client_t *c, jo_store_t *s, unsigned nv, unsigned nw)
{
    /* Inserts and replacements go through put_many. Replacements take a
     * fresh random record under the old id: region, skills, status and
     * everything else change. */
    size_t kv = nv / 10 + 1, kw = nw / 10 + 1;
    jo_vacancy_t *nvs = calloc(2 * kv, sizeof *nvs);
    jo_worker_t *nws = calloc(2 * kw, sizeof *nws);
    const jo_vacancy_t **vp = calloc(2 * kv, sizeof *vp);
    const jo_worker_t **wp = calloc(2 * kw, sizeof *wp);
    cr_assert(nvs && nws && vp && wp);
    for (size_t i = 0; i < 2 * kv; i++) {
        char id[JO_ID_SIZE];
        if (i < kv)
            jt_new_vacancy_id(id, sizeof id);
        else
            JT_SET(id, s->vacancies[jt_rn((unsigned)s->n_vacancies)].id);
        jt_random_vacancy(&nvs[i], id);
        vp[i] = &nvs[i];
    }
    for (size_t i = 0; i < 2 * kw; i++) {
        char id[JO_ID_SIZE];
        if (i < kw)
            jt_new_worker_id(id, sizeof id);
        else
            JT_SET(id, s->workers[jt_rn((unsigned)s->n_workers)].id);
        jt_random_worker(&nws[i], id);
        wp[i] = &nws[i];
    }
    jt_put_vacancies(c, vp, 2 * kv);
    jt_put_workers(c, wp, 2 * kw);
    for (size_t i = 0; i < 2 * kv; i++)
        cr_assert_eq(jo_put_vacancy(s, &nvs[i]), 0);
    for (size_t i = 0; i < 2 * kw; i++)
        cr_assert_eq(jo_put_worker(s, &nws[i]), 0);
    free(nvs);
    free(nws);
    free(vp);
    free(wp);

    /* A few replacements through the single-record puts as well, in case
     * they keep the index some other way. */
    for (unsigned i = 0; i < 10; i++) {
        jo_vacancy_t v;
        jt_random_vacancy(&v, s->vacancies[jt_rn((unsigned)s->n_vacancies)].id);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        jt_pack_str(&pk, "vacancy");
        jt_pack_jo_vacancy(&pk, &v);
        jt_call_ok(c, "vacancy.put", &sb);
        msgpack_sbuffer_destroy(&sb);
        cr_assert_eq(jo_put_vacancy(s, &v), 0);

        jo_worker_t w;
        jt_random_worker(&w, s->workers[jt_rn((unsigned)s->n_workers)].id);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        jt_pack_str(&pk, "worker");
        jt_pack_jo_worker(&pk, &w, false);
        jt_call_ok(c, "worker.put", &sb);
        msgpack_sbuffer_destroy(&sb);
        cr_assert_eq(jo_put_worker(s, &w), 0);
    }

    /* Deletes, and afterwards the deleted ids are not_found as subjects. */
    char gone_v[JO_ID_SIZE] = "", gone_w[JO_ID_SIZE] = "";
    for (unsigned i = 0; i < nv / 20 + 1; i++) {
        JT_SET(gone_v, s->vacancies[jt_rn((unsigned)s->n_vacancies)].id);
        jm_reply_t *r = jt_call_json(c, "vacancy.delete", "{\"id\": \"%s\"}", gone_v);
        jt_expect_ok(r, "vacancy.delete");
        jm_reply_free(r);
        cr_assert_eq(jo_delete_vacancy(s, gone_v), 0);
    }
    for (unsigned i = 0; i < nw / 20 + 1; i++) {
        JT_SET(gone_w, s->workers[jt_rn((unsigned)s->n_workers)].id);
        jm_reply_t *r = jt_call_json(c, "worker.delete", "{\"id\": \"%s\"}", gone_w);
        jt_expect_ok(r, "worker.delete");
        jm_reply_free(r);
        cr_assert_eq(jo_delete_worker(s, gone_w), 0);
    }
    jm_reply_t *r = jt_call_json(c, "match.workers",
                                 "{\"vacancy\": \"%s\", \"as_of\": 1767225600}", gone_v);
    if (r->ok || strcmp(r->error_code, "not_found") != 0)
        fail("match.workers {vacancy: %s} after its delete: %s, want not_found",
             gone_v, r->ok ? "success" : r->error_code);
    jm_reply_free(r);
    r = jt_call_json(c, "match.vacancies",
                     "{\"worker\": \"%s\", \"as_of\": 1767225600}", gone_w);
    if (r->ok || strcmp(r->error_code, "not_found") != 0)
        fail("match.vacancies {worker: %s} after its delete: %s, want not_found",
             gone_w, r->ok ? "success" : r->error_code);
    jm_reply_free(r);

    /* Closes. */
    for (unsigned i = 0; i < nv / 20 + 1; i++) {
        jo_vacancy_t *v = &s->vacancies[jt_rn((unsigned)s->n_vacancies)];
        r = jt_call_json(c, "vacancy.close", "{\"id\": \"%s\"}", v->id);
        jt_expect_ok(r, "vacancy.close");
        jm_reply_free(r);
        JT_SET(v->status, "closed");
    }
}

/* nv random vacancies and nw random workers, in the oracle's store s and
 * in the daemon through c. */
static void
random_store(jm_client_t *c, jo_store_t *s, unsigned nv, unsigned nw)
{
    memset(s, 0, sizeof *s);
    for (unsigned i = 0; i < nv; i++) {
        jo_vacancy_t v;
        char id[JO_ID_SIZE];
        jt_new_vacancy_id(id, sizeof id);
        jt_random_vacancy(&v, id);
        cr_assert_eq(jo_put_vacancy(s, &v), 0);
    }
    for (unsigned i = 0; i < nw; i++) {
        jo_worker_t w;
        char id[JO_ID_SIZE];
        jt_new_worker_id(id, sizeof id);
        jt_random_worker(&w, id);
        cr_assert_eq(jo_put_worker(s, &w), 0);
    }
    jt_put_store(c, s);
}

/* A random store of nv vacancies and nw workers (as the test has set
 * jt_random_* up) queried, then mutated and queried again `mutations`
 * times, and once more after a restart when asked, against the oracle. */
static void
store_against_oracle(unsigned nv, unsigned nw, unsigned per_round, const char *name,
                     unsigned mutations, bool restart)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jm_client_t *kiosk = jt_connect(d);
    jo_store_t s;
    random_store(c, &s, nv, nw);
    n_failures = 0;
    char round_name[96];
    run_round(c, kiosk, &s, per_round, name);
    for (unsigned round = 1; round <= mutations; round++) {
        mutate(c, &s, nv, nw);
        snprintf(round_name, sizeof round_name, "%s, after mutation %u", name, round);
        run_round(c, kiosk, &s, per_round, round_name);
    }
    if (restart) {
        /* Whatever the daemon keeps for ranking (counts, postings) must
         * come back the same from disk. Its exit status is checked at the
         * end. */
        jm_close(kiosk);
        jm_close(c);
        jt_daemon_restart(d);
        c = jt_connect_admin(d);
        kiosk = jt_connect(d);
        snprintf(round_name, sizeof round_name, "%s, after a restart", name);
        run_round(c, kiosk, &s, per_round / 2, round_name);
    }
    cr_assert_eq(n_failures, 0, "%u of %u queries disagree with the oracle "
                 "(details on stderr)", n_failures, n_queries);
    jo_store_free(&s);
    jm_close(kiosk);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}

Test(match, random_stores_against_oracle, .timeout = 600)
{
    unsigned nv = scaled(2000, 50), nw = nv, per_round = scaled(1500, 100);
    jt_rng_state = seed();
    fprintf(stderr, "match: seed %llu, %u vacancies, %u workers\n",
            (unsigned long long)seed(), nv, nw);
    store_against_oracle(nv, nw, per_round, "random", 4, true);
}

/* A dense store: two counties of one city and three common skills, so that
 * many candidates tie exactly and the limit often cuts through a tie. */
Test(match, dense_ties_against_oracle, .timeout = 300)
{
    unsigned n = scaled(600, 60), per_round = scaled(600, 100);
    jt_rng_state = seed() ^ UINT64_C(0xD15E);
    jt_n_regions_used = 2;
    jt_n_skills_used = 3;
    store_against_oracle(n, n, per_round, "dense", 1, false);
}

/* A store where most records hold a few of 8 common skills, so that
 * almost every query's bar soon leaves its common terms unread: their
 * candidates are then completed by look-ups or by reading a county's group
 * whole, and whole counties go unread. Rare skills (large idf) keep
 * strong candidates in far counties that the search must still find. */
Test(match, common_skills_against_oracle, .timeout = 300)
{
    unsigned n = scaled(1500, 100), per_round = scaled(800, 100);
    jt_rng_state = seed() ^ UINT64_C(0xC0FFEE);
    jt_n_skills_used = 8;
    store_against_oracle(n, n, per_round, "common skills", 1, false);
}

/* ---- roles and errors --------------------------------------------------- */

static const char roles_ini[] =
    "[keys]\n"
    "front-desk = counselor:counselor-secret-1\n"
    "peer-city = node:node-secret-2\n";

#define PROFILE "{\"birth_year\": 1990, \"region\": \"110101\", " \
                "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}"

static void
expect_code(jm_client_t *c, const char *role, const char *op, const char *json,
            const char *code, const char *msg_part)
{
    jm_reply_t *r = jt_call_json(c, op, "%s", json);
    if (!code) {
        cr_assert(r->ok, "%s %s %s: expected success, got %s: %s", role, op,
                  json, r->error_code, r->error_message);
    } else {
        cr_assert(!r->ok, "%s %s %s: expected %s, got success", role, op, json,
                  code);
        cr_assert_str_eq(r->error_code, code, "%s %s %s: expected %s, got %s: %s",
                         role, op, json, code, r->error_code, r->error_message);
        if (msg_part)
            cr_assert(strstr(r->error_message, msg_part),
                      "%s %s %s: message '%s' does not name '%s'", role, op,
                      json, r->error_message, msg_part);
    }
    jm_reply_free(r);
}

Test(match, roles, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(roles_ini, NULL);
    jm_client_t *admin = jt_connect_admin(d);
    jt_put_vacancy(admin, "v1", "110101", "6-05-02-03", "weld:2");
    jt_put_worker(admin, "w1", "110101", "6-05", "weld:3");

    jm_client_t *kiosk = jt_connect(d);
    jm_client_t *node = jt_connect_key(d, "node-secret-2", "node");
    jm_client_t *counselor = jt_connect_key(d, "counselor-secret-1", "counselor");
    struct {
        jm_client_t *c;
        const char *name;
        bool staff;
    } roles[] = {
        {kiosk, "kiosk", false},
        {node, "node", false},
        {counselor, "counselor", true},
        {admin, "admin", true},
    };
    for (size_t i = 0; i < 4; i++) {
        const char *forbidden = roles[i].staff ? NULL : "forbidden";
        expect_code(roles[i].c, roles[i].name, "match.vacancies",
                    "{\"profile\": " PROFILE "}", NULL, NULL);
        expect_code(roles[i].c, roles[i].name, "match.vacancies",
                    "{\"worker\": \"w1\"}", forbidden, NULL);
        /* The role comes before the arguments: with a profile as well, a
         * worker is the kiosk's forbidden, not a bad request. */
        expect_code(roles[i].c, roles[i].name, "match.vacancies",
                    "{\"worker\": \"w1\", \"profile\": " PROFILE "}",
                    roles[i].staff ? "bad_request" : "forbidden",
                    roles[i].staff ? "give one, not both" : "may match by profile only");
        expect_code(roles[i].c, roles[i].name, "match.workers",
                    "{\"vacancy\": \"v1\"}", forbidden, NULL);
    }
    /* match.explain has no scope network nor network_counts, whoever
     * asks: an argument error, not a role's. */
    expect_code(counselor, "counselor", "match.explain",
                "{\"worker\": \"w1\", \"vacancy\": \"v1\", "
                "\"network_counts\": {\"open\": 1, \"df\": {}}}",
                "bad_request", "network_counts: for match.vacancies only");
    expect_code(counselor, "counselor", "match.explain",
                "{\"worker\": \"w1\", \"vacancy\": \"v1\", \"scope\": \"network\"}",
                "bad_request", "scope");
    /* A list's options are unknown keys to match.explain: not examined. */
    expect_code(counselor, "counselor", "match.explain",
                "{\"worker\": \"w1\", \"vacancy\": \"v1\", \"limit\": \"junk\", "
                "\"explain\": 1, \"min_wage\": -1, \"occupation\": \"x\"}",
                NULL, NULL);
    /* A permitted query finds the one pair, whoever asks. */
    for (size_t i = 0; i < 4; i++) {
        jm_reply_t *r = jt_call_json(roles[i].c, "match.vacancies",
                                     "{\"profile\": " PROFILE "}");
        jt_expect_ok(r, roles[i].name);
        size_t n;
        got_t *g = read_matches(r, &n);
        cr_assert_eq(n, 1, "%s: %zu matches", roles[i].name, n);
        cr_assert_str_eq(g[0].id, "v1");
        free(g);
        jm_reply_free(r);
    }
    jm_close(kiosk);
    jm_close(node);
    jm_close(counselor);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}

Test(match, argument_errors, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "v1", "110101", "6-05-02-03", "weld:2");
    jt_put_worker(c, "w1", "110101", "6-05", "weld:3");
    const char *mv = "match.vacancies", *mw = "match.workers";

    expect_code(c, "admin", mv, "{}", "bad_request", NULL);
    expect_code(c, "admin", mv, "{\"scope\": \"all\"}", "bad_request", NULL);
    expect_code(c, "admin", mv, "{\"worker\": \"w1\", \"profile\": " PROFILE "}",
                "bad_request", NULL);
    expect_code(c, "admin", mv, "{\"worker\": \"nobody\"}", "not_found", NULL);
    expect_code(c, "admin", mw, "{\"vacancy\": \"nothing\"}", "not_found", NULL);
    expect_code(c, "admin", mw, "{}", "bad_request", "vacancy");

    static const char *const bad_scopes[] = {"\"planet\"", "\"\"", "\"City\"", "3"};
    static const char *const bad_limits[] = {"0", "201", "-1", "\"5\"", "1.5"};
    for (size_t i = 0; i < 4; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"worker\": \"w1\", \"scope\": %s}",
                 bad_scopes[i]);
        expect_code(c, "admin", mv, json, "bad_request", "scope");
        snprintf(json, sizeof json, "{\"vacancy\": \"v1\", \"scope\": %s}",
                 bad_scopes[i]);
        expect_code(c, "admin", mw, json, "bad_request", "scope");
    }
    for (size_t i = 0; i < 5; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"profile\": " PROFILE ", \"limit\": %s}",
                 bad_limits[i]);
        expect_code(c, "admin", mv, json, "bad_request", "limit");
        snprintf(json, sizeof json, "{\"vacancy\": \"v1\", \"limit\": %s}",
                 bad_limits[i]);
        expect_code(c, "admin", mw, json, "bad_request", "limit");
    }
    /* Scope network and network_counts belong to match.vacancies; a
     * match.explain judged as scope all instead would answer another
     * question than the one asked. */
    const char *mx = "match.explain";
    expect_code(c, "admin", mx, "{\"worker\": \"w1\", \"vacancy\": \"v1\", \"scope\": \"network\"}",
                "bad_request", "scope");
    expect_code(c, "admin", mx,
                "{\"worker\": \"w1\", \"vacancy\": \"v1\", "
                "\"network_counts\": {\"open\": 5, \"df\": {}}}",
                "bad_request", "network_counts");
    expect_code(c, "admin", mx, "{\"worker\": \"w1\", \"vacancy\": \"v1\", \"scope\": \"all\"}",
                NULL, NULL);
    /* The bounds themselves are fine, and every scope name is accepted. */
    expect_code(c, "admin", mv, "{\"worker\": \"w1\", \"limit\": 1}", NULL, NULL);
    expect_code(c, "admin", mv, "{\"worker\": \"w1\", \"limit\": 200}", NULL, NULL);
    static const char *const scopes[] = {"county", "city", "province", "all"};
    for (size_t i = 0; i < 4; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"vacancy\": \"v1\", \"scope\": \"%s\"}",
                 scopes[i]);
        expect_code(c, "admin", mw, json, NULL, NULL);
    }
    /* Mistyped options and out-of-range filters name their field. */
    expect_code(c, "admin", mv, "{\"worker\": \"w1\", \"as_of\": \"today\"}",
                "bad_request", "as_of");
    expect_code(c, "admin", mw, "{\"vacancy\": \"v1\", \"explain\": \"yes\"}",
                "bad_request", "explain");
    expect_code(c, "admin", mv, "{\"worker\": \"w1\", \"min_wage\": -1}",
                "bad_request", "min_wage");
    expect_code(c, "admin", mv, "{\"worker\": \"w1\", \"occupation\": \"6-0\"}",
                "bad_request", "occupation");
    expect_code(c, "admin", mw, "{\"vacancy\": \"v1\", \"category\": \"wizard\"}",
                "bad_request", "category");
    expect_code(c, "admin", mv, "{\"worker\": 7}", "bad_request", "worker");
    expect_code(c, "admin", mv, "{\"profile\": \"me\"}", "bad_request", "profile");
    /* A profile is checked like a worker record. */
    expect_code(c, "admin", mv, "{\"profile\": {\"region\": \"110101\"}}",
                "bad_request", "birth_year");
    expect_code(c, "admin", mv,
                "{\"profile\": {\"birth_year\": 1990, \"region\": \"11010\"}}",
                "bad_request", "region");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}

/* A closed or expired vacancy matches nobody; an employed worker is no
 * candidate for match.workers but still gets vacancies (rule 1 asks the
 * worker's status of match.workers only). */
Test(match, status_rules, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r;
    r = jt_call_json(c, "vacancy.put",
                     "{\"vacancy\": {\"id\": \"v1\", \"employer\": \"E\", "
                     "\"title\": \"T\", \"occupation\": \"6-05-02-03\", "
                     "\"region\": \"110101\", \"expires\": 1767225600, "
                     "\"skills\": [{\"id\": \"weld\", \"level\": 2}]}}");
    jt_expect_ok(r, "vacancy.put");
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put",
                     "{\"worker\": {\"id\": \"w1\", \"birth_year\": 1990, "
                     "\"region\": \"110101\", \"status\": \"employed\", "
                     "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}}");
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
    jt_put_worker(c, "w2", "110101", NULL, "weld:1");

    /* expires = 1767225600: open one second before, expired at it. */
    static const expect_t w1_before[] = {{"v1", 1.0 * log(2.0) + 0.5}};
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w1\", \"as_of\": 1767225599}", w1_before, 1);
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w1\", \"as_of\": 1767225600}", w1_before, 0);
    /* One available worker of two: idf(weld) = ln(1 + 1/1) = ln 2; w2 holds
     * level 1 of 2: ln 2 / 2, plus the county bonus 0.5. */
    static const expect_t v1_workers[] = {{"w2", log(2.0) / 2 + 0.5}};
    expect_daemon(c, "match.workers", "{\"vacancy\": \"v1\", \"as_of\": 1767225599}",
                  v1_workers, 1);
    expect_daemon(c, "match.workers", "{\"vacancy\": \"v1\", \"as_of\": 1767225600}",
                  v1_workers, 0);
    r = jt_call_json(c, "vacancy.close", "{\"id\": \"v1\"}");
    jt_expect_ok(r, "vacancy.close");
    jm_reply_free(r);
    expect_daemon(c, "match.workers", "{\"vacancy\": \"v1\", \"as_of\": 1767225599}",
                  v1_workers, 0);
    expect_daemon(c, "match.vacancies",
                  "{\"worker\": \"w1\", \"as_of\": 1767225599}", w1_before, 0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly (under ASan: a leak?)");
}
