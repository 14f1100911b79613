/* internal.h - private to index/: the environment and transaction structs,
 * the stored doc format, and the helpers the index's files share. Nothing
 * outside index/ includes this (it pulls in lmdb.h).
 */
#ifndef JM_INDEX_INTERNAL_H
#define JM_INDEX_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "index.h"
#include "keys.h"

/* Version of the whole store layout, kept in meta "version". 2: match
 * fields in the doc header, region inside skill postings, minor-group
 * postings. 3: skill and minor-group postings carry the record's brief.
 * 4: skill and minor-group postings move to the match dbi as fixed-size
 * duplicates of one key per (term, county). 5: the audit dbi. 6: the
 * fairs dbi. 7: a worker's value holds its personal fields sealed (the
 * engine's layout, docs/storage.md), and meta may hold the engine's "x."
 * entries. 8: the stats dbi (labour aggregates) and the referrals dbi.
 * 9: the alerts dbi. 10: a vacancy's doc holds its origin node and copy
 * flag; counts per origin and the copies' openings aggregate. 11: an audit
 * subject key holds the block of its seq, so keys written together are
 * neighbours. 12: skill and minor-group postings only for records whose
 * brief is open. 13: a matching posting's value starts with the record's
 * match rank (its education), so that a walk reads only the ranks a
 * probe admits. 14: the names dbi, each record's id by docno. 15: a
 * vacancy's 'C' listing postings, one per priority category (a store of
 * format 11 to 14 is upgraded in place at open: env.c, upgrade). */
#define IX_FORMAT_VERSION 15
/* Version byte that starts every stored doc. */
#define IX_DOC_VERSION 3
/* Fixed part of a stored doc (see doc.c for the layout). */
#define IX_DOC_HEADER 52
/* Upper bound of a stored doc without its record value. */
#define IX_DOC_META_MAX                                                     \
    (IX_DOC_HEADER + IX_OCCUPATIONS_MAX * (1 + IX_OCCUPATION_MAX) +         \
     IX_SKILLS_MAX * (2 + IX_SKILL_ID_MAX) + 2 * IX_ID_MAX)
/* Bits of the header's flags byte. */
#define IX_DOC_MATCHABLE 0x01
#define IX_DOC_COPY 0x02

/* Pending skill df deltas flush to LMDB once this many distinct skills
 * are buffered, which bounds the table's memory (twice this many slots). */
#define IX_DF_FLUSH_AT 65536

/* A doc as stored, decoded in place: pointers refer to the bytes decoded. */
typedef struct ix_str {
    const char *p;
    uint32_t len;
} ix_str_t;

typedef struct ix_dskill {
    const char *p;
    uint32_t len;
    uint8_t level;
} ix_dskill_t;

typedef struct ix_docview {
    ix_match_t match;
    uint8_t status;
    uint8_t category;
    bool matchable;
    bool copy;
    uint32_t filled;
    char region[6];
    uint32_t n_occ;
    uint32_t n_skills;
    ix_str_t occ[IX_OCCUPATIONS_MAX];
    ix_dskill_t skills[IX_SKILLS_MAX];
    const char *id;
    uint32_t id_len;
    ix_str_t origin;
    const void *value;
    size_t value_len;
    size_t meta_len;     /* bytes before the value */
} ix_docview_t;

/* Counters per origin share the df table: their entries have one of these
 * as kind, and as bytes the origin's length (one byte), the origin, and
 * for a df the skill id: the counter's key after its tag and IX_VACANCY
 * (keys.h). */
enum { IX_DF_ORIGIN_OPEN = IXK_ORIGIN_OPEN, IX_DF_ORIGIN_DF = IXK_ORIGIN_DF };
#define IX_DF_BYTES_MAX (1 + IX_ID_MAX + IX_SKILL_ID_MAX)

/* One buffered counter change: (kind, skill) -> delta, or a counter per
 * origin (above). */
typedef struct ix_dfent {
    int64_t delta;
    uint32_t hash;
    uint8_t kind;
    uint8_t len;         /* 0 = empty slot */
    char skill[IX_DF_BYTES_MAX];
} ix_dfent_t;

/* One buffered posting change, to the post dbi or (dup set) the match
 * dbi. The value is held inline (at most IXK_VAL_MAX bytes) so queueing
 * allocates nothing per change. A match dbi change carries the whole
 * value, put or deleted; its first slen bytes are the posting's slot
 * (keys.h), which together with the key names the posting. */
