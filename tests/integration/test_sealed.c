/* test_sealed.c - personal fields sealed at rest, through a live daemon:
 * planted values never reach data.mdb or a compacted backup (admin.backup;
 * after puts, replaces and deletes), they round-trip through the wire, a wrong or
 * missing key stops the start-up, and an altered or moved ciphertext is
 * detected. Referral notes are sealed the same way. */
#define _GNU_SOURCE  /* memmem */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "files.h"
#include "index.h"
#include "jobmatch.h"
#include "referral.h"
#include "seal.h"
#include "wire.h"

#define COUNSELOR_INI "[keys]\nfront-desk = counselor:counselor-secret-1\n"
#define COUNSELOR_KEY "counselor-secret-1"

/* ---- helpers ------------------------------------------------------------ */

typedef struct person {
    const char *id, *name, *national_id, *phone;
} person_t;

static void
put_person(jm_client_t *c, const person_t *p)
{
    jm_reply_t *r = jt_call_json(c, "worker.put",
                                 "{\"worker\": {\"id\": \"%s\", \"name\": \"%s\", "
                                 "\"national_id\": \"%s\", \"phone\": \"%s\", "
                                 "\"birth_year\": 1985, \"region\": \"110105\", "
                                 "\"skills\": [{\"id\": \"lathe\", \"level\": 4}], "
                                 "\"desired_occupations\": [\"6-18\"]}}",
                                 p->id, p->name, p->national_id, p->phone);
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
}

/* The worker map as c sees it; caller frees the reply. */
static jm_reply_t *
get_worker(jm_client_t *c, const char *id)
{
    jm_reply_t *r = jt_call_json(c, "worker.get", "{\"id\": \"%s\"}", id);
    jt_expect_ok(r, id);
    return r;
}

static void
expect_person(jm_client_t *c, const person_t *p)
{
    jm_reply_t *r = get_worker(c, p->id);
    const msgpack_object *w = jt_need(&r->result, "worker");
    cr_assert_str_eq(jt_get_str(w, "id"), p->id);
    cr_assert_str_eq(jt_get_str(w, "name"), p->name);
    cr_assert_str_eq(jt_get_str(w, "national_id"), p->national_id);
    cr_assert_str_eq(jt_get_str(w, "phone"), p->phone);
    cr_assert_eq(jt_get_int(w, "birth_year"), 1985);
    jm_reply_free(r);
}

static unsigned
occurrences_str(const char *path, const char *s)
{
    return jt_count_in_file(path, s, strlen(s));
}

/* Makes a backup of d's store with admin.backup (a compacted hot copy:
 * live pages only) in DIR.backup; returns its data.mdb path in out. */
static void
backup(const jt_daemon_t *d, jm_client_t *c, char *out, size_t len)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s.backup", d->dir);
    jm_reply_t *r = jt_call_json(c, "admin.backup", "{\"path\": \"%s\"}", dir);
    jt_expect_ok(r, "admin.backup");
    jm_reply_free(r);
    snprintf(out, len, "%s/data.mdb", dir);
}

static void
remove_backup(const jt_daemon_t *d)
{
    char path[600];
    snprintf(path, sizeof path, "%s.backup/data.mdb", d->dir);
    cr_assert_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s.backup", d->dir);
    cr_assert_eq(rmdir(path), 0);
}

/* The sealed bytes of a stored worker (the bin after its public map), read
 * with the index from the stopped daemon's directory. */
static size_t
sealed_of(const char *dir, const char *id, uint8_t *out, size_t cap)
{
    ix_env_t *ix;
    ix_options_t o = {.map_size = 64u << 20};
    cr_assert_eq(ix_open(dir, &o, &ix), 0);
    ix_txn_t *txn;
    cr_assert_eq(ix_read_begin(ix, &txn), 0);
    ix_record_t rec;
    cr_assert_eq(ix_get(txn, IX_WORKER, id, (uint32_t)strlen(id), &rec), 0);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object pub, bin;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(rec.value, rec.value_len, &off, &zone, &pub),
                 MSGPACK_UNPACK_EXTRA_BYTES, "worker %s has no sealed part", id);
    cr_assert_null(jt_get(&pub, "name"), "the public map holds the name");
    cr_assert_eq(msgpack_unpack(rec.value, rec.value_len, &off, &zone, &bin),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(bin.type, MSGPACK_OBJECT_BIN);
    size_t len = bin.via.bin.size;
    cr_assert_leq(len, cap);
    memcpy(out, bin.via.bin.ptr, len);
    msgpack_zone_destroy(&zone);
    ix_read_end(txn);
    ix_close(ix);
    return len;
}

/* Replaces every occurrence of from (len bytes) in the file with to;
 * returns how many there were. */
static unsigned
rewrite_file(const char *path, const uint8_t *from, const uint8_t *to, size_t len)
{
    size_t size;
    char *buf = jt_read_file(path, &size);
    unsigned n = 0;
    for (char *p = buf, *end = buf + size;
         (p = memmem(p, (size_t)(end - p), from, len)) != NULL; p += len) {
        memcpy(p, to, len);
        n++;
    }
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, size, f), size);
    cr_assert_eq(fclose(f), 0);
    free(buf);
    return n;
}

