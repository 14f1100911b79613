/* index.h - the LMDB store: records, secondary indexes, counters and the
 * changelog, always changed together in one write transaction.
 *
 * The index knows nothing of sockets or of the wire format: a record is an
 * opaque value (the daemon stores its canonical msgpack encoding) plus the
 * terms it is indexed under, given in an ix_doc_t. The key layout is in
 * keys.h and docs/storage.md.
 *
 * Errors are 0 or a negative errno value:
 *   -ENOENT  no such record / cursor position
 *   -EINVAL  bad argument (e.g. a malformed cursor)
 *   -ENOSPC  the map is full (MDB_MAP_FULL); the write transaction is dead
 *            (ix_grow may make room)
 *   -EFBIG   too many changes for one write transaction (MDB_TXN_FULL);
 *            the transaction is dead
 *   -EDQUOT  the file system is full (or over quota): a commit could not
 *            write its pages, and nothing of it is stored
 *   -EBUSY   out of reader slots
 *   -ESTALE  another process grew the map past this one's and adopting
 *            the new size failed
 *   -EPROTO  ix_open: the store was written in another format version
 *            (ix_strerror names both versions; there is no migration)
 *   -EIO     anything else LMDB reports (logged by the caller with
 *            ix_strerror)
 *
 * Threads: any number of threads may read, each with its own read
 * transaction; exactly one thread at a time writes (LMDB's own rule). A
 * transaction is used by the thread that began it only.
 */
#ifndef JM_INDEX_INDEX_H
#define JM_INDEX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ix_env ix_env_t;
typedef struct ix_txn ix_txn_t;

/* Record kinds; the byte is also the kind's tag inside keys. */
enum ix_kind { IX_VACANCY = 'V', IX_WORKER = 'W' };

/* How commits reach the disk. */
enum ix_sync {
    IX_SYNC_FULL = 0,   /* fsync on every commit: acknowledged = durable */
    IX_SYNC_NOMETA,     /* MDB_NOMETASYNC: a crash may lose the last commit
                           but never corrupts */
    IX_SYNC_NONE,       /* MDB_NOSYNC: the OS flushes; ix_sync() on demand */
};

typedef struct ix_options {
    uint64_t map_size;     /* bytes; 0 = default (16 GiB). The least: an
                              existing store keeps a larger size it grew to */
    unsigned max_readers;  /* 0 = default (126) */
    enum ix_sync sync;
    bool huge_pages;       /* back the map with 2 MiB pages where the kernel
                              can (MADV_HUGEPAGE): faster reads, slower
                              writes (docs/operations.md, "Huge pages") */
    size_t id_cache_bytes; /* memory for a copy of every record's id by
                              docno, which ix_id_of_docno reads first
                              (docs/storage.md, "The id cache"); 0 = none */
    /* Called before a store of an older format is upgraded in place, or
     * an upgrade left halfway is started over (formats from and to),
     * which takes a while on a large store; may be NULL. */
    void (*on_upgrade)(unsigned from, unsigned to, void *ctx);
    void *upgrade_ctx;
} ix_options_t;

/* Opens (creating when needed) the environment in directory dir, which must
 * exist. Clears stale reader slots left by a crashed process. */
int ix_open(const char *dir, const ix_options_t *opts, ix_env_t **out);
void ix_close(ix_env_t *env);
/* How many reader slots of dead processes ix_open cleared. */
unsigned ix_stale_readers(const ix_env_t *env);
/* The format version ix_open upgraded the store from in place, or 0. */
unsigned ix_upgraded_from(const ix_env_t *env);

/* The map's size now, in bytes. */
uint64_t ix_map_size(ix_env_t *env);
/* Grows the map after a write failed with -ENOSPC: doubles it, to ceiling
 * at most, and sets *new_size (may be NULL). Call it on the writing thread
 * with no write transaction open. It waits until no read transaction of
 * this process is open: usually a moment, but the whole run of a backup or
 * check that is under way. -ENOSPC when the map is at the ceiling. A
 * reader that finds the map grown by another process adopts the new size
 * by itself. */
int ix_grow(ix_env_t *env, uint64_t ceiling, uint64_t *new_size);

/* Hands back to the system the memory LMDB keeps from past write
 * transactions: their dirty pages stay in its heap for reuse until the
 * environment closes, so one large transaction (a bulk load) would set
 * the process's memory for good. Closes and reopens the environment. Call
 * it on the writing thread with no write transaction open. It waits until
 * no read transaction of this process is open, holding new ones back
 * meanwhile (a few milliseconds), but 50 ms at most: -EBUSY, with nothing
 * done, when reads stay open longer or a backup or check is under way;
 * -EMFILE when the process is near its descriptor limit. Any other error
 * leaves the environment unusable: the caller must stop. */
int ix_release_memory(ix_env_t *env);

