/* test_audit.c - the audit trail in the index: entries commit or vanish
 * with their transaction, come back in time order, filter by subject,
 * actor and time, page with a cursor, keep their seq across reopen, and
 * ix_check notices a subject key without its entry. */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixaudit");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
}

TestSuite(audit, .init = setup, .fini = teardown);

static int
append(ix_txn_t *t, int64_t time, const char *actor, const char *op, const char *subject)
{
    ix_audit_t e = {
        .time = time,
        .actor = actor, .actor_len = (uint32_t)strlen(actor),
        .role = "counselor", .role_len = 9,
        .op = op, .op_len = (uint32_t)strlen(op),
        .kind = IX_WORKER,
        .subject = subject, .subject_len = (uint32_t)strlen(subject),
    };
    int rc = ix_audit_append(t, &e);
    return rc ? rc : (int)e.seq;
}

/* What a listing returned, as "seq:time:actor:op:subject" lines. */
typedef struct seen {
    char text[4096];
    unsigned n;
} seen_t;

static int
collect(void *ctx, const ix_audit_t *e)
{
    seen_t *s = ctx;
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used, "%llu:%lld:%.*s:%.*s:%.*s:%.*s\n",
             (unsigned long long)e->seq, (long long)e->time, (int)e->actor_len, e->actor,
             (int)e->role_len, e->role, (int)e->op_len, e->op, (int)e->subject_len,
             e->subject);
    s->n++;
    return 0;
}

static ix_audit_query_t
everything(void)
{
    return (ix_audit_query_t){.kind = IX_WORKER, .since = INT64_MIN, .until = INT64_MAX,
                              .limit = 1000};
}

static int
list(const ix_audit_query_t *q, seen_t *s, uint8_t *next, size_t *next_len)
{
    memset(s, 0, sizeof *s);
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    int rc = ix_audit_list(t, q, collect, s, next, next_len);
    ix_read_end(t);
    return rc;
}

/* Six entries over three times, two actors, three workers. */
static void
fill(void)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(append(t, 200, "desk-1", "worker.get", "w1"), 1);
    cr_assert_eq(append(t, 100, "desk-2", "worker.put", "w2"), 2);
    cr_assert_eq(append(t, 200, "desk-2", "worker.get", "w1"), 3);
    cr_assert_eq(append(t, 300, "", "worker.list", "w3"), 4);
    cr_assert_eq(append(t, -5, "desk-1", "worker.delete", "w10"), 5);
    cr_assert_eq(append(t, 300, "desk-1", "match.workers", "w1"), 6);
    cr_assert_eq(ix_write_commit(t), 0);
}

Test(audit, time_order_and_filters)
{
    fill();
    seen_t s;
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len = 99;
    ix_audit_query_t q = everything();
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(next_len, 0);
    cr_assert_str_eq(s.text,
                     "5:-5:desk-1:counselor:worker.delete:w10\n"
                     "2:100:desk-2:counselor:worker.put:w2\n"
                     "1:200:desk-1:counselor:worker.get:w1\n"
                     "3:200:desk-2:counselor:worker.get:w1\n"
                     "4:300::counselor:worker.list:w3\n"
                     "6:300:desk-1:counselor:match.workers:w1\n");

    /* One worker: its entries only (w1, not w10 whose id extends it). */
    q.subject = "w1";
    q.subject_len = 2;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text,
                     "1:200:desk-1:counselor:worker.get:w1\n"
                     "3:200:desk-2:counselor:worker.get:w1\n"
                     "6:300:desk-1:counselor:match.workers:w1\n");
    /* And one actor on top. */
    q.actor = "desk-1";
    q.actor_len = 6;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text,
                     "1:200:desk-1:counselor:worker.get:w1\n"
                     "6:300:desk-1:counselor:match.workers:w1\n");
    /* The anonymous actor is the empty name. */
    q = everything();
    q.actor = "";
    q.actor_len = 0;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text, "4:300::counselor:worker.list:w3\n");
    /* Time, both ends inclusive. */
    q = everything();
    q.since = 100;
    q.until = 200;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.text,
                     "2:100:desk-2:counselor:worker.put:w2\n"
                     "1:200:desk-1:counselor:worker.get:w1\n"
                     "3:200:desk-2:counselor:worker.get:w1\n");
    q.subject = "w1";
    q.subject_len = 2;
    q.since = 201;
    q.until = 300;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text, "6:300:desk-1:counselor:match.workers:w1\n");
    q.since = 301;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(next_len, 0);
}

