/* alerts.c - match-alert subscriptions, checked in the writing transaction
 * and pushed on commit (alerts.h). */
#include "alerts.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "match_rules.h"
#include "record.h"
#include "terms.h"

/* One subscription as the writer keeps it: the spec (strings owned) and
 * the subject's record as a party (strings owned too, so it outlives the
 * transaction it was read in). */
typedef struct sub {
    uint64_t id;
    uint8_t kind;                       /* the subject's */
    char subject[IX_ID_MAX];
    uint32_t subject_len;
    double min_score;
    int scope;
    char occupation[PR_OCCUPATION_LEN];
    uint32_t occupation_len;            /* 0 = no filter */
    char employer[PR_EMPLOYER_MAX];
    uint32_t employer_len;              /* 0 = no filter */
    int64_t min_wage;                   /* 0 = no filter */
    int category;                       /* -1 = no filter */
    bool present;                       /* the subject is stored */
    bool loose;                         /* not (rightly) in the indexes */
    en_party_t party;
    char *strings;
    char *indexed;                      /* strings the indexes still point to */
} sub_t;

typedef struct listener {
    uint64_t sub;
    en_worker_t *worker;
    uint64_t serial;
} listener_t;

typedef struct pending_push {
    uint64_t sub;
    size_t len;
    char *body;                         /* the push frame's body */
} pending_push_t;

/* A record put by the write under way, checked once that write is whole
 * (on_settle): with the counts a match request sees once it is answered. */
typedef struct put_seen {
    uint8_t kind;
    bool created;                       /* new before this write */
    bool again;                         /* put earlier in the same write */
    uint32_t id_len;
    int64_t now;
    char id[IX_ID_MAX];
} put_seen_t;

/* A growable array of pointers or structs. */
#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec, x)                                                      \
    ((vec).n == (vec).cap                                                     \
         ? vec_grow((void **)&(vec).v, &(vec).cap, sizeof *(vec).v) == 0      \
               ? ((vec).v[(vec).n++] = (x), 0)                                \
               : -ENOMEM                                                      \
         : ((vec).v[(vec).n++] = (x), 0))

static int
vec_grow(void **v, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, n * size);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = n;
    return 0;
}

struct en_alerts {
    en_server_t *srv;
    VEC(sub_t *) subs;                  /* committed, in id order */
    /* Rebuilt when `dirty`: per subject kind (0 worker, 1 vacancy), the
     * terms of the present subjects, numbered by index into subs, and the
     * subs in subject order. A subscription added or a subject changed
     * since is `loose`: the indexes skip it and every write checks it
     * directly, until there are LOOSE_MAX of them and the indexes are
     * rebuilt (a rebuild costs about a sort of all the subjects' terms). */
    bool dirty;
    en_terms_t terms[2];
    sub_t **by_subject;                 /* the first subs.n - added_since */
    size_t added_since;                 /* subs appended since the rebuild */
    VEC(uint32_t) loose;
    uint32_t *mark, *cand, stamp;
    size_t mark_cap;
    /* The current write transaction's changes, applied when it commits. */
    VEC(sub_t *) added;
    VEC(uint64_t) removed;
    VEC(pending_push_t) pushes;
    VEC(put_seen_t) seen;               /* the current write's puts */
    bool parties_changed;               /* subjects refreshed in this txn */
    bool reload;                        /* an aborted txn refreshed subjects */
    msgpack_sbuffer sb;
    pthread_mutex_t lock;               /* guards listeners */
    VEC(listener_t) listeners;
};

/* ---- subjects ------------------------------------------------------------- */

static void
sub_free(sub_t *s)
{
    if (s) {
        free(s->strings);
        free(s->indexed);
        free(s);
    }
}

