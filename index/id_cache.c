/* id_cache.c - a copy in memory of the names dbi (each record's id by its
 * docno), which matching reads for its results' ids instead of a B-tree
 * descent each (docs/storage.md, "The id cache").
 *
 * A docno names one record for good: it is given once (the next of a
 * counter) and a record keeps it until deleted, so a copied name never
 * goes stale but by that deletion. Three paths fill and empty it:
 *   - a thread started at open copies the names the store holds, in read
 *     transactions of FILL_BATCH entries, and ends;
 *   - the writer notes the name of each record it creates and publishes
 *     them when its transaction commits (an aborted transaction's docnos
 *     are given again by the next one, to other records);
 *   - the writer marks a deleted record's docno forgotten: a reader whose
 *     snapshot still holds the record then finds its name in LMDB, and
 *     the copying thread, whose snapshot may be older, cannot put it back.
 * A docno it has no name for is looked up in LMDB, so the copy may stop
 * anywhere (its memory full, or the thread not done) and answers stay
 * right. A transaction reads a slot only for docnos below the mark
 * `below` had when it began (ix_id_cache_below): the docnos committed
 * before its snapshot; a later one, or one an aborted transaction gave and
 * a later commit gave again, is read from LMDB within the snapshot.
 * A deleted record's slot is marked before the delete commits; a reader
 * whose snapshot holds the delete began after LMDB published the commit,
 * which on the x86-64 order of stores also makes the mark visible to it.
 * One process writes the store (the daemon): another's deletes would not
 * reach this copy.
 *
 * Slots hold an offset into one arena, reserved whole at open (pages are
 * taken as it fills) so that it never moves: a reader loads a slot
 * (acquire) and reads the bytes written before the slot was stored
 * (release), without a lock. The arena and the chunks of slots are
 * written under `lock` by the copying thread and the writer. */
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

#define CHUNK_BITS 16
#define CHUNK_SLOTS (1u << CHUNK_BITS)
#define CHUNKS (1u << 16)  /* docnos below 2^32 are kept */
#define SLOT_UNKNOWN 0u
#define SLOT_FORGOTTEN UINT32_MAX
/* Names copied per read transaction: a few milliseconds, so that a map
 * resize or a memory release waiting for map_lock is not held up. */
#define FILL_BATCH 16384

typedef struct noted {
    uint64_t docno;
    uint8_t kind;
    uint8_t len;
    char id[IX_ID_MAX];
} noted_t;

struct ix_id_cache {
    /* Slot of docno d of kind k: chunks[k][d >> CHUNK_BITS][d & mask],
     * SLOT_UNKNOWN, SLOT_FORGOTTEN or 1 + the offset of its name in the
     * arena (a length byte, then the id). */
    _Atomic uint32_t *_Atomic chunks[2][CHUNKS];
    uint8_t *arena;
    size_t arena_size;
    atomic_size_t used;           /* arena bytes taken; stored under lock */
    atomic_size_t ids;            /* slots holding a name */
    pthread_mutex_t lock;
    /* The writer's names of the transaction under way. */
    noted_t *noted;
    size_t n_noted, cap_noted;
    /* Docnos below these (per kind) were committed: the counters at
     * open, then each commit's published docnos. */
    _Atomic uint64_t below[2];
    pthread_t filler;
    bool filler_started;
    atomic_bool stop;
    atomic_bool broken;           /* a delete could not be marked: unused */
};

/* The slot of (kind, docno), making its chunk when `make`; NULL when
 * docno is beyond what is kept or the chunk is absent (or cannot be
 * made). Under lock when `make`. */
static _Atomic uint32_t *
slot_of(ix_id_cache_t *c, uint8_t kind, uint64_t docno, bool make)
{
    int k = ix_kind_index(kind);
    if (k < 0 || docno >= (uint64_t)CHUNKS << CHUNK_BITS)
        return NULL;
    _Atomic uint32_t *chunk = atomic_load_explicit(&c->chunks[k][docno >> CHUNK_BITS],
                                                   memory_order_acquire);
    if (!chunk && make) {
        chunk = calloc(CHUNK_SLOTS, sizeof *chunk);
        if (!chunk)
            return NULL;
        atomic_store_explicit(&c->chunks[k][docno >> CHUNK_BITS], chunk,
                              memory_order_release);
    }
    return chunk ? &chunk[docno & (CHUNK_SLOTS - 1)] : NULL;
}

/* The name (a length byte, then the id) a slot's value points to; NULL
 * when it holds none. */
static const uint8_t *
name_at(const ix_id_cache_t *c, uint32_t v)
{
    return v == SLOT_UNKNOWN || v == SLOT_FORGOTTEN ? NULL : c->arena + (v - 1);
}