Test(audit, pages_resume_after_the_cursor)
{
    fill();
    for (unsigned limit = 1; limit <= 4; limit++) {
        for (int by_subject = 0; by_subject < 2; by_subject++) {
            ix_audit_query_t q = everything();
            if (by_subject) {
                q.subject = "w1";
                q.subject_len = 2;
            }
            q.limit = limit;
            char all[4096] = "";
            uint8_t cur[IX_AUDIT_CURSOR_LEN];
            size_t cur_len = 0;
            unsigned pages = 0;
            seen_t s;
            do {
                q.cursor = cur_len ? cur : NULL;
                q.cursor_len = cur_len;
                uint8_t next[IX_AUDIT_CURSOR_LEN];
                cr_assert_eq(list(&q, &s, next, &cur_len), 0);
                cr_assert_leq(s.n, limit);
                memcpy(cur, next, sizeof cur);
                strcat(all, s.text);
                pages++;
                cr_assert_lt(pages, 10);
            } while (cur_len);
            ix_audit_query_t whole = everything();
            if (by_subject) {
                whole.subject = "w1";
                whole.subject_len = 2;
            }
            uint8_t next[IX_AUDIT_CURSOR_LEN];
            size_t next_len;
            cr_assert_eq(list(&whole, &s, next, &next_len), 0);
            cr_assert_str_eq(all, s.text, "limit %u, by subject %d", limit, by_subject);
        }
    }
    /* max_scan ends a page early with a cursor, even with nothing found. */
    ix_audit_query_t q = everything();
    q.actor = "nobody";
    q.actor_len = 6;
    q.max_scan = 2;
    seen_t s;
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(next_len, IX_AUDIT_CURSOR_LEN);
    /* A cursor of the wrong length is refused. */
    q.cursor = next;
    q.cursor_len = 3;
    cr_assert_eq(list(&q, &s, next, &next_len), -EINVAL);
}

Test(audit, entries_go_with_their_transaction_and_seq_survives_reopen)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(append(t, 10, "a", "worker.put", "w1"), 1);
    ix_write_abort(t);
    seen_t s;
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len;
    ix_audit_query_t q = everything();
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 0, "an aborted entry was kept");

    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(append(t, 10, "a", "worker.put", "w1"), 1);
    cr_assert_eq(append(t, 11, "a", "worker.put", "w2"), 2);
    cr_assert_eq(ix_write_commit(t), 0);
    ix_close(env);
    env = jt_scratch_open(dir);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(append(t, 12, "a", "worker.get", "w1"), 3);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 3);
    ix_stats_t st;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    char rep[256];
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    ix_read_end(t);
    cr_assert_eq(st.audit_seq, 3);
}

Test(audit, refuses_bad_entries)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    char long_name[IX_AUDIT_STR_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(append(t, 1, long_name, "worker.get", "w1"), -EINVAL);
    cr_assert_eq(append(t, 1, "a", "", "w1"), -EINVAL);
    cr_assert_eq(append(t, 1, "a", "worker.get", ""), -EINVAL);
    /* The transaction is still usable. */
    cr_assert_eq(append(t, 1, "a", "worker.get", "w1"), 1);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_audit_append(t, &(ix_audit_t){0}), -EINVAL, "append in a read txn");
    ix_read_end(t);
}

/* 'T' entries sort after the 'S' subject keys: drops the last entry. */
static void
drop_last_entry(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    (void)ctx;
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_LAST), 0);
    cr_assert_eq(((const char *)k.mv_data)[0], 'T');
    cr_assert_eq(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
}

Test(audit, check_finds_a_subject_key_without_its_entry)
{
    fill();
    jt_scratch_raw_edit(&env, dir, "audit", drop_last_entry, NULL);
    ix_txn_t *t;
    char rep[512];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    int rc = ix_check(t, rep, sizeof rep);
    ix_read_end(t);
    cr_assert_eq(rc, -EUCLEAN);
    cr_assert_not_null(strstr(rep, "audit"), "%s", rep);
}

/* The oldest entry (seq 5, at time -5) gets a subject of 100 bytes, more
 * than an id may have, written as a well-formed string of the value. */
static void
lengthen_subject(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    (void)ctx;
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    uint8_t first = 'T';
    k = (MDB_val){1, &first};
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), 0);
    /* kind, then role, op, actor and subject, each a length and bytes. */
    uint8_t val[256];
    size_t off = 1;
    memcpy(val, v.mv_data, v.mv_size);
    for (int i = 0; i < 3; i++)
        off += 1 + val[off];
    cr_assert_eq(val[off], 3, "the subject w10");
    val[off] = 100;
    memset(val + off + 1, 'x', 100);
    MDB_val nv = {off + 101, val};
    cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
}

Test(audit, an_entry_whose_subject_is_too_long_is_malformed)
{
    /* The subject key is rebuilt from a decoded entry when the entry is
     * pruned or checked: a subject longer than an id would not fit. */
    fill();
    jt_scratch_raw_edit(&env, dir, "audit", lengthen_subject, NULL);
    ix_txn_t *t;
    char rep[512];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_check(t, rep, sizeof rep), -EUCLEAN);
    ix_read_end(t);
    cr_assert_not_null(strstr(rep, "entry 5"), "%s", rep);
    uint32_t removed = 99;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_audit_prune(t, 1000, 10, &removed), -EIO);
    ix_write_abort(t);
}

/* Subject keys are grouped in blocks of 16,384 seqs: a record's entries in
 * several blocks come back complete and in order, page by page, blocks
 * without any entry of its kind are skipped, and time bounds apply in
 * every block. */