/* Hot backup: writes a compacted copy of the store (free pages left out)
 * to dir/data.mdb, dir being an existing directory without a data.mdb,
 * while other threads go on reading and writing. The copy is one
 * consistent snapshot, fsync'd, and opens as a store of its own (put it
 * in an empty data directory). Takes as long as reading the whole store.
 * -EEXIST when dir/data.mdb exists, -EBUSY while another backup of env
 * runs, else 0 or a negative errno (the partial file is removed). */
typedef struct ix_backup_info {
    uint64_t bytes;       /* size of the copy */
    uint64_t last_seq;    /* last changelog sequence the copy holds */
} ix_backup_info_t;
int ix_backup(ix_env_t *env, const char *dir, ix_backup_info_t *out);
/* For shutdown, from any thread: a backup under way stops soon and returns
 * -ECANCELED (its file removed), and so does any later one. */
void ix_backup_cancel(ix_env_t *env);
/* Flushes to disk (used with IX_SYNC_NONE and at shutdown). */
int ix_sync(ix_env_t *env);
const char *ix_strerror(int err);

/* Read transactions. ix_read_begin reuses a per-thread handle (reset and
 * renewed, never freed until the thread's last ix_read_end at close), so it
 * is cheap to call per request. Values read stay valid until ix_read_end. */
int ix_read_begin(ix_env_t *env, ix_txn_t **out);
void ix_read_end(ix_txn_t *txn);

/* The one write transaction. */
int ix_write_begin(ix_env_t *env, ix_txn_t **out);
int ix_write_commit(ix_txn_t *txn);   /* frees txn whatever the result */
void ix_write_abort(ix_txn_t *txn);

/* Limits the index enforces (-EINVAL beyond them); the wire contract's
 * limits are the same or tighter. */
#define IX_ID_MAX 64             /* record id bytes */
#define IX_SKILL_ID_MAX 64       /* skill id bytes */
#define IX_SKILLS_MAX 64         /* skills per record */
#define IX_OCCUPATION_MAX 10     /* bytes of one occupation code */
#define IX_OCCUPATIONS_MAX 16    /* occupation codes per record */

typedef struct ix_skill {
    const char *id;   /* [A-Za-z0-9._:/-], no NUL */
    uint32_t id_len;
    uint8_t level;
} ix_skill_t;

/* The fields matching filters and ranks on, kept beside the record's
 * terms so a candidate is judged from one read. Which fields a kind uses
 * is noted; the others are 0. */
typedef struct ix_match {
    int64_t since;          /* vacancy: posted; worker: registered */
    int64_t expires;        /* vacancy: 0 = never */
    uint32_t headcount;     /* vacancy */
    uint32_t wage_min;      /* vacancy: offered minimum; worker: wished minimum */
    uint32_t wage_max;      /* vacancy: 0 = negotiable */
    uint16_t birth_year;    /* worker */
    uint8_t education;      /* vacancy: education_min; worker: education */
    uint8_t age_min;        /* vacancy; 0 = no bound */
    uint8_t age_max;        /* vacancy; 0 = no bound */
    uint8_t priority_mask;  /* vacancy: bit (1 << category) per category */
} ix_match_t;

/* What a record is indexed under. Strings are counted, not NUL-ended. */
typedef struct ix_doc {
    uint8_t kind;              /* IX_VACANCY or IX_WORKER */
    const char *id;
    uint32_t id_len;
    char region[6];            /* 6 digits */
    /* Occupation codes: a vacancy has one (its own); a worker has its
     * desired occupations (0..16), each a full code or level prefix. */
    const char *const *occupations;
    const uint32_t *occupation_lens;
    uint32_t n_occupations;
    uint8_t status;            /* kind-specific status number */
    bool matchable;            /* counts toward N and df (open / available) */
    uint8_t category;          /* worker category; 0 for vacancies */
    const ix_skill_t *skills;
    uint32_t n_skills;
    uint32_t filled;           /* vacancies: hires so far (server-kept) */
    ix_match_t match;
    /* Vacancies: the node that owns the record (0..IX_ID_MAX bytes, no
     * NUL; empty = none recorded), counted per origin (ix_origins), and
     * whether it is a copy of another node's record (its openings are
     * kept apart as well, IX_AGG_COPY_OPENINGS). */
    const char *origin;
    uint32_t origin_len;
    bool copy;
    /* A change of the record's state alone (a hire's filled count, a
     * close), made here or at a copy's origin, not a put of its content:
     * the put hook is told. */
    bool state_only;
    const void *value;         /* the stored record bytes */
    size_t value_len;
} ix_doc_t;

/* A stored record as read back. Pointers are valid until the transaction
 * ends (or, in a write transaction, until the next write). */
