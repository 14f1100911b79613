/* ops_match.c - match.vacancies, match.workers and match.explain. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "command.h"
#include "conn.h"
#include "federate.h"
#include "log.h"
#include "match.h"
#include "match_rules.h"
#include "node_counts.h"
#include "record.h"
#include "store.h"

#define DEFAULT_LIMIT 20

/* Options shared by the match operations. */
typedef struct match_opts {
    int scope;
    int64_t limit;
    bool explain;
    int64_t as_of;
    en_match_filters_t filters;
    bool network;                        /* scope "network" (match.vacancies) */
    const msgpack_object *network_counts; /* N and df given by the asking node */
} match_opts_t;

/* Which operation reads the options: scope network and network_counts
 * are match.vacancies's alone. */
enum match_op { MATCH_VACANCIES, MATCH_WORKERS, MATCH_EXPLAIN };

static int
read_opts(en_req_t *req, enum match_op op, match_opts_t *o)
{
    bool searching_vacancies = op != MATCH_WORKERS;
    const msgpack_object *args = req->rq->args;
    pr_error_t *err = &req->err;
    memset(o, 0, sizeof *o);
    o->scope = EN_SCOPE_CITY;
    o->limit = DEFAULT_LIMIT;
    o->as_of = req->now;
    pr_str_t scope;
    if (op == MATCH_VACANCIES &&
        pr_get_str(args, "scope", "scope", 0, 1, 16, &scope, err) == 0 &&
        pr_str_eq(scope, "network")) {
        o->network = true;
        o->scope = EN_SCOPE_ALL;
    } else if (en_match_read_scope(req, &o->scope) != 0) {
        return -1;
    }
    /* Years 1 to 9999: the age rule needs the calendar year of as_of. */
    if (pr_get_int(args, "as_of", "as_of", 0, -62135596800LL, 253402300799LL, &o->as_of,
                   err) < 0)
        return -1;
    const msgpack_object *nc = searching_vacancies ? pr_map_value(args, "network_counts") : NULL;
    if (op == MATCH_EXPLAIN) {
        /* Explained with another store's idf, the answer would be to
         * another question. A list's options are unknown keys here. */
        if (nc)
            return pr_fail(err, PR_BAD_REQUEST, "network_counts: for match.vacancies only");
        return 0;
    }
    /* Deeper than a client's limit only with network_counts (below). */
    if (pr_get_int(args, "limit", "limit", 0, 1, EN_MATCH_DEPTH_MAX, &o->limit, err) < 0)
        return -1;
    if (pr_get_bool(args, "explain", "explain", 0, &o->explain, err) < 0)
        return -1;
    if (nc) {
        if (!(req->conn->role & (EN_ROLE_NODE | EN_ROLE_ADMIN)))
            return pr_fail(err, PR_FORBIDDEN, "network_counts: for the nodes of the network only");
        o->network_counts = nc;
    } else if (o->limit > EN_MATCH_LIMIT_MAX) {
        /* The same message as any limit out of range. */
        pr_get_int(args, "limit", "limit", 0, 1, EN_MATCH_LIMIT_MAX, &o->limit, err);
        return -1;
    }
    if ((o->network || o->network_counts) && o->explain)
        return pr_fail(err, PR_BAD_REQUEST,
                       "explain: not available with scope network or network_counts");
    if (o->network && o->network_counts)
        return pr_fail(err, PR_BAD_REQUEST, "network_counts: not with scope network");
    if (o->network && (req->conn->role & EN_ROLE_NODE))
        return pr_fail(err, PR_FORBIDDEN,
                       "scope: network is not asked of a node by a node (it answers from its own store)");
    return en_match_read_filters(req, searching_vacancies, &o->filters);
}

int
en_match_read_scope(en_req_t *req, int *scope)
{
    pr_str_t s;
    int rc = pr_get_str(req->rq->args, "scope", "scope", 0, 1, 16, &s, &req->err);
    if (rc < 0)
        return -1;
    if (rc == 0 && (*scope = en_scope_parse(s)) < 0)
        return pr_fail(&req->err, PR_BAD_REQUEST, "scope: must be county, city, province or all");
    return 0;
}