typedef struct ix_postop {
    uint8_t klen;
    uint8_t put;         /* 1 = put, 0 = delete */
    uint8_t dup;         /* 1 = match dbi, 0 = post dbi */
    uint8_t slen;        /* slot bytes of val; 0 for the post dbi */
    uint8_t vlen;        /* 0..IXK_VAL_MAX */
    uint8_t val[IXK_VAL_MAX];
    uint8_t key[IXK_MAX];
} ix_postop_t;

/* Buffered posting changes flush once this many are queued. */
#define IX_POST_FLUSH_AT 131072

/* State a write transaction keeps in memory and writes at commit (or
 * earlier, when something reads it back): the next docnos, the last log
 * seq and every counter delta. Buffering the counters turns the per-skill
 * get+put of every record into one update per distinct skill per commit. */
typedef struct ix_pending {
    bool loaded;
    bool dirty;
    uint64_t next_docno[2];
    uint64_t seq;
    uint64_t aseq;       /* last audit seq (meta "aseq") */
    int64_t total[2];
    int64_t matchable[2];
    ix_dfent_t *df;      /* open addressing table, df_cap slots */
    uint32_t df_cap;     /* power of two, or 0 before the first use */
    uint32_t df_used;
    uint32_t *df_order;  /* slots in use, in insertion order */
    ix_postop_t *ops;    /* posting changes, in the order made */
    struct ix_opsort *op_sort;  /* scratch for sorting ops: 2 * ops_cap */
    uint32_t n_ops, ops_cap;
    /* Labour aggregate counter deltas (labour.c), applied at flush: a
     * batch of records shares a few cells, so each is written once. */
    struct ix_agg_ledger *agg;
} ix_pending_t;

struct ix_txn {
    ix_env_t *env;
    MDB_txn *txn;
    bool rdonly;
    int ret;                  /* first error of a write txn; sticks */
    struct ix_txn *next_free; /* read pool: next free handle */
    struct ix_txn *next_all;  /* read pool: every handle, for ix_close */
    /* Per kind: the id cache answers for docnos below these, the ones
     * committed before the transaction began (id_cache.c). */
    uint64_t id_below[2];
};

typedef struct ix_id_cache ix_id_cache_t;

struct ix_env {
    MDB_env *env;
    char *dir;                /* for reopening (ix_release_memory) */
    unsigned flags;           /* mdb_env_open flags */
    unsigned max_readers;
    bool huge_pages;          /* advise_huge_pages after every (re)map */
    MDB_dbi ids, names, docs, post, match, counts, log, meta, audit, fairs, stats, referrals, alerts;
    /* Held shared by every open transaction, read or write, and taken
     * exclusively to resize the map: LMDB remaps it, which must not happen
     * under a transaction of this process (see env.c). */
    pthread_rwlock_t map_lock;
    /* Transactions that read the whole store (a check, a backup) and hold
     * map_lock for long; a resize does not queue readers behind them. */
    atomic_uint long_readers;
    unsigned stale_readers;   /* slots of dead processes cleared at open */
    unsigned upgraded_from;   /* format version upgraded at open, or 0 */
    void (*on_upgrade)(unsigned from, unsigned to, void *ctx);
    void *upgrade_ctx;
    /* ix_backup under way: the copy's fd, which ix_backup_cancel points
     * elsewhere (-1 when none), and whether backups are cancelled. */
    pthread_mutex_t backup_lock;
    int backup_fd;
    bool backup_cancelled;
    pthread_mutex_t pool_lock;
    ix_txn_t *pool_free;
    ix_txn_t *pool_all;
    ix_txn_t wtxn;            /* the one write transaction */
    ix_pending_t pend;        /* owned by the writer */
    ix_hooks_t hooks;         /* set once before the first write */
    ix_id_cache_t *id_cache;  /* NULL when none (id_cache.c) */
};

/* A reader of the whole store announces itself around its transaction
 * (see map_lock). */
void ix_long_read_begin(ix_env_t *e);
void ix_long_read_end(ix_env_t *e);

/* Maps an LMDB (or system) error to a negative errno; 0 stays 0. The
 * original code is remembered per thread for ix_strerror. */
int ix_mdb_err(int rc);

/* Records rc as the write transaction's error unless one is set already;
 * returns rc. */