typedef struct ix_record {
    uint8_t kind;
    const char *id;
    uint32_t id_len;
    uint64_t docno;            /* internal number, stable for the record's life */
    uint8_t status;
    uint8_t category;
    uint32_t filled;
    char region[6];
    ix_match_t match;
    uint32_t n_occupations;
    const char *occupations[IX_OCCUPATIONS_MAX];
    uint32_t occupation_lens[IX_OCCUPATIONS_MAX];
    uint32_t n_skills;
    ix_skill_t skills[IX_SKILLS_MAX];
    const char *origin;        /* as put; origin_len 0 = none */
    uint32_t origin_len;
    bool copy;
    const void *value;
    size_t value_len;
} ix_record_t;

/* Changelog operations. */
enum ix_log_op { IX_LOG_PUT = 'P', IX_LOG_DELETE = 'D' };

/* Looks a record up by id. -ENOENT when absent. */
int ix_get(ix_txn_t *txn, uint8_t kind, const char *id, uint32_t id_len,
           ix_record_t *out);

/* Inserts or replaces doc->id: writes the value, removes the old record's
 * postings and counter contributions, adds the new ones, and appends a
 * IX_LOG_PUT changelog entry stamped `now`. *created tells which. */
int ix_put(ix_txn_t *txn, const ix_doc_t *doc, int64_t now, bool *created);

/* Deletes a record, its postings and counter contributions; appends an
 * IX_LOG_DELETE entry. -ENOENT when absent (nothing changes). */
int ix_delete(ix_txn_t *txn, uint8_t kind, const char *id, uint32_t id_len,
              int64_t now);

/* Listing. Filters left NULL / -1 do not filter. The index picks the most
 * selective posting list it has for the filters given (region, occupation,
 * category, status; else id order) and checks the rest on each record.
 * Order is stable for a given filter set: by id when no filter is set. */
typedef struct ix_list_query {
    uint8_t kind;
    const char *region_prefix;      /* 1..6 digits */
    uint32_t region_prefix_len;
    const char *occupation_prefix;  /* e.g. "6-05" */
    uint32_t occupation_prefix_len;
    int status;                     /* -1 = any */
    int category;                   /* -1 = any; a worker of it, a vacancy
                                       giving it priority */
    const uint8_t *cursor;          /* from a previous page, or NULL */
    size_t cursor_len;
    uint32_t limit;                 /* records per page, >= 1 */
    uint32_t max_scan;              /* entries examined per page at most;
                                       0 = no bound */
} ix_list_query_t;

#define IX_CURSOR_MAX 128

/* Called per record in order; return non-zero to stop early: ix_list then
 * returns the value if negative (else 0) with a cursor that resumes after
 * that record. The callback must not write through the transaction. */
typedef int (*ix_list_cb)(void *ctx, const ix_record_t *rec);

/* Runs one page. When more may follow, writes an opaque cursor into
 * next_cursor (IX_CURSOR_MAX bytes) and sets *next_len > 0; *next_len = 0
 * means the listing is complete. A page may hold fewer than `limit`
 * records when max_scan was reached. -EINVAL for a cursor that does not
 * belong to this filter set. */
int ix_list(ix_txn_t *txn, const ix_list_query_t *q, ix_list_cb cb,
            void *ctx, uint8_t *next_cursor, size_t *next_len);

/* Reads a record by its internal number, as postings give it. Fills out
 * exactly as ix_get does (same lifetime); -ENOENT when no record of that
 * kind has the number. */
int ix_get_docno(ix_txn_t *txn, uint8_t kind, uint64_t docno,
                 ix_record_t *out);

/* The id of a record by its internal number, from a table of ids alone,
 * which a look-up descends far faster than the records: for the matcher,
 * which reads the ids of its results. *id stays valid while txn lives;
 * -ENOENT when no record of that kind has the number. */
int ix_id_of_docno(ix_txn_t *txn, uint8_t kind, uint64_t docno, const char **id,
                   uint32_t *id_len);

/* Asks memory for the ids of n records at once, ahead of ix_id_of_docno
 * on each: their look-ups then overlap instead of waiting one after the
 * other. Changes nothing; only the id cache has anything to ask for. */
void ix_id_warm(ix_txn_t *txn, uint8_t kind, const uint64_t *docnos, uint32_t n);

/* What each matching posting says about its record, so matching can apply
 * the contract's rules 1-5 and bound a candidate's score without reading
 * it. Which fields a kind uses is noted; the others are 0. */
typedef struct ix_brief {
    int64_t expires;          /* vacancy: 0 = never */
    uint32_t wage;            /* vacancy: wage_max (0 = negotiable); worker: wage_min */
    uint32_t occupation;      /* vacancy: its code as digits, 6-05-02-03 -> 6050203; worker: 0 */
    uint16_t birth_year;      /* worker */
    uint8_t open;             /* vacancy: status open and headcount > filled; worker: status available */
    uint8_t education;        /* vacancy: education_min; worker: education */
    uint8_t age_min, age_max; /* vacancy */
    uint8_t priority_mask;    /* vacancy */
    uint8_t category;         /* worker */
} ix_brief_t;