int
en_match_read_filters(en_req_t *req, bool searching_vacancies, en_match_filters_t *f)
{
    const msgpack_object *args = req->rq->args;
    pr_error_t *err = &req->err;
    pr_str_t s;
    int rc;
    f->category = -1;
    if (searching_vacancies) {
        if ((rc = pr_get_str(args, "occupation", "occupation", 0, 1, PR_OCCUPATION_LEN,
                             &f->occupation, err)) < 0)
            return -1;
        if (rc == 0 && !pr_occupation_prefix_valid(f->occupation.ptr, f->occupation.len))
            return pr_fail(err, PR_BAD_REQUEST,
                           "occupation: must be a code or level prefix such as 6, 6-05, 6-05-02 or 6-05-02-03");
        if (pr_get_str(args, "employer", "employer", 0, 1, PR_EMPLOYER_MAX, &f->employer, err) < 0)
            return -1;
        if (pr_get_int(args, "min_wage", "min_wage", 0, 0, 100000000, &f->min_wage, err) < 0)
            return -1;
    } else {
        if ((rc = pr_get_str(args, "category", "category", 0, 1, 16, &s, err)) < 0)
            return -1;
        if (rc == 0 && (f->category = pr_category_parse(s)) < 0)
            return pr_fail(err, PR_BAD_REQUEST,
                           "category: must be laid_off, unemployed, graduate, migrant or other");
    }
    return 0;
}

/* Reads a stored record by args[key] into *rec and *party. */
static int
load_party(en_req_t *req, ix_txn_t *txn, const char *key, uint8_t kind,
           ix_record_t *rec, en_party_t *party)
{
    pr_str_t id;
    if (pr_get_id(req->rq->args, key, PR_REQUIRED, &id, &req->err) < 0)
        return -1;
    int rc = ix_get(txn, kind, id.ptr, id.len, rec);
    if (rc == -ENOENT)
        return pr_fail(&req->err, PR_NOT_FOUND, "%s %.*s not found", key, (int)id.len, id.ptr);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    en_party_from_record(party, rec);
    return 0;
}

/* The worker side of match.vacancies and match.explain: a stored worker
 * (counselors and admins) or an ad-hoc profile (anyone allowed the op). */
static int
load_worker_side(en_req_t *req, ix_txn_t *txn, ix_record_t *rec,
                 pr_worker_t *profile, en_party_t *party)
{
    const msgpack_object *w = pr_map_value(req->rq->args, "worker");
    const msgpack_object *p = pr_map_value(req->rq->args, "profile");
    /* The role first (docs/protocol.md 3.2), whatever else is sent. */
    if (w && !(req->conn->role & (EN_ROLE_COUNSELOR | EN_ROLE_ADMIN)))
        return pr_fail(&req->err, PR_FORBIDDEN,
                       "role %s may match by profile only", en_role_name(req->conn->role));
    if (w && p)
        return pr_fail(&req->err, PR_BAD_REQUEST, "worker, profile: give one, not both");
    if (!w && !p)
        return pr_fail(&req->err, PR_BAD_REQUEST, "worker or profile: required");
    if (w)
        return load_party(req, txn, "worker", IX_WORKER, rec, party);
    if (pr_worker_decode(p, "profile", PR_REC_PROFILE, req->now, profile, &req->err) != 0)
        return -1;
    en_party_from_worker(party, profile);
    return 0;
}

/* Returns 0, or a negative errno from the index (the reply is then
 * dropped for an error). */
static int
pack_matches(en_req_t *req, ix_txn_t *txn, const en_party_t *probe,
             const match_opts_t *o, const en_match_result_t *res)
{
    msgpack_packer *pk = req->pk;
    uint8_t searched = probe->kind == IX_WORKER ? IX_VACANCY : IX_WORKER;
    en_reply_ok(req);
    msgpack_pack_map(pk, 1);
    pr_pack_cstr(pk, "matches");
    msgpack_pack_array(pk, res->n);
    for (uint32_t i = 0; i < res->n; i++) {
        const en_match_hit_t *h = &res->hits[i];
        msgpack_pack_map(pk, o->explain || o->network_counts ? 3 : 2);
        pr_pack_cstr(pk, "id");
        msgpack_pack_str_with_body(pk, h->id, h->id_len);
        pr_pack_cstr(pk, "score");
        msgpack_pack_double(pk, h->score);
        if (o->network_counts) {
            /* For the asking node's merge: the node that owns the match. */
            ix_record_t rec;
            int rc = ix_get_docno(txn, searched, h->docno, &rec);
            if (rc != 0)
                return rc;  /* a guessed origin would credit the wrong node */
            pr_pack_cstr(pk, "origin");
            if (rec.origin_len)
                msgpack_pack_str_with_body(pk, rec.origin, rec.origin_len);
            else
                pr_pack_cstr(pk, req->srv->cfg->node);
            continue;
        }
        if (!o->explain)
            continue;
        pr_pack_cstr(pk, "explain");
        ix_record_t rec;
        en_party_t cand;
        en_breakdown_t b;
        if (ix_get_docno(txn, searched, h->docno, &rec) != 0) {
            msgpack_pack_nil(pk);
            continue;
        }
        en_party_from_record(&cand, &rec);
        if (searched == IX_VACANCY)
            en_match_pair(txn, probe, &cand, searched, o->scope, o->as_of, &b);
        else
            en_match_pair(txn, &cand, probe, searched, o->scope, o->as_of, &b);
        en_pack_breakdown(pk, &b);
    }
    return 0;
}