static void
data_path(const jt_daemon_t *d, char *out, size_t len)
{
    snprintf(out, len, "%s/data.mdb", d->dir);
}

/* The id of the first key in d's key file. */
static uint8_t
key_id_of(const jt_daemon_t *d)
{
    char why[600];
    en_sealer_t *s = en_sealer_load(d->key_file, d->dir, why, sizeof why);
    cr_assert_not_null(s, "%s", why);
    uint8_t id = en_sealer_key_id(s);
    en_sealer_free(s);
    return id;
}

/* Writes a fresh key to d's key file (replacing the one it had), one
 * whose id differs from the old key's, so the two can share a file. */
static void
replace_key(const jt_daemon_t *d)
{
    char why[600];
    uint8_t old = key_id_of(d);
    do {
        cr_assert_eq(unlink(d->key_file), 0);
        cr_assert_eq(en_seal_key_create(d->key_file, why, sizeof why), 0, "%s", why);
    } while (key_id_of(d) == old);
}

/* ---- planted values ----------------------------------------------------- */

static const person_t ANNA = {"w-anna", "Planted Anna Liu", "110105PLANTED0011", "139PLANTED01"};
static const person_t BO = {"w-bo", "Planted Bo Chen", "110105PLANTED0022", "139PLANTED02"};
static const person_t BO2 = {"w-bo", "Replaced Bo Chen", "110105REPLACED022", "139REPLACED2"};
static const person_t CAI = {"w-cai", "Deleted Cai Wang", "110105DELETED0033", "139DELETED03"};

static void
expect_no_personal(const char *path, const person_t *const *people, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v[] = {people[i]->name, people[i]->national_id, people[i]->phone};
        for (int k = 0; k < 3; k++)
            cr_assert_eq(occurrences_str(path, v[k]), 0, "%s holds \"%s\" in clear", path,
                         v[k]);
    }
}

Test(sealed, planted_values_never_reach_data_mdb_or_a_backup)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_person(c, &ANNA);
    put_person(c, &BO);
    put_person(c, &CAI);
    /* Bulk loading seals too. */
    jm_reply_t *r = jt_call_json(c, "worker.put_many",
                                 "{\"workers\": [{\"id\": \"w-dan\", \"name\": \"Planted Dan Wu\", "
                                 "\"phone\": \"139PLANTED04\", \"birth_year\": 1990, "
                                 "\"region\": \"110105\"}]}");
    jt_expect_ok(r, "worker.put_many");
    jm_reply_free(r);
    /* A vacancy's employer is no personal field: it shows in clear, which
     * proves the search below would find a planted value if it were there. */
    r = jt_call_json(c, "vacancy.put",
                     "{\"vacancy\": {\"id\": \"v-1\", \"employer\": \"Planted Employer Co\", "
                     "\"title\": \"Turner\", \"occupation\": \"6-18-01-01\", "
                     "\"region\": \"110105\", \"skills\": []}}");
    jt_expect_ok(r, "vacancy.put");
    jm_reply_free(r);
    /* Replace one (its old sealed value is freed, maybe left in a free
     * page) and delete another. */
    put_person(c, &BO2);
    r = jt_call_json(c, "worker.delete", "{\"id\": \"w-cai\"}");
    jt_expect_ok(r, "worker.delete");
    jm_reply_free(r);
    expect_person(c, &ANNA);
    expect_person(c, &BO2);
    char copy[600];
    backup(d, c, copy, sizeof copy);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    char path[600];
    data_path(d, path, sizeof path);
    const person_t dan = {"w-dan", "Planted Dan Wu", "Planted Dan Wu", "139PLANTED04"};
    const person_t *all[] = {&ANNA, &BO, &BO2, &CAI, &dan};
    const char *files[] = {path, copy};
    for (int i = 0; i < 2; i++) {
        cr_assert_geq(occurrences_str(files[i], "Planted Employer Co"), 1, "%s", files[i]);
        cr_assert_geq(occurrences_str(files[i], "w-anna"), 1, "%s", files[i]);
        expect_no_personal(files[i], all, 5);
    }
    remove_backup(d);

    /* After a restart everything still opens. */
    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    expect_person(c, &ANNA);
    expect_person(c, &BO2);
    r = jt_call_json(c, "worker.get", "{\"id\": \"w-cai\"}");
    jt_expect_error(r, "not_found", "w-cai");
    jm_reply_free(r);
    jm_close(c);
    jt_daemon_stop(d);
}

Test(sealed, a_deleted_worker_leaves_no_trace_in_a_backup)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_person(c, &ANNA);
    put_person(c, &CAI);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    uint8_t sealed[512];
    size_t len = sealed_of(d->dir, CAI.id, sealed, sizeof sealed);
    char path[600];
    data_path(d, path, sizeof path);
    cr_assert_geq(jt_count_in_file(path, sealed, len), 1);

    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "worker.delete", "{\"id\": \"w-cai\"}");
    jt_expect_ok(r, "worker.delete");
    jm_reply_free(r);
    backup(d, c, path, sizeof path);
    /* Neither the ciphertext (a free page of data.mdb may still hold it)
     * nor, of course, the plaintext. */
    cr_assert_eq(jt_count_in_file(path, sealed, len), 0);
    const person_t *gone[] = {&CAI};
    expect_no_personal(path, gone, 1);
    /* The live worker is in it, sealed. */
    cr_assert_geq(occurrences_str(path, ANNA.id), 1);
    remove_backup(d);
    expect_person(c, &ANNA);
    jm_close(c);
    jt_daemon_stop(d);
}