#define SEQS_PER_BLOCK 16384u

Test(audit, a_record_spread_over_blocks_of_seqs)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    uint32_t total = 2 * SEQS_PER_BLOCK + 500;
    for (uint32_t seq = 1; seq <= total; seq++) {
        /* The second block holds only vacancies; w1 gets every 3,001st. */
        bool second = seq >= SEQS_PER_BLOCK && seq < 2 * SEQS_PER_BLOCK;
        const char *subject = second ? "v1" : seq % 3001 == 0 ? "w1" : "w2";
        ix_audit_t e = {
            .time = 1000 + seq / 100,
            .actor = "desk", .actor_len = 4,
            .role = "counselor", .role_len = 9,
            .op = "worker.get", .op_len = 10,
            .kind = second ? IX_VACANCY : IX_WORKER,
            .subject = subject, .subject_len = 2,
        };
        cr_assert_eq(ix_audit_append(t, &e), 0);
        cr_assert_eq(e.seq, seq);
    }
    cr_assert_eq(ix_write_commit(t), 0);

    char want[4096] = "";
    unsigned want_n = 0;
    for (uint32_t seq = 3001; seq <= total; seq += 3001) {
        if (seq >= SEQS_PER_BLOCK && seq < 2 * SEQS_PER_BLOCK)
            continue;
        size_t used = strlen(want);
        snprintf(want + used, sizeof want - used, "%u:%u:desk:counselor:worker.get:w1\n",
                 seq, 1000 + seq / 100);
        want_n++;
    }
    cr_assert_eq(want_n, 6, "entries of w1 in the first and third blocks");

    ix_audit_query_t q = everything();
    q.subject = "w1";
    q.subject_len = 2;
    seen_t s;
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text, want);
    cr_assert_eq(next_len, 0);

    /* Page by page, two at a time: the same entries, each once. */
    char all[4096] = "";
    uint8_t cur[IX_AUDIT_CURSOR_LEN];
    size_t cur_len = 0;
    unsigned pages = 0;
    q.limit = 2;
    do {
        q.cursor = cur_len ? cur : NULL;
        q.cursor_len = cur_len;
        cr_assert_eq(list(&q, &s, next, &cur_len), 0);
        memcpy(cur, next, sizeof cur);
        strcat(all, s.text);
        cr_assert_lt(++pages, 10);
    } while (cur_len);
    cr_assert_str_eq(all, want);
    cr_assert_eq(pages, 3);

    /* A time range that starts in the first block and ends in the third. */
    q = everything();
    q.subject = "w1";
    q.subject_len = 2;
    q.since = 1000 + 12004 / 100;
    q.until = 1000 + 33011 / 100;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text, "12004:1120:desk:counselor:worker.get:w1\n"
                             "15005:1150:desk:counselor:worker.get:w1\n"
                             "33011:1330:desk:counselor:worker.get:w1\n");

    /* The vacancy's entries are all in the second block. */
    q = everything();
    q.kind = IX_VACANCY;
    q.subject = "v1";
    q.subject_len = 2;
    q.limit = 1000;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 1000);
    cr_assert_eq(strncmp(s.text, "16384:", 6), 0, "%.40s", s.text);
    cr_assert_eq(next_len, IX_AUDIT_CURSOR_LEN);

    cr_assert_eq(ix_read_begin(env, &t), 0);
    char rep[256];
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    ix_read_end(t);
}

/* Pruning removes the oldest entries, before a time and at most a given
 * number, each with its subject key, and leaves a trail that checks. */
Test(audit, prune_removes_the_oldest_with_their_subject_keys)
{
    fill();
    ix_txn_t *t;
    uint32_t removed = 99;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_audit_prune(t, 200, 10, &removed), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(removed, 2, "the entries at -5 and 100");
    seen_t s;
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len;
    ix_audit_query_t q = everything();
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text,
                     "1:200:desk-1:counselor:worker.get:w1\n"
                     "3:200:desk-2:counselor:worker.get:w1\n"
                     "4:300::counselor:worker.list:w3\n"
                     "6:300:desk-1:counselor:match.workers:w1\n");
    q.subject = "w2";
    q.subject_len = 2;
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_eq(s.n, 0, "w2's subject key outlived its entry");

    /* At most `max` at a time, oldest first. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_audit_prune(t, 301, 3, &removed), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(removed, 3);
    q = everything();
    cr_assert_eq(list(&q, &s, next, &next_len), 0);
    cr_assert_str_eq(s.text, "6:300:desk-1:counselor:match.workers:w1\n");
    char rep[256];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    cr_assert_eq(ix_audit_prune(t, 301, 3, &removed), -EINVAL, "prune in a read txn");
    ix_read_end(t);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_audit_prune(t, 301, 3, &removed), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(removed, 1);
    /* Seqs go on from where they were. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(append(t, 400, "a", "worker.get", "w1"), 7);
    cr_assert_eq(ix_write_commit(t), 0);
}