static inline int
ix_fail(ix_txn_t *t, int rc)
{
    if (rc != 0 && !t->rdonly && t->ret == 0)
        t->ret = rc;
    return rc;
}

static inline int
ix_kind_index(uint8_t kind)
{
    return kind == IX_VACANCY ? 0 : kind == IX_WORKER ? 1 : -1;
}

/* id_cache.c: each record's id by docno, in memory. ix_id_cache_open
 * reserves `bytes` (0: no cache) and starts copying the names dbi;
 * _close stops. _get is false when the name is not there (look it up in
 * LMDB). The writer notes each record it creates (_note), publishes the
 * notes when its transaction commits or discards them, and forgets each
 * docno it deletes. */
int ix_id_cache_open(ix_env_t *e, size_t bytes);
void ix_id_cache_close(ix_env_t *e);
bool ix_id_cache_get(ix_id_cache_t *c, uint8_t kind, uint64_t docno, const char **id,
                     uint32_t *len);
/* Prefetches the slots of docnos, then the names they point to (the
 * slots' loads wait for the first round, all of it in flight at once). */
void ix_id_cache_warm(ix_id_cache_t *c, uint8_t kind, const uint64_t *docnos, uint32_t n);
/* Per kind, the docnos below which every one was committed and its name,
 * unless deleted, may be taken from the cache: read before a transaction
 * begins, for its life (0, 0 without a cache). */
void ix_id_cache_below(const ix_id_cache_t *c, uint64_t below[2]);
void ix_id_cache_note(ix_id_cache_t *c, uint8_t kind, uint64_t docno, const char *id,
                      uint32_t len);
void ix_id_cache_publish(ix_id_cache_t *c);
void ix_id_cache_discard(ix_id_cache_t *c);
void ix_id_cache_forget(ix_id_cache_t *c, uint8_t kind, uint64_t docno);
/* The ids it holds, and the arena bytes they take (0, 0 without). */
void ix_id_cache_usage(const ix_id_cache_t *c, uint64_t *ids, uint64_t *bytes);

/* doc.c */
size_t ix_doc_meta_size(const ix_doc_t *doc);
void ix_doc_encode(uint8_t *out, const ix_doc_t *doc);
/* Decodes len bytes; -EIO when they are not a well-formed doc. */
int ix_doc_decode(const void *data, size_t len, ix_docview_t *v);
/* Reads doc (kind, docno) in txn and decodes it; -ENOENT when absent. */
int ix_doc_fetch(ix_txn_t *t, uint8_t kind, uint64_t docno, ix_docview_t *v);
/* Fills every field of out from a decoded doc; pointers refer to what v
 * refers to. Copies only the terms the doc has. */
void ix_doc_record(const ix_docview_t *v, uint8_t kind, uint64_t docno,
                   ix_record_t *out);

/* Derives the brief of a doc of kind from its decoded form (see
 * ix_brief_t); every field the kind does not use is 0. */
void ix_brief_of(uint8_t kind, const ix_docview_t *v, ix_brief_t *b);

/* The worker categories a doc is listed under by the `category` filter,
 * bit (1 << category) each: a worker's own, a vacancy's priority
 * categories. One 'C' posting per bit (keys.h). */
uint8_t ix_list_categories(uint8_t kind, const ix_docview_t *v);

/* store.c: one matching posting of a doc, its key and value (the first
 * slot bytes of which are what tells it from the key's other postings),
 * and the term it is of: the doc's occ[term] (a minor group) or
 * skills[term]. */
typedef struct ix_match_posting {
    const uint8_t *key, *val;
    size_t klen, vlen, slot;
    bool skill;
    uint32_t term;
} ix_match_posting_t;
typedef int (*ix_match_posting_fn)(void *ctx, const ix_match_posting_t *p);
/* Calls fn with each matching posting doc docno (of kind, decoded in v)
 * has while its brief, encoded in brief, is open: its minor groups, then
 * its skills. Returns fn's first nonzero value, or 0. The one description
 * of those postings: writes, ix_check and the format 11 upgrade use it. */
int ix_each_match_posting(uint8_t kind, uint64_t docno, const ix_docview_t *v,
                          const uint8_t *brief, ix_match_posting_fn fn, void *ctx);