/* Skill postings come in runs of one region, so that the matcher judges
 * many in one tight loop, and field by field: posting i of a run is the
 * record docno[i], the level it holds or requires level[i], and the brief
 * fields at i (ix_skill_run_brief), so that a loop over one field reads
 * consecutive values and the compiler can run it in vector registers.
 * Only the brief fields of the run's kind are set (ix_brief_t says which). */
#define IX_SKILL_RUN_MAX 64
typedef struct ix_skill_run {
    uint8_t kind;                           /* IX_VACANCY or IX_WORKER */
    uint32_t n;
    uint64_t docno[IX_SKILL_RUN_MAX];
    int64_t expires[IX_SKILL_RUN_MAX];      /* vacancy */
    uint32_t wage[IX_SKILL_RUN_MAX];
    uint32_t occupation[IX_SKILL_RUN_MAX];  /* vacancy */
    uint16_t birth_year[IX_SKILL_RUN_MAX];  /* worker */
    uint8_t level[IX_SKILL_RUN_MAX];
    uint8_t open[IX_SKILL_RUN_MAX];
    uint8_t education[IX_SKILL_RUN_MAX];
    uint8_t age_min[IX_SKILL_RUN_MAX];      /* vacancy */
    uint8_t age_max[IX_SKILL_RUN_MAX];      /* vacancy */
    uint8_t priority_mask[IX_SKILL_RUN_MAX];/* vacancy */
    uint8_t category[IX_SKILL_RUN_MAX];     /* worker */
} ix_skill_run_t;

/* The brief of posting i of a run. */
void ix_skill_run_brief(const ix_skill_run_t *run, uint32_t i, ix_brief_t *b);

typedef int (*ix_skill_cb)(void *ctx, const char region[6],
                           const ix_skill_run_t *run);
typedef int (*ix_minor_cb)(void *ctx, uint64_t docno, const char region[6],
                           const char *code, uint32_t code_len,
                           const ix_brief_t *brief);

/* Matching scans. Each walks the postings of one term restricted to a
 * region prefix of 0 (everywhere), 2 (province), 4 (city) or 6 (county)
 * digits, which are contiguous in the key order, and calls cb per posting
 * (ix_minor_cb) or per run of up to IX_SKILL_RUN_MAX postings of one
 * region (ix_skill_cb). A non-zero return from cb stops the scan (returned
 * when negative, else the scan returns 0). Postings of a term within one
 * region come in the order of match rank, then docno (see ix_match_rank),
 * regions in ascending order. region_prefix
 * is ASCII digits (it may be NULL when prefix_len is 0); another length or
 * a non-digit is -EINVAL.
 * region points into the transaction's memory; code (ix_minor_cb) is only
 * valid during the call. A scan in a write transaction sees its writes;
 * the callback must not write through the transaction. Nothing is
 * allocated per posting.
 *
 * brief (never NULL) is decoded from the posting itself, so it is as
 * current as the posting: the index derives it from the ix_doc_t at every
 * put (open = matchable, and for a vacancy also match.headcount > filled;
 * occupation = the digits of the vacancy's first occupation code, read as
 * one decimal number, 0 when it has none); the other kind's fields are 0.
 * It, like a run, is scan-owned memory valid only during the call. A
 * record's brief is the same in all of its skill and minor-group
 * postings. */

/* Records of `kind` holding skill, with the level they hold or require
 * and the record's brief. */
int ix_scan_skill(ix_txn_t *txn, uint8_t kind, const char *skill,
                  uint32_t skill_len, const char *region_prefix,
                  uint32_t prefix_len, ix_skill_cb cb, void *ctx);

/* The same postings walked a county at a time, so that several terms can
 * be merged county by county: each county's postings of one term are one
 * group, and groups come in county order. ix_groups_county gives the
 * current group's county (6 digits, valid until the next take), or NULL
 * when the walk is done; ix_groups_take hands the current group's postings
 * to the callback the walk was opened with (a non-zero return stops it and
 * is returned) and moves to the next group. Close every walk opened. */
typedef struct ix_groups ix_groups_t;
/* A group's postings come in the order of their records' match rank,
 * then docno: a vacancy's rank is its education_min, a worker's 255
 * minus its education. So the records a probe's education admits
 * (vacancies requiring at most the worker's, workers holding at least the
 * vacancy's minimum: rank <= ix_match_rank(searched kind, the probe's
 * education)) are the first of every group, and a walk opened with that
 * max_rank reads no others. IX_RANK_ANY reads all. */
#define IX_RANK_ANY 255
static inline uint8_t
ix_match_rank(uint8_t kind, uint8_t education)
{
    return kind == IX_VACANCY ? education : (uint8_t)(255 - education);
}
int ix_groups_skill(ix_txn_t *txn, uint8_t kind, const char *skill,
                    uint32_t skill_len, const char *region_prefix,
                    uint32_t prefix_len, uint8_t max_rank, ix_skill_cb cb,
                    void *ctx, ix_groups_t **out);