static int
run_match(en_req_t *req, ix_txn_t *txn, const en_party_t *probe,
          const match_opts_t *o)
{
    double idf[IX_SKILLS_MAX];
    if (o->network_counts && en_network_counts_read(o->network_counts, probe, idf, &req->err))
        return -1;
    en_match_result_t *res = malloc(sizeof *res);
    if (!res)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    en_match_query_t q = {
        .probe = probe,
        .scope = o->scope,
        .limit = (uint32_t)o->limit,
        .as_of = o->as_of,
        .filters = o->filters,
        .scratch = req->worker->match_scratch,
        .idf = o->network_counts ? idf : NULL,
    };
    int rc = en_match_run(txn, &q, res);
    en_debug("%s scope %s: %u terms, %llu postings, %llu candidates read, %u matches",
             probe->kind == IX_WORKER ? "match.vacancies" : "match.workers",
             en_scope_name(o->scope), res->terms,
             (unsigned long long)res->postings_seen,
             (unsigned long long)res->candidates_scored, res->n);
    if (rc == 0)
        rc = pack_matches(req, txn, probe, o, res);
    if (rc == 0) {
        if (probe->kind == IX_VACANCY) {
            en_audit_reads_t *a = en_audit_reads_new(req, res->n);
            for (uint32_t i = 0; i < res->n; i++)
                en_audit_reads_add(a, res->hits[i].id, res->hits[i].id_len);
            en_audit_reads_done(req, a);
        }
    }
    free(res);
    return rc ? en_storage_error(&req->err, rc) : 0;
}

/* scope "network": the worker side goes out as a profile (a stored
 * worker without its id and personal fields) and the federated search
 * runs on a thread of its own (federate.h). */
static int
start_network(en_req_t *req, const ix_record_t *rec, pr_worker_t *profile,
              const match_opts_t *o)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    int rc = 0;
    if (rec->id) {
        rc = en_store_decode_worker(req->srv->sealer, rec, false, &zone, profile);
        if (rc != 0)
            rc = en_storage_error(&req->err, rc);
    }
    if (rc == 0) {
        en_fed_match_t m = {
            .profile = profile,
            .limit = (uint32_t)o->limit,
            .as_of = o->as_of,
            .filters = o->filters,
        };
        rc = en_federate_match(req, &m);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

/* The vacancy side of match.workers: a stored vacancy. */
static int
load_vacancy_side(en_req_t *req, ix_txn_t *txn, ix_record_t *rec,
                  pr_worker_t *profile, en_party_t *party)
{
    (void)profile;
    return load_party(req, txn, "vacancy", IX_VACANCY, rec, party);
}

/* match.vacancies and match.workers: options, the probe, the search, in
 * one read transaction. */
static int
match_op(en_req_t *req, bool searching_vacancies,
         int (*load)(en_req_t *, ix_txn_t *, ix_record_t *, pr_worker_t *, en_party_t *))
{
    match_opts_t o;
    if (read_opts(req, searching_vacancies ? MATCH_VACANCIES : MATCH_WORKERS, &o) != 0)
        return -1;
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    ix_record_t *rec = malloc(sizeof *rec);
    pr_worker_t *profile = malloc(sizeof *profile);
    en_party_t *probe = malloc(sizeof *probe);
    if (!rec || !profile || !probe) {
        rc = pr_fail(&req->err, PR_INTERNAL, "out of memory");
    } else {
        rec->id = NULL;
        if ((rc = load(req, txn, rec, profile, probe)) == 0)
            rc = o.network ? start_network(req, rec, profile, &o) : run_match(req, txn, probe, &o);
        /* A stored worker was read to match for (not a profile). */
        if (rc == 0 && rec->id && probe->kind == IX_WORKER)
            en_audit_read(req, rec->id, rec->id_len);
    }
    ix_read_end(txn);
    free(rec);
    free(profile);
    free(probe);
    return rc;
}

int
en_op_match_vacancies(en_req_t *req)
{
    return match_op(req, true, load_worker_side);
}

int
en_op_match_workers(en_req_t *req)
{
    return match_op(req, false, load_vacancy_side);
}

/* ---- match.counts ----------------------------------------------------- */

int
en_op_match_counts(en_req_t *req)
{
    const msgpack_object *arr = pr_map_get(req->rq->args, "skills");
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return pr_fail(&req->err, PR_BAD_REQUEST, "skills: required, an array of skill ids");
    if (arr->via.array.size > IX_SKILLS_MAX)
        return pr_fail(&req->err, PR_BAD_REQUEST, "skills: at most %d", IX_SKILLS_MAX);
    ix_skill_t skills[IX_SKILLS_MAX];
    uint32_t n = arr->via.array.size;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_STR ||
            !pr_skill_id_valid(o->via.str.ptr, o->via.str.size))
            return pr_fail(&req->err, PR_BAD_REQUEST,
                           "skills[%u]: " PR_SKILL_ID_RULE, i);
        skills[i] = (ix_skill_t){o->via.str.ptr, o->via.str.size, 1};
    }
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    en_node_counts_t c;
    rc = en_node_counts_read(txn, req->srv->cfg->node, skills, n, &c);
    ix_read_end(txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    en_reply_ok(req);
    en_node_counts_pack(req->pk, req->srv->cfg->node, &c, n);
    en_node_counts_free(&c);
    return 0;
}