/* ---- the wire ----------------------------------------------------------- */

Test(sealed, round_trip_through_the_wire)
{
    jt_daemon_t *d = jt_daemon_start_ini(COUNSELOR_INI, NULL);
    jm_client_t *admin = jt_connect_admin(d);
    jm_client_t *counselor = jt_connect_key(d, COUNSELOR_KEY, "counselor");
    put_person(counselor, &ANNA);
    /* Every personal field is optional: one alone round-trips, and a
     * worker without any has none. */
    jm_reply_t *r = jt_call_json(admin, "worker.put",
                                 "{\"worker\": {\"id\": \"w-phone\", \"phone\": \"+86 139 0000\", "
                                 "\"birth_year\": 1990, \"region\": \"110105\"}}");
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
    jt_put_worker(admin, "w-none", "110105", NULL, "lathe:3");

    expect_person(admin, &ANNA);
    expect_person(counselor, &ANNA);
    r = get_worker(counselor, "w-phone");
    const msgpack_object *w = jt_need(&r->result, "worker");
    cr_assert_str_eq(jt_get_str(w, "phone"), "+86 139 0000");
    cr_assert_null(jt_get(w, "name"));
    cr_assert_null(jt_get(w, "national_id"));
    jm_reply_free(r);
    r = get_worker(counselor, "w-none");
    w = jt_need(&r->result, "worker");
    cr_assert_null(jt_get(w, "phone"));
    cr_assert_null(jt_get(w, "name"));
    jm_reply_free(r);

    /* The canonical order is kept: id, then the personal fields. */
    r = get_worker(admin, ANNA.id);
    w = jt_need(&r->result, "worker");
    cr_assert_eq(w->type, MSGPACK_OBJECT_MAP);
    const char *order[] = {"id", "name", "national_id", "phone", "birth_year"};
    for (int i = 0; i < 5; i++) {
        const msgpack_object *k = &w->via.map.ptr[i].key;
        cr_assert(jt_str_is(k, order[i]), "key %d is not %s", i, order[i]);
    }
    jm_reply_free(r);

    /* Listing opens them too. */
    r = jt_call_json(counselor, "worker.list", "{\"region\": \"110105\"}");
    jt_expect_ok(r, "worker.list");
    const msgpack_object *list = jt_need(&r->result, "workers");
    cr_assert_eq(list->via.array.size, 3);
    unsigned named = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *item = &list->via.array.ptr[i];
        if (jt_str_is(jt_get(item, "id"), ANNA.id)) {
            cr_assert_str_eq(jt_get_str(item, "name"), ANNA.name);
            cr_assert_str_eq(jt_get_str(item, "national_id"), ANNA.national_id);
            named++;
        }
    }
    cr_assert_eq(named, 1);
    jm_reply_free(r);

    /* A replace that drops the personal fields drops them. */
    jt_put_worker(counselor, ANNA.id, "110105", NULL, "lathe:3");
    r = get_worker(admin, ANNA.id);
    cr_assert_null(jt_get(jt_need(&r->result, "worker"), "name"));
    jm_reply_free(r);

    /* Matching never needs them (w-phone has no skill to match on), and
     * the store stays consistent. */
    jt_put_vacancy(admin, "v-1", "110105", "6-18-01-01", "lathe:3");
    r = jt_call_json(counselor, "match.workers", "{\"vacancy\": \"v-1\"}");
    jt_expect_ok(r, "match.workers");
    cr_assert_eq(jt_need(&r->result, "matches")->via.array.size, 2);
    jm_reply_free(r);
    jt_expect_check_clean(admin, "after the round trip");
    /* admin.info names the key in use. */
    char id[3];
    snprintf(id, sizeof id, "%02x", key_id_of(d));
    r = jt_call_json(admin, "admin.info", NULL);
    jt_expect_ok(r, "admin.info");
    cr_assert_str_eq(jt_get_str(&r->result, "secret_key_id"), id);
    jm_reply_free(r);
    jm_close(counselor);
    jm_close(admin);
    jt_daemon_stop(d);
}