/* Copies a name into the arena and stores its slot unless the slot is
 * already set (forgotten, or copied by the other path). Under lock.
 * False when the arena is full. */
static bool
keep_name(ix_id_cache_t *c, uint8_t kind, uint64_t docno, const char *id, uint32_t len)
{
    if (len == 0 || len > IX_ID_MAX)
        return true;
    size_t used = atomic_load_explicit(&c->used, memory_order_relaxed);
    if (used + 1 + len > c->arena_size)
        return false;
    _Atomic uint32_t *slot = slot_of(c, kind, docno, true);
    if (!slot || atomic_load_explicit(slot, memory_order_relaxed) != SLOT_UNKNOWN)
        return true;
    uint8_t *p = c->arena + used;
    p[0] = (uint8_t)len;
    memcpy(p + 1, id, len);
    atomic_store_explicit(slot, (uint32_t)(used + 1), memory_order_release);
    atomic_store_explicit(&c->used, used + 1 + len, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->ids, 1, memory_order_relaxed);
    return true;
}

/* One read transaction's worth of names from `from` (a names key) on;
 * moves `from` past them. Returns 1 when there are more, 0 at the end or
 * when the arena is full, a negative errno on failure. */
static int
fill_batch(ix_env_t *e, uint8_t *from, size_t *from_len)
{
    ix_id_cache_t *c = e->id_cache;
    ix_txn_t *t;
    int rc = ix_read_begin(e, &t);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(t->txn, e->names, &cur)) != 0) {
        ix_read_end(t);
        return ix_mdb_err(rc);
    }
    MDB_val k = {*from_len, from}, v;
    int more = 1;
    pthread_mutex_lock(&c->lock);
    rc = mdb_cursor_get(cur, &k, &v, *from_len ? MDB_SET_RANGE : MDB_FIRST);
    for (unsigned n = 0; rc == 0 && n < FILL_BATCH; n++) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size == IXK_DOC_LEN &&
            !keep_name(c, kb[0], ixk_get_be64(kb + 1), v.mv_data, (uint32_t)v.mv_size)) {
            more = 0;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == MDB_NOTFOUND) {
        more = 0;
    } else if (rc != 0) {
        more = ix_mdb_err(rc);
    } else if (more && k.mv_size <= IXK_DOC_LEN) {
        /* The next transaction starts at the key not yet copied. */
        memcpy(from, k.mv_data, k.mv_size);
        *from_len = k.mv_size;
    }
    mdb_cursor_close(cur);
    ix_read_end(t);
    return more;
}

/* The copying thread: batch after batch to the end (or until the arena is
 * full), trying a batch again a while later when it fails (the reader
 * table full, a resize under way). */
static void *
fill(void *arg)
{
    ix_env_t *e = arg;
    ix_id_cache_t *c = e->id_cache;
    uint8_t from[IXK_DOC_LEN];
    size_t from_len = 0;
    for (int failures = 0; failures < 100 && !atomic_load(&c->stop) &&
                           !atomic_load(&c->broken);) {
        int more = fill_batch(e, from, &from_len);
        if (more == 0)
            break;
        if (more < 0) {
            failures++;
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        }
    }
    return NULL;
}

/* The docno counters as committed: every docno below them was. */
static int
read_counters(ix_env_t *e, uint64_t below[2])
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return ix_mdb_err(rc);
    for (int k = 0; k < 2 && rc == 0; k++) {
        uint8_t kb[IXK_MAX];
        MDB_val key = {ixk_meta_docno(kb, k == 0 ? IX_VACANCY : IX_WORKER), kb}, v;
        below[k] = 0;
        rc = mdb_get(txn, e->meta, &key, &v);
        if (rc == 0 && v.mv_size == 8)
            below[k] = ixk_get_be64(v.mv_data);
        else if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    mdb_txn_abort(txn);
    return ix_mdb_err(rc);
}

int
ix_id_cache_open(ix_env_t *e, size_t bytes)
{
    if (bytes == 0)
        return 0;
    if (bytes > UINT32_MAX - 1)
        bytes = UINT32_MAX - 1;
    uint64_t below[2];
    int rc = read_counters(e, below);
    if (rc != 0)
        return rc;
    ix_id_cache_t *c = calloc(1, sizeof *c);
    /* Reserved, not committed: only the pages names are copied into. The
     * cache is optional: without the memory, there is none. */
    void *arena = c ? mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                    : MAP_FAILED;
    if (arena == MAP_FAILED) {
        free(c);
        return 0;
    }
    c->arena = arena;
    c->arena_size = bytes;
    c->below[0] = below[0];
    c->below[1] = below[1];
    pthread_mutex_init(&c->lock, NULL);
    e->id_cache = c;
    if (pthread_create(&c->filler, NULL, fill, e) == 0)
        c->filler_started = true;
    return 0;
}

