/* test_store.c - workers in the store: personal fields sealed on the way
 * in and opened on the way out (engine/store.h), and the store bound to
 * its secret key. */
#define _GNU_SOURCE  /* mkdtemp, memmem */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "wire.h"

static char dir[64], data_dir[96];
static ix_env_t *ix;
static en_sealer_t *sealer;
static msgpack_zone zone;
static msgpack_sbuffer sbuf;

/* A new key file in dir and its sealer. */
static en_sealer_t *
new_sealer(const char *name)
{
    char path[160], why[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(en_seal_key_create(path, why, sizeof why), 0, "%s", why);
    en_sealer_t *s = en_sealer_load(path, data_dir, why, sizeof why);
    cr_assert_not_null(s, "%s", why);
    return s;
}

static void
setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    snprintf(dir, sizeof dir, "/tmp/jobmatch-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    cr_assert_eq(mkdir(data_dir, 0700), 0);
    ix_options_t o = {.map_size = 64u << 20, .sync = IX_SYNC_NONE};
    cr_assert_eq(ix_open(data_dir, &o, &ix), 0);
    sealer = new_sealer("key");
    msgpack_zone_init(&zone, 4096);
    msgpack_sbuffer_init(&sbuf);
}

static void
teardown(void)
{
    msgpack_sbuffer_destroy(&sbuf);
    msgpack_zone_destroy(&zone);
    en_sealer_free(sealer);
    ix_close(ix);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

/* Decodes a worker from JSON text into *w (strings in zone). */
static void
worker_from_json(const char *json, pr_worker_t *w)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_json(&sb, "%s", json);
    char *copy = msgpack_zone_malloc(&zone, sb.size);
    memcpy(copy, sb.data, sb.size);
    msgpack_object obj;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(copy, sb.size, &off, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer_destroy(&sb);
    pr_error_t err;
    cr_assert_eq(pr_worker_decode(&obj, "worker", 0, 1767225600, w, &err), 0, "%s", err.message);
}

#define ANNA "{\"id\": \"w-anna\", \"name\": \"Anna Liu\", \"national_id\": \"110105199001011234\", " \
             "\"phone\": \"13900000001\", \"birth_year\": 1990, \"region\": \"110105\"}"
#define BO "{\"id\": \"w-bo\", \"name\": \"Bo Chen\", \"birth_year\": 1985, \"region\": \"110106\"}"
#define PLAIN "{\"id\": \"w-plain\", \"birth_year\": 1980, \"region\": \"110105\"}"

static int
put(const en_sealer_t *s, const pr_worker_t *w)
{
    ix_txn_t *txn;
    cr_assert_eq(ix_write_begin(ix, &txn), 0);
    bool created;
    int rc = en_store_put_worker(txn, s, w, 1767225600, &sbuf, &created);
    if (rc == 0)
        cr_assert_eq(ix_write_commit(txn), 0);
    else
        ix_write_abort(txn);
    return rc;
}

/* The canonical encoding of w, as pr_pack_worker makes it. */
static void
canonical(const pr_worker_t *w, bool with_personal, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    pr_pack_worker(&pk, w, with_personal);
}

Test(store, personal_fields_are_sealed_in_and_opened_out)
{
    pr_worker_t anna;
    worker_from_json(ANNA, &anna);
    cr_assert_eq(put(sealer, &anna), 0);

    ix_txn_t *txn;
    cr_assert_eq(ix_read_begin(ix, &txn), 0);
    ix_record_t rec;
    cr_assert_eq(ix_get(txn, IX_WORKER, "w-anna", 6, &rec), 0);
    cr_assert_null(memmem(rec.value, rec.value_len, "Anna Liu", 8));
    cr_assert_null(memmem(rec.value, rec.value_len, "110105199001011234", 18));
    cr_assert_null(memmem(rec.value, rec.value_len, "13900000001", 11));
    cr_assert_not_null(memmem(rec.value, rec.value_len, "w-anna", 6));

    pr_worker_t w;
    cr_assert_eq(en_store_decode_worker(sealer, &rec, true, &zone, &w), 0);
    cr_assert_eq(w.name.len, 8);
    cr_assert_eq(memcmp(w.name.ptr, "Anna Liu", 8), 0);
    cr_assert_eq(memcmp(w.phone.ptr, "13900000001", 11), 0);
    cr_assert_eq(w.birth_year, 1990);
    cr_assert_eq(en_store_decode_worker(sealer, &rec, false, &zone, &w), 0);
    cr_assert_null(w.name.ptr);
    cr_assert_null(w.national_id.ptr);

    /* Packed for the wire: exactly the canonical form, with or without. */
    for (int with = 0; with < 2; with++) {
        msgpack_sbuffer got, want;
        msgpack_sbuffer_init(&got);
        msgpack_sbuffer_init(&want);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &got, msgpack_sbuffer_write);
        cr_assert_eq(en_store_pack_worker(&pk, sealer, &rec, with, &zone), 0);
        canonical(&anna, with, &want);
        cr_assert_eq(got.size, want.size, "with_personal %d", with);
        cr_assert_eq(memcmp(got.data, want.data, got.size), 0, "with_personal %d", with);
        msgpack_sbuffer_destroy(&got);
        msgpack_sbuffer_destroy(&want);
    }
    ix_read_end(txn);

    cr_assert_eq(ix_read_begin(ix, &txn), 0);
    cr_assert_eq(en_store_load_worker(txn, sealer, "w-anna", 6, &zone, &w), 0);
    cr_assert_eq(memcmp(w.national_id.ptr, "110105199001011234", 18), 0);
    cr_assert_eq(en_store_load_worker(txn, sealer, "w-none", 6, &zone, &w), -ENOENT);
    ix_read_end(txn);
}

Test(store, without_a_sealer_only_workers_without_personal_fields)
{
    pr_worker_t anna, plain, w;
    worker_from_json(ANNA, &anna);
    worker_from_json(PLAIN, &plain);
    cr_assert_eq(put(NULL, &anna), -EPERM);
    cr_assert_eq(put(NULL, &plain), 0);
    ix_txn_t *txn;
    cr_assert_eq(ix_read_begin(ix, &txn), 0);
    cr_assert_eq(en_store_load_worker(txn, NULL, "w-anna", 6, &zone, &w), -ENOENT);
    cr_assert_eq(en_store_load_worker(txn, NULL, "w-plain", 7, &zone, &w), 0);
    cr_assert_null(w.name.ptr);
    ix_read_end(txn);
}

Test(store, another_key_or_a_moved_value_does_not_open)
{
    pr_worker_t anna, bo, w;
    worker_from_json(ANNA, &anna);
    worker_from_json(BO, &bo);
    cr_assert_eq(put(sealer, &anna), 0);
    cr_assert_eq(put(sealer, &bo), 0);

    en_sealer_t *other = NULL;
    char name[16];
    for (int i = 0; !other; i++) {
        snprintf(name, sizeof name, "other%d", i);
        other = new_sealer(name);
        if (en_sealer_key_id(other) == en_sealer_key_id(sealer)) {
            en_sealer_free(other);
            other = NULL;
        }
    }
    ix_txn_t *txn;
    cr_assert_eq(ix_read_begin(ix, &txn), 0);
    cr_assert_eq(en_store_load_worker(txn, other, "w-anna", 6, &zone, &w), -ENOKEY);
    cr_assert_eq(en_store_load_worker(txn, NULL, "w-anna", 6, &zone, &w), -ENOKEY);

    ix_record_t a, b;
    cr_assert_eq(ix_get(txn, IX_WORKER, "w-anna", 6, &a), 0);
    cr_assert_eq(ix_get(txn, IX_WORKER, "w-bo", 4, &b), 0);
    /* Anna's whole value under Bo's id: refused before any key is used. */
    ix_record_t moved = b;
    moved.value = a.value;
    moved.value_len = a.value_len;
    cr_assert_eq(en_store_decode_worker(sealer, &moved, true, &zone, &w), -EIO);
    /* Bo's public map with Anna's sealed fields: the tag fails. */
    size_t off = 0;
    msgpack_object obj;
    cr_assert_eq(msgpack_unpack(b.value, b.value_len, &off, &zone, &obj),
                 MSGPACK_UNPACK_EXTRA_BYTES);
    size_t b_pub = off;
    off = 0;
    cr_assert_eq(msgpack_unpack(a.value, a.value_len, &off, &zone, &obj),
                 MSGPACK_UNPACK_EXTRA_BYTES);
    size_t a_pub = off;
    char *spliced = msgpack_zone_malloc(&zone, b_pub + a.value_len - a_pub);
    memcpy(spliced, b.value, b_pub);
    memcpy(spliced + b_pub, (const char *)a.value + a_pub, a.value_len - a_pub);
    moved = b;
    moved.value = spliced;
    moved.value_len = b_pub + a.value_len - a_pub;
    cr_assert_eq(en_store_decode_worker(sealer, &moved, true, &zone, &w), -EBADMSG);
    /* Without personal fields asked for, the public part still serves. */
    cr_assert_eq(en_store_decode_worker(sealer, &moved, false, &zone, &w), 0);
    cr_assert_eq(w.birth_year, 1985);
    ix_read_end(txn);
    en_sealer_free(other);
}

Test(store, the_store_is_bound_to_its_key)
{
    char why[600];
    cr_assert_eq(en_store_bind_key(ix, NULL, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_store_bind_key(ix, sealer, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_store_bind_key(ix, sealer, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_store_bind_key(ix, NULL, why, sizeof why), -1);
    cr_assert_not_null(strstr(why, "no secret key is configured"), "%s", why);

    en_sealer_t *other = NULL;
    char name[16], text[1024], path[160];
    for (int i = 0; !other; i++) {
        snprintf(name, sizeof name, "other%d", i);
        other = new_sealer(name);
        if (en_sealer_key_id(other) == en_sealer_key_id(sealer)) {
            en_sealer_free(other);
            other = NULL;
        }
    }
    cr_assert_eq(en_store_bind_key(ix, other, why, sizeof why), -1);
    char want[80];
    snprintf(want, sizeof want, "holds no key with id %02x", en_sealer_key_id(sealer));
    cr_assert_not_null(strstr(why, want), "%s", why);

    /* Rotation: the new key first, the old one below; the store moves to
     * the new key, after which the old one alone is refused. */
    char old_path[160], new_path[160];
    snprintf(old_path, sizeof old_path, "%s/key", dir);
    snprintf(new_path, sizeof new_path, "%s/%s", dir, name);
    size_t n = 0;
    const char *parts[] = {new_path, old_path};
    for (int i = 0; i < 2; i++) {
        FILE *part = fopen(parts[i], "r");
        cr_assert_not_null(part);
        n += fread(text + n, 1, sizeof text - 1 - n, part);
        cr_assert(feof(part), "%s did not fit", parts[i]);
        fclose(part);
    }
    text[n] = '\0';
    snprintf(path, sizeof path, "%s/both", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, 0600), 0);
    en_sealer_t *both = en_sealer_load(path, data_dir, why, sizeof why);
    cr_assert_not_null(both, "%s", why);
    cr_assert_eq(en_store_bind_key(ix, both, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_store_bind_key(ix, other, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_store_bind_key(ix, sealer, why, sizeof why), -1);
    en_sealer_free(both);
    en_sealer_free(other);
}

Test(store, a_store_too_full_for_the_binding_still_starts)
{
    char full_dir[128], why[600];
    snprintf(full_dir, sizeof full_dir, "%s/full", dir);
    cr_assert_eq(mkdir(full_dir, 0700), 0);
    ix_env_t *full;
    ix_options_t o = {.map_size = 1u << 20, .sync = IX_SYNC_NONE};
    cr_assert_eq(ix_open(full_dir, &o, &full), 0);
    /* Fill the map with meta values, then with ever smaller ones, named
     * to sort beside the binding's own entry, until not even one byte
     * fits several times over. */
    static char blob[2048];
    size_t i = 0;
    for (size_t size = sizeof blob; size >= 1; size /= 2) {
        for (int failures = 0; failures < 3;) {
            char name[24];
            snprintf(name, sizeof name, "sea%06zu", i++);
            ix_txn_t *txn;
            cr_assert_eq(ix_write_begin(full, &txn), 0);
            ix_meta_put(txn, name, blob, size);
            int rc = ix_write_commit(txn);
            cr_assert(rc == 0 || rc == -ENOSPC, "%d", rc);
            failures = rc == 0 ? 0 : failures + 1;
        }
    }
    cr_assert_eq(en_store_bind_key(full, sealer, why, sizeof why), 0, "%s", why);
    ix_txn_t *txn;
    uint8_t buf[128];
    size_t len;
    cr_assert_eq(ix_read_begin(full, &txn), 0);
    cr_assert_eq(ix_meta_get(txn, "seal", buf, sizeof buf, &len), -ENOENT);
    ix_read_end(txn);
    ix_close(full);
}