int ix_groups_minor(ix_txn_t *txn, uint8_t kind, const char minor[7],
                    const char *region_prefix, uint32_t prefix_len,
                    uint8_t max_rank, ix_minor_cb cb, void *ctx,
                    ix_groups_t **out);
const char *ix_groups_county(const ix_groups_t *g);
int ix_groups_take(ix_groups_t *g);
/* Moves past the current group without reading it. */
int ix_groups_skip(ix_groups_t *g);
/* Starts the walk over on a shorter prefix (prefix_len digits, no longer
 * than the walk's) of the region it was opened with: a walk of a county
 * can go on to its city, province and the country. */
int ix_groups_widen(ix_groups_t *g, uint32_t prefix_len);
/* Hands the postings of one record (docno, of match rank `rank`) in the
 * walk's term and one county of its range to the callback, if there are
 * any, wherever the walk is: a look-up, so that a term can be consulted
 * for a few candidates instead of read whole. */
int ix_groups_find(ix_groups_t *g, const char county[6], uint8_t rank, uint64_t docno);
/* The number of postings of the walk's term in one county, of every rank
 * (0 when it has none there), and those of the walk's ranks handed to the
 * callback, wherever the walk is: for choosing between look-ups and
 * reading a group whole. */
int ix_groups_size(ix_groups_t *g, const char county[6], size_t *n);
int ix_groups_read(ix_groups_t *g, const char county[6]);
void ix_groups_close(ix_groups_t *g);

/* Records of `kind` with an occupation code in the minor group `minor`
 * (the first 7 characters of a code, e.g. "6-05-02"): a vacancy's code,
 * or a worker's desired codes of 7 or 10 characters. code is that code
 * (7 or 10 bytes). A worker with two desired codes in the group appears
 * once per code. */
int ix_scan_minor(ix_txn_t *txn, uint8_t kind, const char minor[7],
                  const char *region_prefix, uint32_t prefix_len,
                  ix_minor_cb cb, void *ctx);

/* Counters and environment facts. */
typedef struct ix_stats {
    uint64_t vacancies;            /* all vacancies */
    uint64_t vacancies_open;       /* matchable vacancies (N for idf) */
    uint64_t workers;
    uint64_t workers_available;    /* matchable workers */
    uint64_t last_seq;             /* last changelog sequence, 0 = none */
    uint64_t audit_seq;            /* last audit entry, 0 = none */
    uint64_t alert_seq;            /* alerts ever raised (the last seq) */
    uint64_t map_size;             /* bytes */
    uint64_t map_used;             /* bytes in use (last page number * page size) */
    uint64_t id_cache_ids;         /* ids the id cache holds (0 without one) */
    uint64_t id_cache_bytes;       /* the memory they take */
} ix_stats_t;

int ix_stats(ix_txn_t *txn, ix_stats_t *out);

/* Number of matchable records of `kind` holding skill id (df). */
int ix_skill_df(ix_txn_t *txn, uint8_t kind, const char *skill,
                uint32_t skill_len, uint64_t *df);

/* The same counts per origin node (ix_doc_t.origin) of the matchable
 * vacancies: how many each origin has, and how many of them require a
 * skill. A province holding copies of its cities' vacancies can thus say
 * what it holds of each city, which federated matching needs to compute
 * N and df over the union of several nodes' stores (docs/network.md).
 * ix_origins calls cb per origin with at least one matchable vacancy, in
 * bytewise order of origin (the empty origin first); origin is valid
 * during the call only; a non-zero return stops the walk (returned when
 * negative). */
typedef int (*ix_origin_cb)(void *ctx, const char *origin, uint32_t origin_len,
                            uint64_t open);
int ix_origins(ix_txn_t *txn, ix_origin_cb cb, void *ctx);
int ix_origin_df(ix_txn_t *txn, const char *origin, uint32_t origin_len,
                 const char *skill, uint32_t skill_len, uint64_t *df);

/* One changelog entry. id points into the transaction's memory. */
typedef struct ix_log_entry {
    uint64_t seq;
    int64_t time;
    uint8_t op;      /* enum ix_log_op */
    uint8_t kind;
    const char *id;
    uint32_t id_len;
} ix_log_entry_t;

/* Calls cb for entries with seq > after, in order, at most `max` (0 = no
 * bound). A non-zero return from cb stops the walk; ix_log_read returns it
 * if negative, else 0. */
typedef int (*ix_log_cb)(void *ctx, const ix_log_entry_t *e);
int ix_log_read(ix_txn_t *txn, uint64_t after, uint32_t max, ix_log_cb cb,
                void *ctx);

/* The audit trail: who read or changed which record, and when. Entries
 * are kept in their own dbi, in time order, with a second key per
 * subject so that one record's history is one range per block of 16,384
 * seqs. The index gives the strings no meaning: the daemon stores a key
 * name (actor, "" when anonymous), a role and an operation name. */