/* counters.c */
int ix_pending_load(ix_txn_t *t);
int ix_pending_flush(ix_txn_t *t);
void ix_pending_reset(ix_pending_t *p);
void ix_pending_free(ix_pending_t *p);
/* Adds one record's contribution (sign +1 or -1) to the pending counters. */
int ix_pending_doc(ix_txn_t *t, uint8_t kind, const ix_docview_t *v,
                   int sign);
/* The (kind, skill) -> delta table of an ix_pending_t, also used by
 * ix_check to hold expected dfs. Add creates the entry when absent. */
int ix_dftab_add(ix_pending_t *p, uint8_t kind, const char *s, uint32_t len,
                 int64_t delta);
ix_dfent_t *ix_dftab_find(ix_pending_t *p, uint8_t kind, const char *s,
                          uint32_t len);
/* Adds a matchable vacancy's counters per origin (times d) to the table. */
int ix_origin_counts_add(ix_pending_t *p, const ix_docview_t *v, int64_t d);
/* Reads a stored counter; absent = 0. */
int ix_counter_get(ix_txn_t *t, const uint8_t *key, size_t klen,
                   uint64_t *out);

/* postings.c: posting changes are queued and applied in key order (at
 * commit, before anything in the transaction reads postings, or when the
 * queue is full), which keeps B-tree descents cache-hot during bulk loads.
 * The last change queued for a posting wins (a post key; a match key and
 * slot); deleting an absent posting is not an error. */
int ix_post_put(ix_txn_t *t, const uint8_t *key, size_t klen,
                const uint8_t *val, size_t vlen);
int ix_post_del(ix_txn_t *t, const uint8_t *key, size_t klen);
/* Match dbi postings: val is the posting's whole value (vlen bytes, the
 * first slen of them its slot). A delete removes whatever value the
 * stored posting with that slot holds, so val need only be right in its
 * slot; store.c passes the old value in full. */
int ix_dup_put(ix_txn_t *t, const uint8_t *key, size_t klen,
               const uint8_t *val, size_t vlen, size_t slen);
int ix_dup_del(ix_txn_t *t, const uint8_t *key, size_t klen,
               const uint8_t *val, size_t vlen, size_t slen);
int ix_post_flush(ix_txn_t *t);

/* audit.c: checks the audit dbi for ix_check: every subject key points
 * to an entry of that subject, entries and subject keys are as many, and
 * meta "aseq" is not below any entry's seq. Returns 0 (with *entries),
 * 1 with the first problem described in why, or a negative errno. */
int ix_audit_verify(ix_txn_t *t, uint64_t *entries, char *why, size_t len);

/* log.c */
int ix_log_append(ix_txn_t *t, uint8_t op, uint8_t kind, const char *id,
                  uint32_t id_len, int64_t now);

/* labour.c: the aggregates' share of a record change (old or nw NULL for
 * an insert or delete) and of a referral change. */
int ix_agg_doc(ix_txn_t *t, uint8_t kind, uint64_t docno,
               const ix_docview_t *old, const ix_docview_t *nw);
int ix_agg_referral(ix_txn_t *t, const ix_referral_t *old,
                    const ix_referral_t *nw);
/* For ix_check: expected aggregates recomputed from every doc and
 * referral (postings are looked up as they come), then compared with
 * the stats dbi entry by entry. */
typedef struct ix_agg_ledger ix_agg_ledger_t;
/* The pending counter deltas of the write transaction: written to the
 * stats dbi (in key order) by ix_agg_flush, dropped by ix_agg_discard. */
int ix_agg_flush(ix_txn_t *t);
void ix_agg_discard(ix_pending_t *p);
typedef void (*ix_agg_problem_cb)(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
ix_agg_ledger_t *ix_agg_ledger_new(void);
void ix_agg_ledger_free(ix_agg_ledger_t *l);
int ix_agg_expect_doc(ix_txn_t *t, ix_agg_ledger_t *l, uint8_t kind,
                      uint64_t docno, const ix_docview_t *v);
int ix_agg_expect_referral(ix_txn_t *t, ix_agg_ledger_t *l,
                           const ix_referral_t *r);
int ix_agg_compare(ix_txn_t *t, ix_agg_ledger_t *l, ix_agg_problem_cb problem,
                   void *ctx);

/* referral.c: for ix_check. */
int ix_referral_check(ix_txn_t *t, ix_agg_ledger_t *l,
                      ix_agg_problem_cb problem, void *ctx);

#endif