/* Copies rec into s->party with strings of its own. */
static int
set_party(sub_t *s, const ix_record_t *rec)
{
    size_t n = rec->id_len;
    for (uint32_t i = 0; i < rec->n_occupations; i++)
        n += rec->occupation_lens[i];
    for (uint32_t i = 0; i < rec->n_skills; i++)
        n += rec->skills[i].id_len;
    char *buf = malloc(n + 1);
    if (!buf)
        return -ENOMEM;
    en_party_t *p = &s->party;
    en_party_from_record(p, rec);
    char *at = buf;
#define OWN(ptr, len) (memcpy(at, (ptr), (len)), (ptr) = at, at += (len))
    OWN(p->id, p->id_len);
    for (uint32_t i = 0; i < p->n_occ; i++)
        OWN(p->occ[i], p->occ_len[i]);
    for (uint32_t i = 0; i < p->n_skills; i++)
        OWN(p->skills[i].id, p->skills[i].id_len);
#undef OWN
    /* The indexes may point into the strings they were built from. */
    if (s->indexed)
        free(s->strings);
    else
        s->indexed = s->strings;
    s->strings = buf;
    s->present = true;
    return 0;
}

static int
load_party(sub_t *s, ix_txn_t *txn)
{
    ix_record_t rec;
    int rc = ix_get(txn, s->kind, s->subject, s->subject_len, &rec);
    if (rc == -ENOENT) {
        s->present = false;
        return 0;
    }
    return rc != 0 ? rc : set_party(s, &rec);
}

static bool
is_subject(const sub_t *s, uint8_t kind, const char *id, uint32_t id_len)
{
    return s->kind == kind && s->subject_len == id_len && memcmp(s->subject, id, id_len) == 0;
}

/* ---- the stored form ---------------------------------------------------------- */

static void
pack_kv_str(msgpack_packer *pk, const char *k, const char *v, uint32_t len)
{
    pr_pack_cstr(pk, k);
    msgpack_pack_str_with_body(pk, v, len);
}

static void
pack_sub(msgpack_packer *pk, const sub_t *s, int64_t now, const char *by)
{
    bool worker = s->kind == IX_WORKER;
    uint32_t n = 7 + (s->occupation_len > 0) + (s->employer_len > 0) + (s->min_wage > 0) +
                 (s->category >= 0);
    msgpack_pack_map(pk, n);
    pr_pack_cstr(pk, "subscription");
    msgpack_pack_uint64(pk, s->id);
    pack_kv_str(pk, worker ? "worker" : "vacancy", s->subject, s->subject_len);
    pr_pack_cstr(pk, "min_score");
    msgpack_pack_double(pk, s->min_score);
    pr_pack_cstr(pk, "scope");
    pr_pack_cstr(pk, en_scope_name(s->scope));
    if (s->occupation_len)
        pack_kv_str(pk, "occupation", s->occupation, s->occupation_len);
    if (s->employer_len)
        pack_kv_str(pk, "employer", s->employer, s->employer_len);
    if (s->min_wage > 0) {
        pr_pack_cstr(pk, "min_wage");
        msgpack_pack_int64(pk, s->min_wage);
    }
    if (s->category >= 0) {
        pr_pack_cstr(pk, "category");
        pr_pack_cstr(pk, pr_category_name(s->category));
    }
    pr_pack_cstr(pk, "created");
    msgpack_pack_int64(pk, now);
    pack_kv_str(pk, "by", by, (uint32_t)strlen(by));
    pr_pack_cstr(pk, "alerts_about");
    pr_pack_cstr(pk, worker ? "vacancies" : "workers");
}

static void
copy_str(char *dst, uint32_t *dst_len, size_t cap, pr_str_t s)
{
    *dst_len = s.len <= cap ? s.len : (uint32_t)cap;
    if (*dst_len)
        memcpy(dst, s.ptr, *dst_len);
}

static sub_t *
sub_from_spec(const en_sub_spec_t *spec, uint64_t id)
{
    sub_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = id;
    s->kind = spec->kind;
    copy_str(s->subject, &s->subject_len, sizeof s->subject, spec->subject);
    s->min_score = spec->min_score;
    s->scope = spec->scope;
    copy_str(s->occupation, &s->occupation_len, sizeof s->occupation, spec->filters.occupation);
    copy_str(s->employer, &s->employer_len, sizeof s->employer, spec->filters.employer);
    s->min_wage = spec->filters.min_wage;
    s->category = spec->filters.category;
    return s;
}