#define IX_AUDIT_STR_MAX 64

typedef struct ix_audit {
    uint64_t seq;              /* set by ix_audit_append: 1, 2, ... never reused */
    int64_t time;
    const char *actor;         /* 0..IX_AUDIT_STR_MAX bytes */
    uint32_t actor_len;
    const char *role;          /* 1..IX_AUDIT_STR_MAX bytes */
    uint32_t role_len;
    const char *op;            /* 1..IX_AUDIT_STR_MAX bytes */
    uint32_t op_len;
    uint8_t kind;              /* the subject's kind */
    const char *subject;       /* a record id, 1..IX_ID_MAX bytes, no NUL */
    uint32_t subject_len;
} ix_audit_t;

/* Appends an entry in the write transaction (so it commits or vanishes
 * with whatever else the transaction holds) and sets e->seq. -EINVAL for
 * lengths out of range. */
int ix_audit_append(ix_txn_t *txn, ix_audit_t *e);

/* A page of entries, oldest first (time, then seq; with a subject, block
 * by block of seqs, which differs only if the clock was set back).
 * subject (with kind) and actor filter when set (actor_len 0 with a
 * non-NULL actor selects the anonymous actor); time within since..until,
 * both inclusive. A subject filter walks only that record's entries (a
 * seek per block); otherwise the walk covers the time range, checking
 * the actor on each. The cursor (IX_AUDIT_CURSOR_LEN bytes) resumes
 * strictly after the last entry examined; *next_len is 0 when nothing
 * follows. */
#define IX_AUDIT_CURSOR_LEN 16

typedef struct ix_audit_query {
    uint8_t kind;
    const char *subject;       /* NULL = any */
    uint32_t subject_len;
    const char *actor;         /* NULL = any */
    uint32_t actor_len;
    int64_t since, until;
    const uint8_t *cursor;     /* NULL = from the start */
    size_t cursor_len;
    uint32_t limit;            /* >= 1 */
    uint32_t max_scan;         /* entries examined per page; 0 = no bound */
} ix_audit_query_t;

/* Called per entry; strings point into the transaction's memory. A
 * non-zero return stops the page (returned when negative). */
typedef int (*ix_audit_cb)(void *ctx, const ix_audit_t *e);

int ix_audit_list(ix_txn_t *txn, const ix_audit_query_t *q, ix_audit_cb cb,
                  void *ctx, uint8_t *next_cursor, size_t *next_len);

/* Removes the oldest entries, those with a time before `before`, at most
 * `max` of them, each with its subject key, in the write transaction;
 * *removed says how many (fewer than max: none older is left). */
int ix_audit_prune(ix_txn_t *txn, int64_t before, uint32_t max, uint32_t *removed);

/* Job fairs: a fair is an opaque value (the engine's) under its id, and
 * the vacancies and workers taking part, by id (a member whose record is
 * deleted stays a member; whoever reads the fair decides what that means).
 * ix_fair_create fails with -EEXIST when the id is taken; ix_fair_get and
 * the member calls with -ENOENT when the fair does not exist. Values read
 * stay valid until the transaction ends. */
int ix_fair_create(ix_txn_t *txn, const char *id, uint32_t id_len,
                   const void *value, size_t len);
int ix_fair_get(ix_txn_t *txn, const char *id, uint32_t id_len,
                const void **value, size_t *len);
/* Adds (join) or removes a member; *changed tells whether it did. */
int ix_fair_join(ix_txn_t *txn, const char *fair, uint32_t fair_len,
                 uint8_t kind, const char *id, uint32_t id_len, bool *changed);
int ix_fair_leave(ix_txn_t *txn, const char *fair, uint32_t fair_len,
                  uint8_t kind, const char *id, uint32_t id_len, bool *changed);
/* Calls cb for every member, vacancies first, each kind in id order
 * (bytewise). A non-zero return from cb stops the walk and is returned
 * when negative. */
typedef int (*ix_member_cb)(void *ctx, uint8_t kind, const char *id,
                            uint32_t id_len);
int ix_fair_members(ix_txn_t *txn, const char *fair, uint32_t fair_len,
                    ix_member_cb cb, void *ctx);

/* Small named values the engine keeps in the store (name: 1-32 bytes,
 * kept apart from the index's own meta entries). ix_meta_get copies the
 * value into buf (-EINVAL when it is longer than cap; -ENOENT when
 * absent); ix_meta_put needs a write transaction. */
int ix_meta_get(ix_txn_t *txn, const char *name, void *buf, size_t cap,
                size_t *len);
int ix_meta_put(ix_txn_t *txn, const char *name, const void *val,
                size_t len);

