/* test_upgrade.c - the daemon started on a store of format 11 (which kept
 * the matching postings of closed records), 12 (which began their values
 * with the docno), 13 (which had no names dbi, the ids by docno) or 14
 * (which did not list vacancies by priority category) upgrades it in
 * place: it says so, the store checks clean, and matching and listing
 * answer as before.
 *
 * An old store is made from a format 15 one: the vacancies' 'C' listing
 * postings go; before 14 the names dbi too; for 11
 * and 12 every matching posting loses the rank that starts its value (docs/storage.md: a skill value is rank
 * (1), docno (8), level (1), brief; a minor-group value rank (1), docno
 * (8), tail (3), brief; the brief starts with open), and for format 11 the
 * closed vacancy's postings, saved while it was open, are put back so,
 * with the open byte of their brief cleared. Then the version is set.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "index.h"
#include "wire.h"

#define SAVED_MAX 16

typedef struct saved {
    uint8_t key[128], val[64];
    size_t klen, vlen;
} saved_t;

static MDB_env *
raw_open(const char *dir, MDB_txn **txn)
{
    MDB_env *e;
    cr_assert_eq(mdb_env_create(&e), 0);
    cr_assert_eq(mdb_env_set_maxdbs(e, 16), 0);
    cr_assert_eq(mdb_env_open(e, dir, 0, 0664), 0);
    cr_assert_eq(mdb_txn_begin(e, NULL, 0, txn), 0);
    return e;
}

/* Copies the match dbi's postings (those of docno, 8 bytes, when it is
 * not NULL) into out, at most max of them; returns how many. */
static size_t
copy_postings(MDB_txn *txn, MDB_dbi match, const uint8_t *docno, saved_t *out, size_t max)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, match, &c), 0);
    size_t n = 0;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (docno && memcmp((const uint8_t *)v.mv_data + 1, docno, 8) != 0)
            continue;
        cr_assert_lt(n, max);
        cr_assert_leq(k.mv_size, sizeof out[n].key);
        cr_assert_leq(v.mv_size, sizeof out[n].val);
        memcpy(out[n].key, k.mv_data, k.mv_size);
        memcpy(out[n].val, v.mv_data, v.mv_size);
        out[n].klen = k.mv_size;
        out[n].vlen = v.mv_size;
        n++;
    }
    cr_assert_eq(rc, MDB_NOTFOUND);
    mdb_cursor_close(c);
    return n;
}

/* The matching postings of vacancy id, as stored. */
static size_t
save_postings(const char *dir, const char *id, saved_t *out)
{
    MDB_txn *txn;
    MDB_env *e = raw_open(dir, &txn);
    MDB_dbi ids, match;
    cr_assert_eq(mdb_dbi_open(txn, "ids", 0, &ids), 0);
    cr_assert_eq(mdb_dbi_open(txn, "match", 0, &match), 0);
    uint8_t idkey[64];
    idkey[0] = IX_VACANCY;
    memcpy(idkey + 1, id, strlen(id));
    MDB_val k = {1 + strlen(id), idkey}, v;
    cr_assert_eq(mdb_get(txn, ids, &k, &v), 0);
    cr_assert_eq(v.mv_size, 8);
    uint8_t docno[8];
    memcpy(docno, v.mv_data, 8);
    size_t n = copy_postings(txn, match, docno, out, SAVED_MAX);
    mdb_txn_abort(txn);
    mdb_env_close(e);
    return n;
}

/* A value of format 14 as formats 11 and 12 held it: without the rank. */
static MDB_val
unranked(const MDB_val *v)
{
    return (MDB_val){v->mv_size - 1, (uint8_t *)v->mv_data + 1};
}

/* Makes the store one of `version` (11 to 14): without the vacancies'
 * category postings, before 14 without the names dbi, and for 11 and 12
 * every matching posting without its rank, for format 11 with the saved
 * postings of a closed record; sets the version. */