int
en_sub_decode(const void *value, size_t len, msgpack_zone *zone, en_sub_spec_t *spec)
{
    msgpack_object *obj = msgpack_zone_malloc(zone, sizeof *obj);
    size_t off = 0;
    if (!obj || msgpack_unpack(value, len, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS ||
        obj->type != MSGPACK_OBJECT_MAP)
        return -EIO;
    memset(spec, 0, sizeof *spec);
    spec->filters.category = -1;
    pr_error_t err;
    pr_str_t s;
    int rc = pr_get_str(obj, "worker", "worker", 0, 1, IX_ID_MAX, &spec->subject, &err);
    spec->kind = IX_WORKER;
    if (rc == 1 || rc < 0) {
        if (pr_get_str(obj, "vacancy", "vacancy", PR_REQUIRED, 1, IX_ID_MAX, &spec->subject, &err) < 0)
            return -EIO;
        spec->kind = IX_VACANCY;
    }
    const msgpack_object *ms = pr_map_get(obj, "min_score");
    if (!ms || ms->type != MSGPACK_OBJECT_FLOAT64)
        return -EIO;
    spec->min_score = ms->via.f64;
    if (pr_get_str(obj, "scope", "scope", PR_REQUIRED, 1, 16, &s, &err) < 0 ||
        (spec->scope = en_scope_parse(s)) < 0)
        return -EIO;
    if (pr_get_str(obj, "occupation", "occupation", 0, 1, PR_OCCUPATION_LEN,
                   &spec->filters.occupation, &err) < 0 ||
        pr_get_str(obj, "employer", "employer", 0, 1, PR_EMPLOYER_MAX,
                   &spec->filters.employer, &err) < 0 ||
        pr_get_int(obj, "min_wage", "min_wage", 0, 0, INT64_MAX, &spec->filters.min_wage, &err) < 0)
        return -EIO;
    if ((rc = pr_get_str(obj, "category", "category", 0, 1, 16, &s, &err)) < 0)
        return -EIO;
    if (rc == 0 && (spec->filters.category = pr_category_parse(s)) < 0)
        return -EIO;
    return 0;
}

/* ---- indexes ------------------------------------------------------------------ */

#define LOOSE_MAX 256

static int
subject_cmp(uint8_t kind, const char *id, uint32_t len, const sub_t *s)
{
    if (kind != s->kind)
        return kind < s->kind ? -1 : 1;
    uint32_t n = len < s->subject_len ? len : s->subject_len;
    int c = memcmp(id, s->subject, n);
    return c != 0 ? c : len < s->subject_len ? -1 : len > s->subject_len;
}

static int
subject_order(const void *x, const void *y)
{
    const sub_t *a = *(sub_t *const *)x, *b = *(sub_t *const *)y;
    return subject_cmp(a->kind, a->subject, a->subject_len, b);
}

static int
rebuild(en_alerts_t *a)
{
    for (int k = 0; k < 2; k++) {
        en_terms_free(&a->terms[k]);
        for (size_t i = 0; i < a->subs.n; i++) {
            const sub_t *s = a->subs.v[i];
            if (s->present && (s->kind == IX_WORKER) == (k == 0) &&
                en_terms_add(&a->terms[k], &s->party, (uint32_t)i) != 0)
                return -ENOMEM;
        }
        en_terms_sort(&a->terms[k]);
    }
    for (size_t i = 0; i < a->subs.n; i++) {
        sub_t *s = a->subs.v[i];
        free(s->indexed);
        s->indexed = NULL;
        s->loose = false;
    }
    a->loose.n = 0;
    a->added_since = 0;
    free(a->by_subject);
    a->by_subject = malloc((a->subs.n + 1) * sizeof *a->by_subject);
    if (a->mark_cap < a->subs.n + 1) {
        free(a->mark);
        free(a->cand);
        a->mark_cap = a->subs.n + 1;
        a->mark = calloc(a->mark_cap, sizeof *a->mark);
        a->cand = malloc(a->mark_cap * sizeof *a->cand);
        a->stamp = 0;
    }
    if (!a->by_subject || !a->mark || !a->cand) {
        a->mark_cap = 0;
        return -ENOMEM;
    }
    if (a->subs.n > 0)
        memcpy(a->by_subject, a->subs.v, a->subs.n * sizeof *a->by_subject);
    if (a->subs.n > 1)
        qsort(a->by_subject, a->subs.n, sizeof *a->by_subject, subject_order);
    a->dirty = false;
    en_debug("alerts: indexes rebuilt for %zu subscriptions", a->subs.n);
    return 0;
}

/* Calls fn for every subscription whose subject is (kind, id): those in
 * the indexes by binary search, the ones added since by a look at each. */
static int
each_subject(en_alerts_t *a, uint8_t kind, const char *id, uint32_t len,
             int (*fn)(en_alerts_t *, sub_t *, const void *), const void *arg)
{
    size_t lo = 0, hi = a->subs.n - a->added_since;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (subject_cmp(kind, id, len, a->by_subject[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int rc = 0;
    for (size_t i = lo; i < a->subs.n - a->added_since && rc == 0 &&
                        subject_cmp(kind, id, len, a->by_subject[i]) == 0; i++)
        rc = fn(a, a->by_subject[i], arg);
    for (size_t i = a->subs.n - a->added_since; i < a->subs.n && rc == 0; i++)
        if (is_subject(a->subs.v[i], kind, id, len))
            rc = fn(a, a->subs.v[i], arg);
    return rc;
}

static int
make_loose(en_alerts_t *a, sub_t *s)
{
    a->parties_changed = true;
    if (s->loose)
        return 0;
    s->loose = true;
    for (size_t i = 0; i < a->subs.n; i++)
        if (a->subs.v[i] == s)
            return VEC_PUSH(a->loose, (uint32_t)i);
    return 0;
}

/* ---- raising alerts -------------------------------------------------------------- */

/* The employer of a stored vacancy, read from its canonical map. */
static pr_str_t
vacancy_employer(const ix_record_t *rec, msgpack_zone *zone)
{
    msgpack_object obj;
    size_t off = 0;
    pr_str_t e = {0};
    pr_error_t err;
    if (msgpack_unpack(rec->value, rec->value_len, &off, zone, &obj) == MSGPACK_UNPACK_SUCCESS)
        pr_get_str(&obj, "employer", "employer", 0, 1, PR_EMPLOYER_MAX, &e, &err);
    return e;
}

static int
raise_alert(en_alerts_t *a, ix_txn_t *txn, const sub_t *s, const ix_record_t *rec,
            bool created, double score, int64_t now)
{
    uint64_t seq;
    int rc = ix_alert_next(txn, &seq);
    if (rc != 0)
        return rc;
    /* The push frame's body: {"id": 0, "push": "alert", "data": alert},
     * where the alert map is also the stored value. */
    msgpack_sbuffer *sb = &a->sb;
    sb->size = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pr_pack_cstr(&pk, "id");
    msgpack_pack_uint8(&pk, 0);
    pr_pack_cstr(&pk, "push");
    pr_pack_cstr(&pk, "alert");
    pr_pack_cstr(&pk, "data");
    size_t data_at = sb->size;
    msgpack_pack_map(&pk, 6);
    pr_pack_cstr(&pk, "subscription");
    msgpack_pack_uint64(&pk, s->id);
    pr_pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, seq);
    pack_kv_str(&pk, rec->kind == IX_VACANCY ? "vacancy" : "worker", rec->id, rec->id_len);
    pr_pack_cstr(&pk, "score");
    msgpack_pack_double(&pk, score);
    pr_pack_cstr(&pk, "new");
    if (created)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    pr_pack_cstr(&pk, "time");
    msgpack_pack_int64(&pk, now);
    if (!sb->data)
        return -ENOMEM;
    if ((rc = ix_alert_put(txn, s->id, seq, sb->data + data_at, sb->size - data_at)) != 0)
        return rc;
    pending_push_t p = {.sub = s->id, .len = sb->size, .body = malloc(sb->size)};
    if (!p.body)
        return -ENOMEM;
    memcpy(p.body, sb->data, sb->size);
    if (VEC_PUSH(a->pushes, p) != 0) {
        free(p.body);
        return -ENOMEM;
    }
    return 0;
}

/* idf values of `to`'s skills taken from those of `from` (idf_from[j] is
 * from's skill j); a skill `from` lacks is not shared, so its 0 is never
 * used. */
static void
map_idf(const en_party_t *to, const en_party_t *from, const double *idf_from, double *idf_to)
{
    for (uint32_t i = 0; i < to->n_skills; i++) {
        idf_to[i] = 0;
        for (uint32_t j = 0; j < from->n_skills; j++)
            if (to->skills[i].id_len == from->skills[j].id_len &&
                memcmp(to->skills[i].id, from->skills[j].id, from->skills[j].id_len) == 0) {
                idf_to[i] = idf_from[j];
                break;
            }
    }
}

static bool
filters_pass(const sub_t *s, const en_party_t *v, const ix_record_t *rec,
             pr_str_t *employer, bool *employer_read, msgpack_zone *zone)
{
    if (s->occupation_len &&
        (v->n_occ == 0 || v->occ_len[0] < s->occupation_len ||
         memcmp(v->occ[0], s->occupation, s->occupation_len) != 0))
        return false;
    if (s->min_wage > 0 && v->m.wage_max != 0 && (int64_t)v->m.wage_max < s->min_wage)
        return false;
    if (s->employer_len) {
        if (!*employer_read) {
            *employer = vacancy_employer(rec, zone);
            *employer_read = true;
        }
        if (employer->len != s->employer_len ||
            memcmp(employer->ptr, s->employer, s->employer_len) != 0)
            return false;
    }
    return true;
}

/* A record was put: check the subscriptions of the other kind whose
 * subject shares a term with it. */
/* Checks record p (rec as stored) against subscription s; raises an
 * alert when it matches above the minimum score. */
typedef struct checking {
    ix_txn_t *txn;
    const ix_record_t *rec;
    const en_party_t *p;
    bool created;
    int64_t now;
    double idf[IX_SKILLS_MAX];
    bool have_idf, employer_read;
    pr_str_t employer;
    msgpack_zone zone;
} checking_t;

static int
check_one(en_alerts_t *a, const sub_t *s, checking_t *ck)
{
    bool vacancy = ck->rec->kind == IX_VACANCY;
    const en_party_t *w = vacancy ? &s->party : ck->p, *v = vacancy ? ck->p : &s->party;
    if (!s->present || !en_rules_hold(w, v, !vacancy, s->scope, ck->now))
        return 0;
    if (vacancy ? !filters_pass(s, v, ck->rec, &ck->employer, &ck->employer_read, &ck->zone)
                : (s->category >= 0 && w->category != s->category))
        return 0;
    /* idf over the kind the subject's match operation searches: the
     * record's own kind; shared skills are all among the record's. */
    int rc;
    if (!ck->have_idf && (rc = en_probe_idf(ck->txn, ck->p, ck->rec->kind, ck->idf)) != 0)
        return rc;
    ck->have_idf = true;
    double idf_sub[IX_SKILLS_MAX];
    map_idf(&s->party, ck->p, ck->idf, idf_sub);
    bool rule6;
    double score = en_score_pair(w, v, &s->party, idf_sub, NULL, &rule6);
    if (rule6 && score >= s->min_score)
        return raise_alert(a, ck->txn, s, ck->rec, ck->created, score, ck->now);
    return 0;
}

/* A record was put: check the subscriptions of the other kind whose
 * subject shares a term with it, and the loose ones. */
static int
check_record(en_alerts_t *a, ix_txn_t *txn, const ix_record_t *rec, bool created, int64_t now)
{
    uint8_t subject_kind = rec->kind == IX_VACANCY ? IX_WORKER : IX_VACANCY;
    en_terms_t *terms = &a->terms[subject_kind == IX_WORKER ? 0 : 1];
    checking_t *ck = calloc(1, sizeof *ck);
    en_party_t *p = malloc(sizeof *p);
    if (!ck || !p) {
        free(ck);
        free(p);
        return -ENOMEM;
    }
    en_party_from_record(p, rec);
    *ck = (checking_t){.txn = txn, .rec = rec, .p = p, .created = created, .now = now};
    msgpack_zone_init(&ck->zone, 1024);
    uint32_t n = terms->n ? en_terms_candidates(terms, p, a->mark, ++a->stamp, a->cand) : 0;
    int rc = 0;
    for (uint32_t c = 0; c < n && rc == 0; c++) {
        const sub_t *s = a->subs.v[a->cand[c]];
        if (!s->loose)
            rc = check_one(a, s, ck);
    }
    for (size_t i = 0; i < a->loose.n && rc == 0; i++) {
        const sub_t *s = a->subs.v[a->loose.v[i]];
        if (s->kind == subject_kind)
            rc = check_one(a, s, ck);
    }
    msgpack_zone_destroy(&ck->zone);
    free(ck);
    free(p);
    return rc;
}

static int
reload_parties(en_alerts_t *a, ix_txn_t *txn)
{
    for (size_t i = 0; i < a->subs.n; i++) {
        int rc = load_party(a->subs.v[i], txn);
        if (rc != 0)
            return rc;
    }
    a->reload = false;
    a->dirty = true;
    return 0;
}

static int
refresh_subject(en_alerts_t *a, sub_t *s, const void *rec)
{
    int rc = rec ? set_party(s, rec) : 0;
    if (!rec)
        s->present = false;
    return rc != 0 ? rc : make_loose(a, s);
}

static int
on_put(void *ctx, ix_txn_t *txn, const ix_record_t *rec, bool created, bool state_only,
       int64_t now)
{
    en_alerts_t *a = ctx;
    int rc;
    if (a->subs.n == 0)
        return 0;
    if (a->reload && (rc = reload_parties(a, txn)) != 0)
        return rc;
    if ((a->dirty || a->loose.n > LOOSE_MAX) && (rc = rebuild(a)) != 0)
        return rc;
    if ((rc = each_subject(a, rec->kind, rec->id, rec->id_len, refresh_subject, rec)) != 0)
        return rc;
    /* Vacancies put, new or changed, and workers newly registered: a
     * hire or a close is no put. */
    if (state_only || (rec->kind == IX_WORKER && !created))
        return 0;
    put_seen_t seen = {.kind = rec->kind, .created = created, .id_len = rec->id_len, .now = now};
    memcpy(seen.id, rec->id, rec->id_len);
    return VEC_PUSH(a->seen, seen);
}

static int
seen_order(const void *x, const void *y)
{
    const put_seen_t *a = *(const put_seen_t *const *)x, *b = *(const put_seen_t *const *)y;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    int c = memcmp(a->id, b->id, a->id_len < b->id_len ? a->id_len : b->id_len);
    if (c != 0 || a->id_len != b->id_len)
        return c != 0 ? c : a->id_len < b->id_len ? -1 : 1;
    return a < b ? -1 : a > b;  /* the earlier put first */
}

/* A write is whole: check its records, each once (a put_many may put one
 * twice; it counts as new when it was new before the write), in the order
 * they were first put. */
static int
on_settle(void *ctx, ix_txn_t *txn)
{
    en_alerts_t *a = ctx;
    size_t n = a->seen.n;
    if (n == 0)
        return 0;
    int rc = 0;
    if (n > 1) {
        put_seen_t **by_id = malloc(n * sizeof *by_id);
        if (!by_id)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            by_id[i] = &a->seen.v[i];
        qsort(by_id, n, sizeof *by_id, seen_order);
        for (size_t i = 1; i < n; i++)
            by_id[i]->again = by_id[i]->kind == by_id[i - 1]->kind &&
                              by_id[i]->id_len == by_id[i - 1]->id_len &&
                              memcmp(by_id[i]->id, by_id[i - 1]->id, by_id[i]->id_len) == 0;
        free(by_id);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const put_seen_t *s = &a->seen.v[i];
        ix_record_t rec;
        if (s->again)
            continue;
        rc = ix_get(txn, s->kind, s->id, s->id_len, &rec);
        if (rc == 0)
            rc = check_record(a, txn, &rec, s->created, s->now);
        else if (rc == -ENOENT)
            rc = 0;
    }
    a->seen.n = 0;
    return rc;
}

static int
on_delete(void *ctx, ix_txn_t *txn, uint8_t kind, const char *id, uint32_t id_len)
{
    (void)txn;
    en_alerts_t *a = ctx;
    if (a->subs.n == 0)
        return 0;
    if (a->dirty && rebuild(a) != 0)
        return -ENOMEM;
    return each_subject(a, kind, id, id_len, refresh_subject, NULL);
}

/* ---- the transaction's end ------------------------------------------------------- */

static void
deliver(en_alerts_t *a)
{
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->pushes.n; i++) {
        const pending_push_t *p = &a->pushes.v[i];
        for (size_t j = 0; j < a->listeners.n; j++) {
            const listener_t *l = &a->listeners.v[j];
            if (l->sub == p->sub)
                en_worker_push(l->worker, l->serial, p->body, p->len);
        }
    }
    pthread_mutex_unlock(&a->lock);
}

static void
remove_sub(en_alerts_t *a, uint64_t id)
{
    size_t k = 0;
    for (size_t i = 0; i < a->subs.n; i++) {
        if (a->subs.v[i]->id == id)
            sub_free(a->subs.v[i]);
        else
            a->subs.v[k++] = a->subs.v[i];
    }
    a->subs.n = k;
    pthread_mutex_lock(&a->lock);
    k = 0;
    for (size_t i = 0; i < a->listeners.n; i++)
        if (a->listeners.v[i].sub != id)
            a->listeners.v[k++] = a->listeners.v[i];
    a->listeners.n = k;
    pthread_mutex_unlock(&a->lock);
}

static void
on_end(void *ctx, bool committed)
{
    en_alerts_t *a = ctx;
    if (committed) {
        deliver(a);
        for (size_t i = 0; i < a->removed.n; i++)
            remove_sub(a, a->removed.v[i]);
        if (a->removed.n)
            a->dirty = true;
        for (size_t i = 0; i < a->added.n; i++) {
            sub_t *s = a->added.v[i];
            s->loose = true;
            if (VEC_PUSH(a->subs, s) != 0) {
                en_error("alerts: out of memory; subscription %llu is inactive until restart",
                         (unsigned long long)s->id);
                sub_free(s);
                continue;
            }
            a->added_since++;
            if (VEC_PUSH(a->loose, (uint32_t)(a->subs.n - 1)) != 0)
                a->dirty = true;   /* the rebuild takes it in */
        }
    } else {
        for (size_t i = 0; i < a->added.n; i++)
            sub_free(a->added.v[i]);
        if (a->parties_changed)
            a->reload = true;
    }
    for (size_t i = 0; i < a->pushes.n; i++)
        free(a->pushes.v[i].body);
    a->added.n = a->removed.n = a->pushes.n = a->seen.n = 0;
    a->parties_changed = false;
}

/* ---- subscriptions ------------------------------------------------------------------ */

int
en_alerts_subscribe(en_alerts_t *a, ix_txn_t *txn, const en_sub_spec_t *spec, int64_t now,
                    const char *by, uint64_t *id)
{
    ix_record_t rec;
    int rc = ix_get(txn, spec->kind, spec->subject.ptr, spec->subject.len, &rec);
    if (rc != 0)
        return rc;
    sub_t *s = sub_from_spec(spec, 0);
    if (!s)
        return -ENOMEM;
    if ((rc = set_party(s, &rec)) != 0) {
        sub_free(s);
        return rc;
    }
    if ((rc = ix_sub_next(txn, &s->id)) != 0) {
        sub_free(s);
        return rc;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_sub(&pk, s, now, by);
    rc = sb.data ? ix_sub_put(txn, s->id, sb.data, sb.size) : -ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0 && (rc = VEC_PUSH(a->added, s)) == 0) {
        *id = s->id;
        return 0;
    }
    sub_free(s);
    return rc;
}

int
en_alerts_unsubscribe(en_alerts_t *a, ix_txn_t *txn, uint64_t id)
{
    int rc = ix_sub_delete(txn, id);
    if (rc != 0)
        return rc;
    return VEC_PUSH(a->removed, id);
}

/* ---- listeners ------------------------------------------------------------------------ */

void
en_alerts_listen(en_alerts_t *a, uint64_t sub, en_worker_t *w, uint64_t serial)
{
    pthread_mutex_lock(&a->lock);
    bool have = false;
    for (size_t i = 0; i < a->listeners.n && !have; i++)
        have = a->listeners.v[i].sub == sub && a->listeners.v[i].worker == w &&
               a->listeners.v[i].serial == serial;
    listener_t l = {sub, w, serial};
    if (!have && VEC_PUSH(a->listeners, l) != 0)
        en_error("alerts: out of memory; a connection misses subscription %llu's pushes",
                 (unsigned long long)sub);
    pthread_mutex_unlock(&a->lock);
}

void
en_alerts_forget(en_alerts_t *a, en_worker_t *w, uint64_t serial)
{
    pthread_mutex_lock(&a->lock);
    size_t k = 0;
    for (size_t i = 0; i < a->listeners.n; i++)
        if (a->listeners.v[i].worker != w || a->listeners.v[i].serial != serial)
            a->listeners.v[k++] = a->listeners.v[i];
    a->listeners.n = k;
    pthread_mutex_unlock(&a->lock);
}

/* ---- start and stop ------------------------------------------------------------------- */

typedef struct loader {
    en_alerts_t *a;
    ix_txn_t *txn;
} loader_t;

static int
load_sub(void *ctx, uint64_t id, const void *value, size_t len)
{
    loader_t *l = ctx;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    en_sub_spec_t spec;
    int rc = en_sub_decode(value, len, &zone, &spec);
    sub_t *s = rc == 0 ? sub_from_spec(&spec, id) : NULL;
    msgpack_zone_destroy(&zone);
    if (rc != 0) {
        en_error("alerts: subscription %llu is not readable; it is ignored", (unsigned long long)id);
        return 0;
    }
    if (!s || load_party(s, l->txn) != 0 || VEC_PUSH(l->a->subs, s) != 0) {
        sub_free(s);
        return -ENOMEM;
    }
    return 0;
}

en_alerts_t *
en_alerts_open(en_server_t *srv)
{
    en_alerts_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->srv = srv;
    a->dirty = true;
    msgpack_sbuffer_init(&a->sb);
    pthread_mutex_init(&a->lock, NULL);
    ix_txn_t *txn;
    int rc = ix_read_begin(srv->ix, &txn);
    if (rc == 0) {
        loader_t l = {a, txn};
        rc = ix_sub_each(txn, load_sub, &l);
        ix_read_end(txn);
    }
    if (rc == 0)
        rc = rebuild(a);
    if (rc != 0) {
        en_error("alerts: cannot load the subscriptions: %s", ix_strerror(rc));
        en_alerts_close(a);
        return NULL;
    }
    ix_hooks_t hooks = {
        .put = on_put, .del = on_delete, .settle = on_settle, .end = on_end, .ctx = a};
    ix_set_hooks(srv->ix, &hooks);
    en_info("alerts: %zu subscriptions", a->subs.n);
    return a;
}

void
en_alerts_close(en_alerts_t *a)
{
    if (!a)
        return;
    if (a->srv)
        ix_set_hooks(a->srv->ix, NULL);
    for (size_t i = 0; i < a->subs.n; i++)
        sub_free(a->subs.v[i]);
    for (size_t i = 0; i < a->added.n; i++)
        sub_free(a->added.v[i]);
    for (size_t i = 0; i < a->pushes.n; i++)
        free(a->pushes.v[i].body);
    free(a->subs.v);
    free(a->added.v);
    free(a->removed.v);
    free(a->pushes.v);
    free(a->seen.v);
    free(a->listeners.v);
    free(a->loose.v);
    free(a->by_subject);
    for (int k = 0; k < 2; k++)
        en_terms_free(&a->terms[k]);
    free(a->mark);
    free(a->cand);
    msgpack_sbuffer_destroy(&a->sb);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