Test(sealed, without_a_key_personal_fields_are_refused_not_stored_in_clear)
{
    jt_daemon_t *d = jt_daemon_start_keyless(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "worker.put",
                                 "{\"worker\": {\"id\": \"w-1\", \"national_id\": \"KEYLESS-ID-1\", "
                                 "\"birth_year\": 1990, \"region\": \"110105\"}}");
    jt_expect_error(r, "bad_request", "worker.national_id: personal fields cannot be stored");
    cr_assert_not_null(strstr(r->error_message, "secret_key_file"), "%s", r->error_message);
    cr_assert_null(strstr(r->error_message, "KEYLESS-ID-1"), "the value leaked into: %s",
                   r->error_message);
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put_many",
                     "{\"workers\": [{\"id\": \"w-2\", \"birth_year\": 1990, \"region\": \"110105\"}, "
                     "{\"id\": \"w-3\", \"name\": \"KEYLESS NAME\", \"birth_year\": 1990, "
                     "\"region\": \"110105\"}]}");
    jt_expect_error(r, "bad_request", "workers[1].name: personal fields cannot be stored");
    jm_reply_free(r);
    for (int i = 1; i <= 3; i++) {
        r = jt_call_json(c, "worker.get", "{\"id\": \"w-%d\"}", i);
        jt_expect_error(r, "not_found", NULL);
        jm_reply_free(r);
    }
    /* Workers without personal fields are fine, and so is the connection. */
    jt_put_worker(c, "w-4", "110105", NULL, "lathe:3");
    r = get_worker(c, "w-4");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.info", NULL);
    jt_expect_ok(r, "admin.info");
    cr_assert_eq(jt_need(&r->result, "secret_key_id")->type, MSGPACK_OBJECT_NIL);
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    char path[600];
    data_path(d, path, sizeof path);
    cr_assert_eq(occurrences_str(path, "KEYLESS"), 0);
    jt_daemon_restart(d);
    jt_daemon_stop(d);
}

/* A daemon with Anna and a vacancy v-1 she can be referred to; *c is an
 * admin connection to it. */
static jt_daemon_t *
start_with_anna(jm_client_t **c)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    *c = jt_connect_admin(d);
    put_person(*c, &ANNA);
    jt_put_vacancy(*c, "v-1", "110105", "6-18-01-01", "lathe:3");
    return d;
}

Test(sealed, a_hire_rewrites_the_worker_sealed_with_its_personal_fields)
{
    jm_client_t *c;
    jt_daemon_t *d = start_with_anna(&c);
    char id[32];
    snprintf(id, sizeof id, "%s", jt_refer(c, ANNA.id, "v-1", NULL));
    jm_reply_t *r = jt_call_json(c, "referral.update",
                                 "{\"id\": \"%s\", \"status\": \"hired\"}", id);
    jt_expect_ok(r, "referral.update");
    jm_reply_free(r);
    /* The server's own rewrite (employed) kept the fields, sealed. */
    expect_person(c, &ANNA);
    r = get_worker(c, ANNA.id);
    cr_assert_str_eq(jt_get_str(jt_need(&r->result, "worker"), "status"), "employed");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    char path[600];
    data_path(d, path, sizeof path);
    const person_t *anna[] = {&ANNA};
    expect_no_personal(path, anna, 1);
    jt_daemon_restart(d);
    jt_daemon_stop(d);
}

/* ---- referral notes ----------------------------------------------------- */

/* The note of event i of the referral in r's result. */
static const char *
note_of(const jm_reply_t *r, uint32_t i)
{
    const msgpack_object *h = jt_need(jt_need(&r->result, "referral"), "history");
    cr_assert_eq(h->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_lt(i, h->via.array.size);
    const msgpack_object *note = jt_need(&h->via.array.ptr[i], "note");
    return note->type == MSGPACK_OBJECT_NIL ? NULL : jt_get_str(&h->via.array.ptr[i], "note");
}

static void
expect_notes(jm_client_t *c, const char *id, const char *const *notes, uint32_t n)
{
    jm_reply_t *r = jt_call_json(c, "referral.get", "{\"id\": \"%s\"}", id);
    jt_expect_ok(r, "referral.get");
    for (uint32_t i = 0; i < n; i++) {
        const char *got = note_of(r, i);
        if (notes[i])
            cr_assert_str_eq(got ? got : "(nil)", notes[i], "%s event %u", id, i);
        else
            cr_assert_null(got, "%s event %u has a note", id, i);
    }
    jm_reply_free(r);
}

#define NOTE_1 "Planted note: Anna mentioned her asthma"
#define NOTE_2 "Planted note: call her mother on 139PLANTED99"

Test(sealed, referral_notes_are_sealed_at_rest_and_read_back)
{
    jm_client_t *c;
    jt_daemon_t *d = start_with_anna(&c);
    char id[32];
    snprintf(id, sizeof id, "%s", jt_refer(c, ANNA.id, "v-1", NOTE_1));
    jm_reply_t *r = jt_call_json(c, "referral.update",
                     "{\"id\": \"%s\", \"status\": \"interviewed\", \"note\": \"%s\"}", id, NOTE_2);
    jt_expect_ok(r, "referral.update");
    cr_assert_str_eq(note_of(r, 0), NOTE_1);
    cr_assert_str_eq(note_of(r, 1), NOTE_2);
    jm_reply_free(r);
    const char *const notes[] = {NOTE_1, NOTE_2, NULL};
    expect_notes(c, id, notes, 2);
    /* The listing opens them too. */
    r = jt_call_json(c, "referral.list", "{\"worker\": \"%s\"}", ANNA.id);
    jt_expect_ok(r, "referral.list");
    const msgpack_object *items = jt_need(&r->result, "referrals");
    cr_assert_eq(items->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(items->via.array.size, 1);
    const msgpack_object *h = jt_need(&items->via.array.ptr[0], "history");
    cr_assert_str_eq(jt_get_str(&h->via.array.ptr[1], "note"), NOTE_2);
    jm_reply_free(r);
    char copy[600];
    backup(d, c, copy, sizeof copy);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    char path[600];
    data_path(d, path, sizeof path);
    const char *files[] = {path, copy};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(occurrences_str(files[i], "Planted note"), 0, "%s holds a note in clear",
                     files[i]);
        cr_assert_eq(occurrences_str(files[i], "139PLANTED99"), 0, "%s", files[i]);
        cr_assert_geq(occurrences_str(files[i], "v-1"), 1, "%s", files[i]);
    }
    remove_backup(d);

    /* After a restart they still open, and a hire keeps them. */
    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    expect_notes(c, id, notes, 2);
    r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"hired\"}", id);
    jt_expect_ok(r, "referral.update");
    jm_reply_free(r);
    expect_notes(c, id, notes, 3);
    jm_close(c);
    jt_daemon_stop(d);
}

