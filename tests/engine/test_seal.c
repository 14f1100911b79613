/* test_seal.c - the secret key file and sealing with it. */
#define _GNU_SOURCE  /* mkdtemp, memmem */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "seal.h"

/* A scratch directory holding data/ (a stand-in data directory) and the
 * key files of one test. */
static char dir[64], data_dir[96];
static char why[600];

static void
setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    snprintf(dir, sizeof dir, "/tmp/jobmatch-seal-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    cr_assert_eq(mkdir(data_dir, 0700), 0);
}

static void
teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(seal, .init = setup, .fini = teardown);

static void
path_in(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* Writes text to path with the given mode. */
static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static en_sealer_t *
new_sealer(const char *name)
{
    char path[160];
    path_in(path, sizeof path, name);
    cr_assert_eq(en_seal_key_create(path, why, sizeof why), 0, "%s", why);
    en_sealer_t *s = en_sealer_load(path, data_dir, why, sizeof why);
    cr_assert_not_null(s, "%s", why);
    return s;
}

/* The key line of a key file made by en_seal_key_create. */
static void
key_line(const char *name, char out[2 * EN_SEAL_KEY_LEN + 1])
{
    char path[160], line[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    out[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && strlen(line) >= 2 * EN_SEAL_KEY_LEN) {
            memcpy(out, line, 2 * EN_SEAL_KEY_LEN);
            out[2 * EN_SEAL_KEY_LEN] = '\0';
        }
    fclose(f);
    cr_assert_eq(strlen(out), 2 * EN_SEAL_KEY_LEN);
}

static const char AD[] = "Ww000001";
static const char PLAIN[] = "Zhang Wei 110105199001011234 13800138000";

Test(seal, round_trip_hides_the_plaintext_and_never_repeats_a_nonce)
{
    en_sealer_t *s = new_sealer("k");
    size_t n = strlen(PLAIN);
    uint8_t a[256], b[256], out[256];
    cr_assert_leq(en_seal_size(n), sizeof a);
    cr_assert_eq(en_seal(s, AD, strlen(AD), PLAIN, n, a), 0);
    cr_assert_eq(en_seal(s, AD, strlen(AD), PLAIN, n, b), 0);
    cr_assert_eq(a[0], en_sealer_key_id(s));
    cr_assert_null(memmem(a, en_seal_size(n), "Zhang", 5));
    cr_assert_null(memmem(a, en_seal_size(n), "13800138000", 11));
    cr_assert_neq(memcmp(a + 1, b + 1, EN_SEAL_NONCE_LEN), 0, "two seals shared a nonce");
    cr_assert_neq(memcmp(a, b, en_seal_size(n)), 0);

    size_t len = 0;
    uint8_t id = 0;
    cr_assert_eq(en_unseal(s, AD, strlen(AD), a, en_seal_size(n), out, &len, &id), 0);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(out, PLAIN, n), 0);
    cr_assert_eq(id, en_sealer_key_id(s));
    en_sealer_free(s);
}

Test(seal, sizes_are_padded_to_blocks)
{
    size_t base = 1 + EN_SEAL_NONCE_LEN + EN_SEAL_TAG_LEN;
    for (size_t n = 0; n < EN_SEAL_BLOCK; n++)
        cr_assert_eq(en_seal_size(n), base + EN_SEAL_BLOCK, "length %zu", n);
    cr_assert_eq(en_seal_size(EN_SEAL_BLOCK), base + 2 * EN_SEAL_BLOCK);
    cr_assert_eq(en_seal_size(3 * EN_SEAL_BLOCK - 1), base + 3 * EN_SEAL_BLOCK);

    /* The empty plaintext round-trips too. */
    en_sealer_t *s = new_sealer("k");
    uint8_t c[64], out[64];
    size_t len = 99;
    cr_assert_eq(en_seal(s, AD, 1, "", 0, c), 0);
    cr_assert_eq(en_unseal(s, AD, 1, c, en_seal_size(0), out, &len, NULL), 0);
    cr_assert_eq(len, 0);
    en_sealer_free(s);
}

Test(seal, every_altered_byte_is_detected)
{
    en_sealer_t *s = new_sealer("k");
    size_t n = strlen(PLAIN), len, sealed_len = en_seal_size(n);
    uint8_t c[256], out[256];
    cr_assert_eq(en_seal(s, AD, strlen(AD), PLAIN, n, c), 0);
    for (size_t i = 0; i < sealed_len; i++) {
        c[i] ^= 0x01;
        int rc = en_unseal(s, AD, strlen(AD), c, sealed_len, out, &len, NULL);
        /* The first byte names the key: flipped, it names one not held. */
        cr_assert_eq(rc, i == 0 ? -ENOKEY : -EBADMSG, "byte %zu: %d", i, rc);
        c[i] ^= 0x01;
    }
    cr_assert_eq(en_unseal(s, AD, strlen(AD), c, sealed_len - 1, out, &len, NULL), -EBADMSG);
    cr_assert_eq(en_unseal(s, AD, strlen(AD), c, 10, out, &len, NULL), -EBADMSG);
    cr_assert_eq(en_unseal(s, AD, strlen(AD), c, sealed_len, out, &len, NULL), 0);
    en_sealer_free(s);
}

Test(seal, another_record_or_another_key_does_not_open_it)
{
    en_sealer_t *s = new_sealer("k");
    size_t n = strlen(PLAIN), len, sealed_len = en_seal_size(n);
    uint8_t c[256], out[256];
    cr_assert_eq(en_seal(s, AD, strlen(AD), PLAIN, n, c), 0);
    cr_assert_eq(en_unseal(s, "Ww000002", 8, c, sealed_len, out, &len, NULL), -EBADMSG);
    cr_assert_eq(en_unseal(s, "Vw000001", 8, c, sealed_len, out, &len, NULL), -EBADMSG);
    cr_assert_eq(en_unseal(NULL, AD, strlen(AD), c, sealed_len, out, &len, NULL), -ENOKEY);

    /* Another key with another id: told which key it needs. */
    en_sealer_t *other = NULL;
    char name[16];
    for (int i = 0; !other; i++) {
        snprintf(name, sizeof name, "o%d", i);
        other = new_sealer(name);
        if (en_sealer_key_id(other) == en_sealer_key_id(s)) {
            en_sealer_free(other);
            other = NULL;
        }
    }
    uint8_t id = 0;
    cr_assert_eq(en_unseal(other, AD, strlen(AD), c, sealed_len, out, &len, &id), -ENOKEY);
    cr_assert_eq(id, en_sealer_key_id(s));
    en_sealer_free(other);

    /* Another key that happens to share the id: the tag still fails. */
    en_sealer_t *twin = NULL;
    for (int i = 0; !twin; i++) {
        cr_assert_lt(i, 5000, "no key with a shared id in 5000 tries");
        snprintf(name, sizeof name, "t%d", i);
        twin = new_sealer(name);
        if (en_sealer_key_id(twin) != en_sealer_key_id(s)) {
            en_sealer_free(twin);
            twin = NULL;
        }
    }
    cr_assert_eq(en_unseal(twin, AD, strlen(AD), c, sealed_len, out, &len, NULL), -EBADMSG);
    en_sealer_free(twin);
    en_sealer_free(s);
}

Test(seal, rotation_the_first_key_seals_every_key_opens)
{
    en_sealer_t *old = new_sealer("old");
    en_sealer_t *fresh = NULL;
    char name[16];
    for (int i = 0; !fresh; i++) {
        snprintf(name, sizeof name, "new%d", i);
        fresh = new_sealer(name);
        if (en_sealer_key_id(fresh) == en_sealer_key_id(old)) {
            en_sealer_free(fresh);
            fresh = NULL;
        }
    }
    char old_hex[65], new_hex[65], text[300], path[160];
    key_line("old", old_hex);
    key_line(name, new_hex);
    snprintf(text, sizeof text, "# rotated\n%s\n\n  %s  \n", new_hex, old_hex);
    path_in(path, sizeof path, "rotated");
    write_file(path, text, 0600);
    en_sealer_t *both = en_sealer_load(path, data_dir, why, sizeof why);
    cr_assert_not_null(both, "%s", why);
    cr_assert_eq(en_sealer_key_id(both), en_sealer_key_id(fresh));

    size_t n = strlen(PLAIN), len;
    uint8_t c[256], out[256];
    cr_assert_eq(en_seal(old, AD, strlen(AD), PLAIN, n, c), 0);
    cr_assert_eq(en_unseal(both, AD, strlen(AD), c, en_seal_size(n), out, &len, NULL), 0);
    cr_assert_eq(memcmp(out, PLAIN, n), 0);
    cr_assert_eq(en_seal(both, AD, strlen(AD), PLAIN, n, c), 0);
    cr_assert_eq(c[0], en_sealer_key_id(fresh));
    cr_assert_eq(en_unseal(fresh, AD, strlen(AD), c, en_seal_size(n), out, &len, NULL), 0);
    cr_assert_eq(en_unseal(old, AD, strlen(AD), c, en_seal_size(n), out, &len, NULL), -ENOKEY);
    en_sealer_free(both);
    en_sealer_free(fresh);
    en_sealer_free(old);
}

Test(seal, a_new_key_file_is_private_and_never_overwritten)
{
    char path[160];
    path_in(path, sizeof path, "k");
    cr_assert_eq(en_seal_key_create(path, why, sizeof why), 0, "%s", why);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char before[65], after[65];
    key_line("k", before);
    cr_assert_eq(en_seal_key_create(path, why, sizeof why), -1);
    cr_assert_not_null(strstr(why, "File exists"), "%s", why);
    key_line("k", after);
    cr_assert_str_eq(before, after);
}

/* Loading path must fail with a reason containing want. */
static void
refused(const char *path, const char *want)
{
    en_sealer_t *s = en_sealer_load(path, data_dir, why, sizeof why);
    cr_assert_null(s, "%s was accepted", path);
    cr_assert_not_null(strstr(why, want), "reason: %s (wanted %s)", why, want);
}

Test(seal, key_files_that_are_refused)
{
    char path[160], hex[65], text[300];
    path_in(path, sizeof path, "k");
    cr_assert_eq(en_seal_key_create(path, why, sizeof why), 0, "%s", why);
    key_line("k", hex);

    cr_assert_eq(chmod(path, 0640), 0);
    refused(path, "chmod 600");
    cr_assert_eq(chmod(path, 0604), 0);
    refused(path, "chmod 600");
    cr_assert_eq(chmod(path, 0600), 0);

    char inside[200];
    snprintf(inside, sizeof inside, "%s/secret.key", data_dir);
    snprintf(text, sizeof text, "%s\n", hex);
    write_file(inside, text, 0600);
    refused(inside, "inside the data directory");
    /* Also when reached through a path that hides it. */
    char sneaky[240];
    snprintf(sneaky, sizeof sneaky, "%s/../data/./secret.key", data_dir);
    refused(sneaky, "inside the data directory");

    refused(dir, "not a regular file");
    path_in(path, sizeof path, "missing");
    refused(path, "cannot open");

    path_in(path, sizeof path, "empty");
    write_file(path, "# nothing here\n\n", 0600);
    refused(path, "holds no key");

    path_in(path, sizeof path, "short");
    write_file(path, "abcdef\n", 0600);
    refused(path, "64 hex digits");

    path_in(path, sizeof path, "nothex");
    snprintf(text, sizeof text, "%.63sz\n", hex);
    write_file(path, text, 0600);
    refused(path, "line 1: a key must be 64 hex digits");

    path_in(path, sizeof path, "two");
    snprintf(text, sizeof text, "%s %s\n", hex, hex);
    write_file(path, text, 0600);
    refused(path, "more than one key");

    path_in(path, sizeof path, "dup");
    snprintf(text, sizeof text, "%s\n# again\n%s\n", hex, hex);
    write_file(path, text, 0600);
    refused(path, "line 3: key id");
}

Test(seal, a_systemd_credential_needs_no_private_mode)
{
    char creds[160], path[200], hex[65], text[100];
    path_in(path, sizeof path, "k");
    cr_assert_eq(en_seal_key_create(path, why, sizeof why), 0, "%s", why);
    key_line("k", hex);
    snprintf(text, sizeof text, "%s\n", hex);
    /* As systemd hands it over: readable through an ACL, so the mode shows
     * group read. */
    path_in(creds, sizeof creds, "credentials");
    cr_assert_eq(mkdir(creds, 0500 | 0200), 0);
    snprintf(path, sizeof path, "%s/secret.key", creds);
    write_file(path, text, 0440);
    refused(path, "chmod 600");
    cr_assert_eq(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
    en_sealer_t *s = en_sealer_load(path, data_dir, why, sizeof why);
    cr_assert_not_null(s, "%s", why);
    en_sealer_free(s);
    /* Only there: the same file elsewhere is still refused. */
    char other[200];
    path_in(other, sizeof other, "other.key");
    write_file(other, text, 0440);
    refused(other, "chmod 600");
    cr_assert_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
}