void
ix_id_cache_close(ix_env_t *e)
{
    ix_id_cache_t *c = e->id_cache;
    if (!c)
        return;
    atomic_store(&c->stop, true);
    if (c->filler_started)
        pthread_join(c->filler, NULL);
    for (int k = 0; k < 2; k++)
        for (unsigned i = 0; i < CHUNKS; i++)
            free((void *)atomic_load(&c->chunks[k][i]));
    munmap(c->arena, c->arena_size);
    pthread_mutex_destroy(&c->lock);
    free(c->noted);
    free(c);
    e->id_cache = NULL;
}

void
ix_id_cache_below(const ix_id_cache_t *c, uint64_t below[2])
{
    for (int k = 0; k < 2; k++)
        below[k] = c && !atomic_load_explicit(&c->broken, memory_order_relaxed)
                       ? atomic_load_explicit(&c->below[k], memory_order_acquire)
                       : 0;
}

bool
ix_id_cache_get(ix_id_cache_t *c, uint8_t kind, uint64_t docno, const char **id,
                uint32_t *len)
{
    if (!c)
        return false;
    _Atomic uint32_t *slot = slot_of(c, kind, docno, false);
    const uint8_t *p =
        name_at(c, slot ? atomic_load_explicit(slot, memory_order_acquire) : SLOT_UNKNOWN);
    if (!p)
        return false;
    *len = p[0];
    *id = (const char *)p + 1;
    return true;
}

void
ix_id_cache_warm(ix_id_cache_t *c, uint8_t kind, const uint64_t *docnos, uint32_t n)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < n; i++) {
        _Atomic uint32_t *slot = slot_of(c, kind, docnos[i], false);
        if (slot)
            __builtin_prefetch((const void *)slot);
    }
    for (uint32_t i = 0; i < n; i++) {
        _Atomic uint32_t *slot = slot_of(c, kind, docnos[i], false);
        const uint8_t *p =
            name_at(c, slot ? atomic_load_explicit(slot, memory_order_relaxed) : SLOT_UNKNOWN);
        if (p)
            __builtin_prefetch(p);
    }
}

void
ix_id_cache_note(ix_id_cache_t *c, uint8_t kind, uint64_t docno, const char *id,
                 uint32_t len)
{
    if (!c || len == 0 || len > IX_ID_MAX)
        return;
    if (c->n_noted == c->cap_noted) {
        /* Out of memory, the name is not kept: LMDB answers for it. */
        size_t cap = c->cap_noted ? c->cap_noted * 2 : 256;
        noted_t *n = realloc(c->noted, cap * sizeof *n);
        if (!n)
            return;
        c->noted = n;
        c->cap_noted = cap;
    }
    noted_t *n = &c->noted[c->n_noted++];
    n->docno = docno;
    n->kind = kind;
    n->len = (uint8_t)len;
    memcpy(n->id, id, len);
}

void
ix_id_cache_publish(ix_id_cache_t *c)
{
    if (!c || c->n_noted == 0)
        return;
    uint64_t below[2] = {0, 0};
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_noted; i++) {
        const noted_t *n = &c->noted[i];
        int k = ix_kind_index(n->kind);
        if (k >= 0 && n->docno + 1 > below[k])
            below[k] = n->docno + 1;
        if (!keep_name(c, n->kind, n->docno, n->id, n->len))
            break;
    }
    pthread_mutex_unlock(&c->lock);
    /* After the slots: a transaction that sees the new mark sees them. */
    for (int k = 0; k < 2; k++)
        if (below[k] > atomic_load_explicit(&c->below[k], memory_order_relaxed))
            atomic_store_explicit(&c->below[k], below[k], memory_order_release);
    c->n_noted = 0;
}

void
ix_id_cache_discard(ix_id_cache_t *c)
{
    if (c)
        c->n_noted = 0;
}

void
ix_id_cache_forget(ix_id_cache_t *c, uint8_t kind, uint64_t docno)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    _Atomic uint32_t *slot = slot_of(c, kind, docno, true);
    if (slot) {
        if (name_at(c, atomic_exchange(slot, SLOT_FORGOTTEN)))
            atomic_fetch_sub_explicit(&c->ids, 1, memory_order_relaxed);
    } else if (docno < (uint64_t)CHUNKS << CHUNK_BITS) {
        /* Out of memory for the chunk: the copying thread could put the
         * name back, so the cache goes out of use. */
        atomic_store(&c->broken, true);
    }
    pthread_mutex_unlock(&c->lock);
}

void
ix_id_cache_usage(const ix_id_cache_t *c, uint64_t *ids, uint64_t *bytes)
{
    *ids = c ? atomic_load_explicit(&c->ids, memory_order_relaxed) : 0;
    *bytes = c ? atomic_load_explicit(&c->used, memory_order_relaxed) : 0;
}