/* The sealed note of the first event of referral refno, read with the
 * index from the stopped daemon's directory. */
static size_t
sealed_note_of(const char *dir, uint64_t refno, uint8_t *out, size_t cap)
{
    ix_env_t *ix;
    ix_options_t o = {.map_size = 64u << 20};
    cr_assert_eq(ix_open(dir, &o, &ix), 0);
    ix_txn_t *txn;
    cr_assert_eq(ix_read_begin(ix, &txn), 0);
    ix_referral_t ref;
    cr_assert_eq(ix_referral_get(txn, refno, &ref), 0);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object obj;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(ref.value, ref.value_len, &off, &zone, &obj),
                 MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *h = jt_need(&obj, "history");
    const msgpack_object *note = jt_need(&h->via.array.ptr[0], "note");
    cr_assert_eq(note->type, MSGPACK_OBJECT_BIN, "the note is not sealed");
    size_t len = note->via.bin.size;
    cr_assert_leq(len, cap);
    memcpy(out, note->via.bin.ptr, len);
    msgpack_zone_destroy(&zone);
    ix_read_end(txn);
    ix_close(ix);
    return len;
}

Test(sealed, an_altered_note_is_detected_and_harms_nothing_else)
{
    jm_client_t *c;
    jt_daemon_t *d = start_with_anna(&c);
    put_person(c, &BO);
    char bad[32], good[32];
    snprintf(bad, sizeof bad, "%s", jt_refer(c, ANNA.id, "v-1", NOTE_1));
    snprintf(good, sizeof good, "%s", jt_refer(c, BO.id, "v-1", NOTE_2));
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    uint8_t sealed[1200], flipped[1200];
    size_t len = sealed_note_of(d->dir, 1, sealed, sizeof sealed);
    cr_assert_str_eq(bad, "r-1");
    memcpy(flipped, sealed, len);
    flipped[len / 2] ^= 0x10;
    char path[600];
    data_path(d, path, sizeof path);
    cr_assert_geq(rewrite_file(path, sealed, flipped, len), 1);

    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "referral.get", "{\"id\": \"%s\"}", bad);
    jt_expect_error(r, "internal", "referral r-1: its notes do not authenticate");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.list", "{\"vacancy\": \"v-1\"}");
    jt_expect_error(r, "internal", "referral r-1: its notes do not authenticate");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"withdrawn\"}", bad);
    jt_expect_error(r, "internal", "do not authenticate");
    jm_reply_free(r);
    /* The other referral, the connection and the daemon are unharmed. */
    const char *const notes[] = {NOTE_2};
    expect_notes(c, good, notes, 1);
    r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"interviewed\"}", good);
    jt_expect_ok(r, "referral.update");
    jm_reply_free(r);
    jt_call_ok(c, "ping", NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Writes, into the stopped daemon's store, a referral of worker to v-1 as
 * stores before notes were sealed hold it: its note a str. Its id goes to
 * id. */
static void
plant_clear_note(const jt_daemon_t *d, const char *worker, const char *note,
                 char id[PR_REF_ID_MAX + 1])
{
    ix_env_t *ix;
    ix_options_t o = {.map_size = 64u << 20};
    cr_assert_eq(ix_open(d->dir, &o, &ix), 0);
    ix_txn_t *txn;
    cr_assert_eq(ix_write_begin(ix, &txn), 0);
    pr_referral_t ref = {
        .worker = {worker, (uint32_t)strlen(worker)},
        .vacancy = {"v-1", 3},
        .status = PR_REF_REFERRED,
        .created = 1767225700,
        .updated = 1767225700,
        .n_history = 1,
    };
    cr_assert_eq(ix_referral_reserve(txn, &ref.refno), 0);
    ref.history[0] = (pr_referral_event_t){.status = PR_REF_REFERRED, .at = 1767225700,
                                           .by = {"admin", 5},
                                           .note = {note, (uint32_t)strlen(note)}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pr_pack_referral(&pk, &ref);
    ix_referral_t row = {.refno = ref.refno, .status = PR_REF_REFERRED, .category = 0,
                         .worker = worker, .worker_len = (uint32_t)strlen(worker),
                         .vacancy = "v-1", .vacancy_len = 3,
                         .value = sb.data, .value_len = sb.size};
    memcpy(row.region, "110105", 6);
    cr_assert_eq(ix_referral_put(txn, &row), 0);
    cr_assert_eq(ix_write_commit(txn), 0);
    msgpack_sbuffer_destroy(&sb);
    ix_close(ix);
    pr_referral_id_format(id, ref.refno);
}

Test(sealed, a_note_stored_in_clear_before_notes_were_sealed_still_reads)
{
    jm_client_t *c;
    jt_daemon_t *d = start_with_anna(&c);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    char id[PR_REF_ID_MAX + 1];
    plant_clear_note(d, ANNA.id, "Old clear note", id);

    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    const char *const notes[] = {"Old clear note", NULL};
    expect_notes(c, id, notes, 1);
    /* The next write of the referral seals it: a compacted copy no longer
     * holds it in clear. */
    jm_reply_t *r = jt_call_json(c, "referral.update",
                                 "{\"id\": \"%s\", \"status\": \"withdrawn\"}", id);
    jt_expect_ok(r, "referral.update");
    cr_assert_str_eq(note_of(r, 0), "Old clear note");
    jm_reply_free(r);
    expect_notes(c, id, notes, 2);
    char copy[600];
    backup(d, c, copy, sizeof copy);
    cr_assert_eq(occurrences_str(copy, "Old clear note"), 0);
    remove_backup(d);
    jt_expect_check_clean(c, "after the clear note was sealed");
    jm_close(c);
    jt_daemon_stop(d);
}

/* A daemon without a secret key holding a worker w-1 and a vacancy v-1 it
 * can be referred to; *c is an admin connection to it. */
static jt_daemon_t *
start_keyless_with_w1(jm_client_t **c)
{
    jt_daemon_t *d = jt_daemon_start_keyless(NULL);
    *c = jt_connect_admin(d);
    jt_put_worker(*c, "w-1", "110105", NULL, "lathe:3");
    jt_put_vacancy(*c, "v-1", "110105", "6-18-01-01", "lathe:3");
    return d;
}

Test(sealed, without_a_key_a_referral_note_is_refused_not_stored_in_clear)
{
    jm_client_t *c;
    jt_daemon_t *d = start_keyless_with_w1(&c);
    jm_reply_t *r = jt_call_json(c, "referral.create",
                                 "{\"worker\": \"w-1\", \"vacancy\": \"v-1\", "
                                 "\"note\": \"KEYLESS NOTE\"}");
    jt_expect_error(r, "bad_request", "note: cannot be stored");
    cr_assert_not_null(strstr(r->error_message, "secret_key_file"), "%s", r->error_message);
    jm_reply_free(r);
    /* Without a note the referral is made, and can move on without one. */
    char id[32];
    snprintf(id, sizeof id, "%s", jt_refer(c, "w-1", "v-1", NULL));
    r = jt_call_json(c, "referral.update",
                     "{\"id\": \"%s\", \"status\": \"interviewed\", \"note\": \"KEYLESS NOTE\"}", id);
    jt_expect_error(r, "bad_request", "note: cannot be stored");
    jm_reply_free(r);
    r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"interviewed\"}", id);
    jt_expect_ok(r, "referral.update");
    jm_reply_free(r);
    const char *const none[] = {NULL, NULL};
    expect_notes(c, id, none, 2);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    char path[600];
    data_path(d, path, sizeof path);
    cr_assert_eq(occurrences_str(path, "KEYLESS"), 0);
    jt_daemon_stop(d);
}

/* A server without a key keeps the notes an earlier version stored in
 * clear as they are: the referral still moves on. */
Test(sealed, without_a_key_a_note_stored_in_clear_before_still_moves_on)
{
    jm_client_t *c;
    jt_daemon_t *d = start_keyless_with_w1(&c);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    char id[PR_REF_ID_MAX + 1];
    plant_clear_note(d, "w-1", "Old keyless note", id);
    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "referral.update",
                                 "{\"id\": \"%s\", \"status\": \"interviewed\"}", id);
    jt_expect_ok(r, "referral.update");
    cr_assert_str_eq(note_of(r, 0), "Old keyless note");
    jm_reply_free(r);
    const char *const notes[] = {"Old keyless note", NULL};
    expect_notes(c, id, notes, 2);
    jt_expect_check_clean(c, "after the keyless update");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- keys at start-up --------------------------------------------------- */

Test(sealed, a_wrong_or_missing_key_stops_the_start_up)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_person(c, &ANNA);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    char good[320], err[4096];
    snprintf(good, sizeof good, "%s.good", d->key_file);
    cr_assert_eq(link(d->key_file, good), 0);

    /* Another key (another id too; a key that shares the id is refused as
     * "not the key", see test_seal.c). */
    uint8_t id = key_id_of(d);
    replace_key(d);
    int status = jt_daemon_start_fails(d, err, sizeof err);
    cr_assert_neq(status, 0);
    char want[120];
    snprintf(want, sizeof want, "secret key: the secret key file holds no key with id %02x", id);
    cr_assert_not_null(strstr(err, want), "stderr: %s", err);

    /* No key at all. */
    char *saved = strdup(d->key_file);
    d->key_file[0] = '\0';
    status = jt_daemon_start_fails(d, err, sizeof err);
    cr_assert_neq(status, 0);
    cr_assert_not_null(strstr(err, "no secret key is configured (secret_key_file = none)"),
                       "stderr: %s", err);
    snprintf(d->key_file, sizeof d->key_file, "%s", saved);
    free(saved);

    /* The right key, readable by others: refused until chmod 600. */
    cr_assert_eq(unlink(d->key_file), 0);
    cr_assert_eq(rename(good, d->key_file), 0);
    cr_assert_eq(chmod(d->key_file, 0644), 0);
    status = jt_daemon_start_fails(d, err, sizeof err);
    cr_assert_neq(status, 0);
    cr_assert_not_null(strstr(err, "chmod 600"), "stderr: %s", err);
    cr_assert_eq(chmod(d->key_file, 0600), 0);

    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    expect_person(c, &ANNA);
    jm_close(c);
    jt_daemon_stop(d);
}