/* Observing writes. The daemon sets the hooks once, before the first
 * write: `put` runs inside ix_put once the record is stored (rec as
 * stored; created when it is new; state_only as the doc said), `del`
 * inside ix_delete once the record is gone, `settle` in ix_write_settle
 * and before a commit, and `end` when a write transaction ends
 * (committed: it reached the store; false: aborted, nothing of it
 * happened). They run on the writing thread; put, del and settle may read
 * and write in txn, and a negative return fails the call that ran them
 * (and with it the transaction). */
typedef struct ix_hooks {
    int (*put)(void *ctx, ix_txn_t *txn, const ix_record_t *rec, bool created,
               bool state_only, int64_t now);
    int (*del)(void *ctx, ix_txn_t *txn, uint8_t kind, const char *id,
               uint32_t id_len);
    int (*settle)(void *ctx, ix_txn_t *txn);
    void (*end)(void *ctx, bool committed);
    void *ctx;
} ix_hooks_t;
void ix_set_hooks(ix_env_t *env, const ix_hooks_t *hooks);

/* Says that one write (of the several a transaction may carry: a
 * put_many, say) is complete, so observers see it whole: runs the settle
 * hook. 0, or its negative errno (the transaction then fails). */
int ix_write_settle(ix_txn_t *txn);

/* Match alerts: subscriptions (opaque values, the engine's) numbered from
 * 1, and for each the alerts raised for it, numbered by one sequence
 * shared by all subscriptions (so "after" cursors never repeat). Deleting
 * a subscription deletes its alerts. -ENOENT for an unknown subscription. */
/* ix_sub_next takes the next subscription id; ix_sub_put stores the
 * subscription under it (so the value may carry its own id). */
int ix_sub_next(ix_txn_t *txn, uint64_t *id);
int ix_sub_put(ix_txn_t *txn, uint64_t id, const void *value, size_t len);
int ix_sub_get(ix_txn_t *txn, uint64_t id, const void **value, size_t *len);
int ix_sub_delete(ix_txn_t *txn, uint64_t id);
/* Every subscription in id order. A non-zero return from cb stops the walk
 * and is returned when negative. */
typedef int (*ix_sub_cb)(void *ctx, uint64_t id, const void *value, size_t len);
int ix_sub_each(ix_txn_t *txn, ix_sub_cb cb, void *ctx);
/* Takes the next alert seq; then ix_alert_put stores the alert under it
 * (so the value may carry its own seq). */
int ix_alert_next(ix_txn_t *txn, uint64_t *seq);
int ix_alert_put(ix_txn_t *txn, uint64_t sub, uint64_t seq, const void *value,
                 size_t len);
/* The subscription's alerts with seq > after, oldest first, at most limit.
 * value points into the transaction's memory: in a read transaction it
 * stays valid until the transaction ends. */
typedef int (*ix_alert_cb)(void *ctx, uint64_t seq, const void *value, size_t len);
int ix_alert_list(ix_txn_t *txn, uint64_t sub, uint64_t after, uint32_t limit,
                  ix_alert_cb cb, void *ctx);

/* Verifies the whole store: every doc against the id map, every posting
 * and counter recomputed from the docs and compared with what is stored
 * (nothing missing, nothing extra), and the meta counters. Writes a short
 * human-readable summary (or the first problems found) into report, which
 * is always NUL-terminated when len > 0. Runs in a read or write
 * transaction (a write transaction's pending counters are flushed first).
 * Returns 0 when consistent, -EUCLEAN when not, another negative errno when
 * the check itself failed. Cost: a full scan of the store. */
int ix_check(ix_txn_t *txn, char *report, size_t len);

/* ---- Labour-market aggregates (labour.c) -------------------------------
 *
 * Kept exact by every ix_put, ix_delete and ix_referral_put in the same
 * transaction, from each record's fields (ix_doc_t), never by scanning:
 *   openings    per (month of match.since, region, vacancy code):
 *               count = vacancies, sum = their match.headcount
 *   applicants  per (month of match.since, level, region, group): workers
 *               whose desired codes reach the level (a code of at least
 *               `level` bytes), once per distinct group (the code's first
 *               `level` bytes); a worker with none under the empty group
 *   registered  per (month, region, category): workers
 *   hired       per (month of hired_at, region, category) of referrals
 *               whose `hired` is set: count = hires
 *   wages       per (region, code, wage2): matchable vacancies with
 *               match.wage_max > 0; wage2 = wage_min + wage_max (twice
 *               the midpoint, so it stays an integer)
 * Months are numbered year * 12 + month - 1 (UTC). */
enum ix_agg {
    IX_AGG_OPENINGS = 'O',
    IX_AGG_APPLICANTS = 'A',
    IX_AGG_REGISTERED = 'C',
    IX_AGG_HIRED = 'H',
    IX_AGG_WAGES = 'W',
    /* The openings cells of the vacancies put with ix_doc_t.copy: the
     * part of IX_AGG_OPENINGS that copies of other nodes' vacancies make
     * up (same cells, same layout). */
    IX_AGG_COPY_OPENINGS = 'o',
};