static void
make_old_format(const char *dir, uint8_t version, saved_t *s, size_t n)
{
    MDB_txn *txn;
    MDB_env *e = raw_open(dir, &txn);
    MDB_dbi match, meta, names, post;
    cr_assert_eq(mdb_dbi_open(txn, "match", 0, &match), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_dbi_open(txn, "names", 0, &names), 0);
    cr_assert_eq(mdb_dbi_open(txn, "post", 0, &post), 0);
    uint8_t cat[2] = {'C', IX_VACANCY};
    MDB_val ck = {2, cat}, cv;
    MDB_cursor *cc;
    size_t n_cat = 0;
    cr_assert_eq(mdb_cursor_open(txn, post, &cc), 0);
    while (mdb_cursor_get(cc, &ck, &cv, MDB_SET_RANGE) == 0 && memcmp(ck.mv_data, cat, 2) == 0) {
        cr_assert_eq(mdb_cursor_del(cc, 0), 0);
        ck = (MDB_val){2, cat};
        n_cat++;
    }
    mdb_cursor_close(cc);
    cr_assert_eq(n_cat, 2, "v-3 listed under its two priority categories");
    if (version < 14)
        cr_assert_eq(mdb_drop(txn, names, 1), 0);
    if (version >= 13)
        n = 0;
    static saved_t all[64];
    size_t n_all = version < 13 ? copy_postings(txn, match, NULL, all, 64) : 0;
    if (version < 13)
        cr_assert_eq(mdb_drop(txn, match, 0), 0);
    for (size_t i = 0; i < n_all; i++) {
        MDB_val ak = {all[i].klen, all[i].key}, av = {all[i].vlen, all[i].val};
        MDB_val old = unranked(&av);
        cr_assert_eq(mdb_put(txn, match, &ak, &old, 0), 0);
    }
    for (size_t i = 0; i < n && version == 11; i++) {
        size_t brief = s[i].key[0] == 'K' ? 10 : 12;
        cr_assert_eq(s[i].val[brief], 1, "stored while open");
        s[i].val[brief] = 0;
        MDB_val sk = {s[i].klen, s[i].key}, sv = {s[i].vlen, s[i].val};
        MDB_val old = unranked(&sv);
        cr_assert_eq(mdb_put(txn, match, &sk, &old, MDB_NODUPDATA), 0,
                     "format 13 keeps no posting of a closed record");
    }
    MDB_val vk = {7, "version"}, vv = {1, &version};
    cr_assert_eq(mdb_put(txn, meta, &vk, &vv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(e);
}

static void
upgrade_at_start(uint8_t version)
{
    const char *const info[] = {"--log-level", "info", NULL};
    jt_daemon_t *d = jt_daemon_start_logged(NULL, info);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", "weld:3");
    jt_put_vacancy(c, "v-2", "110105", "6-05-02-03", "weld:3,cook:2");
    jt_put_worker(c, "w-1", "110105", "6-05-02-03", "weld:3,cook:2");
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", "{\"worker\": \"w-1\"}"), "v-2,v-1");
    jm_reply_t *r = jt_call_json(c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"v-3\", \"employer\": \"E\", \"title\": \"T\","
        " \"occupation\": \"2-02-01-00\", \"region\": \"120101\","
        " \"priority_categories\": [\"laid_off\", \"migrant\"]}}");
    jt_expect_ok(r, "v-3 put");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    saved_t saved[SAVED_MAX];
    size_t n = save_postings(d->dir, "v-2", saved);
    cr_assert_eq(n, 3, "two skills and the minor group 6-05-02");

    cr_assert_eq(jt_daemon_restart(d), -1);
    c = jt_connect_admin(d);
    r = jt_call_json(c, "vacancy.close", "{\"id\": \"v-2\"}");
    jt_expect_ok(r, "vacancy.close");
    jm_reply_free(r);
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", "{\"worker\": \"w-1\"}"), "v-1");
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    make_old_format(d->dir, version, saved, n);
    cr_assert_eq(jt_daemon_restart(d), -1);
    char *log = jt_daemon_log(d);
    char said[64], starting[64];
    snprintf(said, sizeof said, "store upgraded in place from format %u", version);
    snprintf(starting, sizeof starting, "store of format %u: upgrading it in place to format 15",
             version);
    const char *before = strstr(log, starting), *after = strstr(log, said);
    cr_assert(before && after && before < after, "log: %s", log);
    free(log);
    c = jt_connect_admin(d);
    jt_expect_check_clean(c, "the upgraded store");
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", "{\"worker\": \"w-1\"}"), "v-1");
    cr_assert_eq(jt_admin_count(c, "vacancies"), 3, "no record lost");
    r = jt_call_json(c, "vacancy.list", "{\"category\": \"migrant\"}");
    jt_expect_ok(r, "vacancy.list by category");
    const msgpack_object *listed = jt_need(&r->result, "vacancies");
    cr_assert_eq(listed->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(listed->via.array.size, 1, "v-3 listed again");
    cr_assert_str_eq(jt_get_str(&listed->via.array.ptr[0], "id"), "v-3");
    jm_reply_free(r);
    jm_close(c);

    /* Upgraded once: the next start says nothing of it. */
    cr_assert_eq(jt_daemon_restart(d), 0);
    log = jt_daemon_log(d);
    char *first = strstr(log, "upgraded in place");
    cr_assert(first && !strstr(first + 1, "upgraded in place"), "log: %s", log);
    free(log);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(upgrade, a_format_11_store_is_upgraded_at_start, .timeout = 60)
{
    upgrade_at_start(11);
}

Test(upgrade, a_format_12_store_is_upgraded_at_start, .timeout = 60)
{
    upgrade_at_start(12);
}

Test(upgrade, a_format_13_store_is_upgraded_at_start, .timeout = 60)
{
    upgrade_at_start(13);
}

Test(upgrade, a_format_14_store_is_upgraded_at_start, .timeout = 60)
{
    upgrade_at_start(14);
}