Test(sealed, a_key_inside_the_data_directory_is_refused)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    cr_assert_eq(jt_daemon_term(d), 0);
    char inside[300], err[4096];
    snprintf(inside, sizeof inside, "%s/secret.key", d->dir);
    cr_assert_eq(rename(d->key_file, inside), 0);
    char *saved = strdup(d->key_file);
    snprintf(d->key_file, sizeof d->key_file, "%s", inside);
    int status = jt_daemon_start_fails(d, err, sizeof err);
    cr_assert_neq(status, 0);
    cr_assert_not_null(strstr(err, "inside the data directory"), "stderr: %s", err);
    cr_assert_eq(rename(inside, saved), 0);
    snprintf(d->key_file, sizeof d->key_file, "%s", saved);
    free(saved);
    jt_daemon_restart(d);
    jt_daemon_stop(d);
}

/* Runs jobmatchd with args (NULL-terminated); returns its exit status. */
static int
run_jobmatchd(const char *arg, ...)
{
    const char *bin = getenv("JOBMATCHD");
    cr_assert(bin && *bin, "JOBMATCHD is not set");
    const char *argv[8] = {bin};
    size_t n = 1;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *)) {
        cr_assert_lt(n, 7);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(sealed, without_a_key_file_the_daemon_makes_one_beside_the_data)
{
    jt_daemon_t *d = jt_daemon_start_default_key(NULL);
    struct stat st;
    cr_assert_eq(stat(d->key_file, &st), 0, "%s: %s", d->key_file, strerror(errno));
    cr_assert_eq(st.st_mode & 0777, 0600);
    jm_client_t *c = jt_connect_admin(d);
    put_person(c, &ANNA);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);
    char path[600];
    data_path(d, path, sizeof path);
    const person_t *anna[] = {&ANNA};
    expect_no_personal(path, anna, 1);
    /* The next start finds and uses it. */
    size_t len;
    char *before = jt_read_file(d->key_file, &len);
    jt_daemon_restart(d);
    char *after = jt_read_file(d->key_file, &len);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    c = jt_connect_admin(d);
    expect_person(c, &ANNA);
    jm_close(c);
    char key[300];
    snprintf(key, sizeof key, "%s", d->key_file);
    jt_daemon_stop(d);
    cr_assert_neq(stat(key, &st), 0, "the harness left %s", key);
}