/* ---- match.explain ---------------------------------------------------- */

static void
pack_rule(msgpack_packer *pk, const char *rule, bool met, const char *detail)
{
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "rule");
    pr_pack_cstr(pk, rule);
    pr_pack_cstr(pk, "met");
    if (met)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pr_pack_cstr(pk, "detail");
    pr_pack_cstr(pk, detail);
}

/* The narrowest scope at which two regions agree. */
static int
shared_scope(const char *a, const char *b)
{
    if (memcmp(a, b, 6) == 0)
        return EN_SCOPE_COUNTY;
    if (memcmp(a, b, 4) == 0)
        return EN_SCOPE_CITY;
    if (memcmp(a, b, 2) == 0)
        return EN_SCOPE_PROVINCE;
    return EN_SCOPE_ALL;
}

/* The level at which the worker holds a skill the vacancy asks for; 0
 * when it lacks it. */
static uint8_t
held_level(const en_party_t *w, const ix_skill_t *need)
{
    for (uint32_t j = 0; j < w->n_skills; j++)
        if (w->skills[j].id_len == need->id_len &&
            memcmp(w->skills[j].id, need->id, need->id_len) == 0)
            return w->skills[j].level;
    return 0;
}

/* Every rule of ranking version 1 for one pair, met or not, with the gap,
 * and each skill the vacancy asks for that the worker lacks or holds below
 * the level required. */