/* The month number of a Unix time. */
int64_t ix_month_of(int64_t unix_time);

typedef struct ix_agg_cell {
    int64_t month;          /* monthly aggregates */
    char region[6];
    char code[10];          /* openings, wages: the vacancy's code;
                               applicants: the group */
    uint32_t code_len;      /* 0 = none */
    uint8_t category;       /* registered, hired */
    uint32_t wage2;         /* wages */
    uint64_t count, sum;
} ix_agg_cell_t;

/* cell is valid during the call only; non-zero stops the scan. */
typedef int (*ix_agg_cb)(void *ctx, const ix_agg_cell_t *cell);

/* Calls cb for every non-zero cell of aggregate agg whose region starts
 * with region_prefix (0..6 digits), month by month over [month_from,
 * month_to] (ignored for wages); for applicants only cells of `level`
 * (1, 4, 7 or 10). Within a month cells come in key order (region, then
 * code or category). Returns 0, a negative errno from cb, -EINVAL or
 * -EIO. */
int ix_agg_scan(ix_txn_t *txn, uint8_t agg, int64_t month_from,
                int64_t month_to, uint8_t level, const char *region_prefix,
                uint32_t prefix_len, ix_agg_cb cb, void *ctx);

/* Wage postings, sorted by (region, code, wage2, docno): for vacancies
 * (IX_VACANCY) every wages cell's vacancies at wage2 = wage_min +
 * wage_max; for workers (IX_WORKER) every matchable worker with a
 * match.wage_min > 0, at wage2 = 2 * wage_min, once per desired code
 * (code_len 0 when it has none). For each (region, code) cell within
 * region_prefix, pick chooses the postings to visit: return 0 with
 * [*lo, *hi) a range of wage2, 1 to skip the cell, negative to stop.
 * take is called per posting in the range; non-zero stops. */
typedef int (*ix_wage_pick_cb)(void *ctx, const char region[6],
                               const char *code, uint32_t code_len,
                               uint32_t *lo, uint32_t *hi);
typedef int (*ix_wage_cb)(void *ctx, uint64_t docno, const char region[6],
                          const char *code, uint32_t code_len,
                          uint32_t wage2);
int ix_wage_walk(ix_txn_t *txn, uint8_t kind, const char *region_prefix,
                 uint32_t prefix_len, ix_wage_pick_cb pick, ix_wage_cb take,
                 void *ctx);

/* ---- Referrals (referral.c) --------------------------------------------
 *
 * A referral joins a worker and a vacancy (by id, so it outlives either)
 * and carries an opaque value (the engine's encoding, with its history).
 * Numbers (refno) are handed out from 1 and never reused. Listed by
 * worker, vacancy or status through postings changed in the same
 * transaction. */
typedef struct ix_referral {
    uint64_t refno;
    uint8_t status;          /* the engine's number; indexed */
    bool hired;              /* counts in the hired aggregate */
    int64_t hired_at;        /* when hired */
    uint8_t category;        /* the worker's, for the hired aggregate */
    char region[6];          /* the worker's, for the hired aggregate */
    const char *worker;
    uint32_t worker_len;
    const char *vacancy;
    uint32_t vacancy_len;
    const void *value;
    size_t value_len;
} ix_referral_t;

/* Hands out the next referral number: numbers only grow and are never
 * reused (a transaction that aborts takes none). */
int ix_referral_reserve(ix_txn_t *txn, uint64_t *refno);

/* Inserts referral ref->refno (a number from ix_referral_reserve) or
 * replaces it, with its postings and its share of the hired aggregate.
 * Its worker and vacancy never change (-EINVAL). */
int ix_referral_put(ix_txn_t *txn, const ix_referral_t *ref);

/* Reads a referral; pointers are valid as for ix_get. -ENOENT when
 * absent. */
int ix_referral_get(ix_txn_t *txn, uint64_t refno, ix_referral_t *out);

typedef struct ix_referral_query {
    const char *worker;      /* NULL = any */
    uint32_t worker_len;
    const char *vacancy;     /* NULL = any */
    uint32_t vacancy_len;
    int status;              /* -1 = any */
    const uint8_t *cursor;   /* from a previous page, or NULL */
    size_t cursor_len;
    uint32_t limit;          /* >= 1 */
    uint32_t max_scan;       /* 0 = no bound */
} ix_referral_query_t;

typedef int (*ix_referral_cb)(void *ctx, const ix_referral_t *ref);

/* One page of referrals in refno order, scanning the postings of the
 * worker if given, else the vacancy, else the status, else every
 * referral; the other filters are checked on each. Cursor handling as for
 * ix_list (IX_CURSOR_MAX bytes; *next_len 0 = complete; -EINVAL for a
 * cursor of another filter set). */
int ix_referral_list(ix_txn_t *txn, const ix_referral_query_t *q,
                     ix_referral_cb cb, void *ctx, uint8_t *next_cursor,
                     size_t *next_len);

#endif