/* A store filled without a key restarts with a first one (the binding is
 * written if it fits, left for later if not: tests/engine/test_store.c)
 * and serves. */
Test(sealed, a_full_store_still_starts_with_a_first_key, .timeout = 120)
{
    const char *args[] = {"--map-size", "1M", "--map-max", "1M", NULL};
    jt_daemon_t *d = jt_daemon_start_keyless(args);
    jm_client_t *c = jt_connect_admin(d);
    int acked = 0;
    for (;; acked++) {
        cr_assert_lt(acked, 20000, "a 1 MiB map should fill up");
        char id[32];
        snprintf(id, sizeof id, "full-%d", acked);
        jm_reply_t *r = jt_call_json(c, "worker.put",
                                     "{\"worker\": {\"id\": \"%s\", \"birth_year\": 1985, "
                                     "\"region\": \"110105\", \"skills\": [{\"id\": \"cnc-%d\", "
                                     "\"level\": 2}]}}",
                                     id, acked);
        bool ok = r->ok;
        if (!ok)
            jt_expect_error(r, "storage_full", NULL);
        jm_reply_free(r);
        if (!ok)
            break;
    }
    cr_assert_gt(acked, 10);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    /* Now with the default key: the binding does not fit, the daemon
     * starts anyway and serves; a sealed write is refused as full. */
    snprintf(d->key_file, sizeof d->key_file, "%s.secret.key", d->dir);
    d->key_default = true;
    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    jm_reply_t *r = get_worker(c, "full-0");
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put",
                     "{\"worker\": {\"id\": \"w-late\", \"name\": \"Late Comer\", "
                     "\"birth_year\": 1985, \"region\": \"110105\"}}");
    if (r->ok) {  /* a page freed by the failed put may have made room */
        jm_reply_free(r);
        r = get_worker(c, "w-late");
        cr_assert_str_eq(jt_get_str(jt_need(&r->result, "worker"), "name"), "Late Comer");
    } else {
        jt_expect_error(r, "storage_full", NULL);
    }
    jm_reply_free(r);
    jm_close(c);
    jt_daemon_stop(d);
}