static void
pack_explanation(en_req_t *req, ix_txn_t *txn, const en_party_t *w,
                 const en_party_t *v, const match_opts_t *o)
{
    msgpack_packer *pk = req->pk;
    en_breakdown_t b;
    bool match = en_match_pair(txn, w, v, IX_VACANCY, o->scope, o->as_of, &b);
    char d[200];
    int age = en_utc_year(o->as_of) - (int)w->m.birth_year;
    int scope = shared_scope(w->region, v->region);
    uint32_t missing = 0;
    for (uint32_t i = 0; i < v->n_skills; i++)
        missing += held_level(w, &v->skills[i]) < v->skills[i].level;

    en_reply_ok(req);
    msgpack_pack_map(pk, 5);
    pr_pack_cstr(pk, "match");
    if (match)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pr_pack_cstr(pk, "score");
    msgpack_pack_double(pk, b.score);

    pr_pack_cstr(pk, "rules");
    msgpack_pack_array(pk, 9);
    pack_rule(pk, "open", v->status == PR_VACANCY_OPEN,
              v->status == PR_VACANCY_OPEN ? "the vacancy is open" : "the vacancy is closed");
    bool live = v->m.expires == 0 || v->m.expires > o->as_of;
    snprintf(d, sizeof d, v->m.expires == 0 ? "never expires" : "expires at %lld (as of %lld)",
             (long long)v->m.expires, (long long)o->as_of);
    pack_rule(pk, "not_expired", live, d);
    int64_t left = (int64_t)v->m.headcount - (int64_t)v->filled;
    snprintf(d, sizeof d, "%lld of %u places left", (long long)(left > 0 ? left : 0),
             v->m.headcount);
    pack_rule(pk, "places_left", left > 0, d);
    if (scope == EN_SCOPE_ALL)
        snprintf(d, sizeof d, "regions %.6s and %.6s are in different provinces; asked: %s",
                 w->region, v->region, en_scope_name(o->scope));
    else
        snprintf(d, sizeof d, "regions %.6s and %.6s agree at %s level; asked: %s", w->region,
                 v->region, en_scope_name(scope), en_scope_name(o->scope));
    pack_rule(pk, "scope", scope >= o->scope, d);
    bool wage = v->m.wage_max == 0 || w->m.wage_min <= v->m.wage_max;
    if (v->m.wage_max == 0)
        snprintf(d, sizeof d, "the wage is negotiable");
    else if (wage)
        snprintf(d, sizeof d, "wishes at least %u, offered up to %u", w->m.wage_min,
                 v->m.wage_max);
    else
        snprintf(d, sizeof d, "wishes at least %u, offered up to %u: %u short",
                 w->m.wage_min, v->m.wage_max, w->m.wage_min - v->m.wage_max);
    pack_rule(pk, "wage", wage, d);
    snprintf(d, sizeof d, "requires education %u, has %u", v->m.education, w->m.education);
    pack_rule(pk, "education", v->m.education <= w->m.education, d);
    bool age_ok = (v->m.age_min == 0 || age >= v->m.age_min) &&
                  (v->m.age_max == 0 || age <= v->m.age_max);
    snprintf(d, sizeof d, "age %d; accepted %u..%s", age, v->m.age_min,
             v->m.age_max ? "" : "any");
    if (v->m.age_max)
        snprintf(d + strlen(d), sizeof d - strlen(d), "%u", v->m.age_max);
    pack_rule(pk, "age", age_ok, d);
    snprintf(d, sizeof d, "%u shared skills; occupation bonus %.1f (%s)", b.n_shared,
             b.occupation_bonus, b.occupation_level);
    pack_rule(pk, "skill_or_occupation", b.n_shared > 0 || b.occupation_bonus >= 1.2, d);
    pack_rule(pk, "worker_available", w->status == PR_WORKER_AVAILABLE,
              w->status == PR_WORKER_AVAILABLE
                  ? "the worker is available (needed by match.workers only)"
                  : "the worker is not available (needed by match.workers only)");

    pr_pack_cstr(pk, "explain");
    en_pack_breakdown(pk, &b);

    pr_pack_cstr(pk, "missing_skills");
    msgpack_pack_array(pk, missing);
    for (uint32_t i = 0; i < v->n_skills; i++) {
        uint8_t held = held_level(w, &v->skills[i]);
        if (held >= v->skills[i].level)
            continue;
        msgpack_pack_map(pk, 3);
        pr_pack_cstr(pk, "id");
        msgpack_pack_str_with_body(pk, v->skills[i].id, v->skills[i].id_len);
        pr_pack_cstr(pk, "required_level");
        msgpack_pack_uint8(pk, v->skills[i].level);
        pr_pack_cstr(pk, "worker_level");
        msgpack_pack_uint8(pk, held);
    }
}

int
en_op_match_explain(en_req_t *req)
{
    match_opts_t o;
    if (read_opts(req, MATCH_EXPLAIN, &o) != 0)
        return -1;
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0)
        return en_storage_error(&req->err, rc);
    ix_record_t *wrec = malloc(sizeof *wrec), *vrec = malloc(sizeof *vrec);
    pr_worker_t *profile = malloc(sizeof *profile);
    en_party_t *w = malloc(sizeof *w), *v = malloc(sizeof *v);
    if (!wrec || !vrec || !profile || !w || !v) {
        rc = pr_fail(&req->err, PR_INTERNAL, "out of memory");
    } else {
        wrec->id = NULL;
        if ((rc = load_worker_side(req, txn, wrec, profile, w)) == 0 &&
            (rc = load_party(req, txn, "vacancy", IX_VACANCY, vrec, v)) == 0) {
            pack_explanation(req, txn, w, v, &o);
            if (wrec->id)
                en_audit_read(req, wrec->id, wrec->id_len);
        }
    }
    ix_read_end(txn);
    free(wrec);
    free(vrec);
    free(profile);
    free(w);
    free(v);
    return rc;
}