Test(sealed, gen_secret_key_makes_a_key_the_daemon_accepts)
{
    jt_daemon_t *d = jt_daemon_start_keyless(NULL);
    cr_assert_eq(jt_daemon_term(d), 0);
    char path[300];
    snprintf(path, sizeof path, "%s.secret.key", d->dir);
    cr_assert_eq(run_jobmatchd("--gen-secret-key", path, NULL), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    size_t len;
    char *first = jt_read_file(path, &len);
    /* Never overwritten. */
    cr_assert_eq(run_jobmatchd("--gen-secret-key", path, NULL), 2);
    char *second = jt_read_file(path, &len);
    cr_assert_str_eq(first, second);
    free(first);
    free(second);

    snprintf(d->key_file, sizeof d->key_file, "%s", path);
    jt_daemon_restart(d);
    jm_client_t *c = jt_connect_admin(d);
    put_person(c, &ANNA);
    expect_person(c, &ANNA);
    jm_close(c);
    jt_daemon_stop(d);
}

/* ---- altered data ------------------------------------------------------- */

Test(sealed, altered_or_moved_ciphertext_is_detected)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    /* Same lengths, so the sealed values have the same size and can be
     * swapped in place. */
    const person_t a = {"w-a", "Same Len Name A", "110105000000000A", "13900000001"};
    const person_t b = {"w-b", "Same Len Name B", "110105000000000B", "13900000002"};
    const person_t e = {"w-e", "Untouched Name", "110105000000000E", "13900000005"};
    put_person(c, &a);
    put_person(c, &b);
    put_person(c, &e);
    put_person(c, &ANNA);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    uint8_t sa[512], sb[512], sanna[512], flipped[512];
    size_t la = sealed_of(d->dir, a.id, sa, sizeof sa);
    size_t lb = sealed_of(d->dir, b.id, sb, sizeof sb);
    size_t lanna = sealed_of(d->dir, ANNA.id, sanna, sizeof sanna);
    cr_assert_eq(la, lb);
    char path[600];
    data_path(d, path, sizeof path);
    /* Swap a's and b's sealed values (through a placeholder), and flip one
     * bit in the middle of Anna's. */
    uint8_t tmp[512];
    memset(tmp, 0xA5, la);
    cr_assert_geq(rewrite_file(path, sa, tmp, la), 1);
    cr_assert_geq(rewrite_file(path, sb, sa, la), 1);
    cr_assert_geq(rewrite_file(path, tmp, sb, la), 1);
    memcpy(flipped, sanna, lanna);
    flipped[lanna / 2] ^= 0x10;
    cr_assert_geq(rewrite_file(path, sanna, flipped, lanna), 1);

    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    const char *bad[] = {a.id, b.id, ANNA.id};
    for (int i = 0; i < 3; i++) {
        jm_reply_t *r = jt_call_json(c, "worker.get", "{\"id\": \"%s\"}", bad[i]);
        jt_expect_error(r, "internal", "do not authenticate");
        cr_assert_not_null(strstr(r->error_message, bad[i]), "%s", r->error_message);
        jm_reply_free(r);
    }
    /* A listing that meets one says which; the connection, the daemon and
     * every other worker are unharmed. */
    jm_reply_t *r = jt_call_json(c, "worker.list", NULL);
    jt_expect_error(r, "internal", "do not authenticate");
    jm_reply_free(r);
    expect_person(c, &e);
    r = jt_call_json(c, "ping", NULL);
    jt_expect_ok(r, "ping");
    jm_reply_free(r);
    /* Rewriting the worker repairs it. */
    put_person(c, &a);
    expect_person(c, &a);
    jm_close(c);
    jt_daemon_stop(d);
}

/* ---- rotation ----------------------------------------------------------- */

Test(sealed, key_rotation_keeps_old_values_readable_while_the_old_key_stays)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_person(c, &ANNA);
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    /* New key first, the old one below it. */
    size_t len;
    char *old_text = jt_read_file(d->key_file, &len);
    replace_key(d);
    char *new_text = jt_read_file(d->key_file, &len);
    FILE *f = fopen(d->key_file, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s%s", new_text, old_text);
    cr_assert_eq(fclose(f), 0);

    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    expect_person(c, &ANNA);    /* sealed under the old key */
    put_person(c, &BO);         /* sealed under the new one */
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    /* Dropping the old key too early: the daemon starts (the store is bound
     * to the new key by now) but tells plainly what it cannot open. */
    f = fopen(d->key_file, "w");
    cr_assert_not_null(f);
    fputs(new_text, f);
    cr_assert_eq(fclose(f), 0);
    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    expect_person(c, &BO);
    jm_reply_t *r = jt_call_json(c, "worker.get", "{\"id\": \"%s\"}", ANNA.id);
    jt_expect_error(r, "internal", "sealed under a secret key the daemon does not hold");
    jm_reply_free(r);
    jm_close(c);
    free(old_text);
    free(new_text);
    jt_daemon_stop(d);
}
