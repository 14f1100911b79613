/* test_auth.c - roles, the keyring and the admin key file. */
#define _GNU_SOURCE  /* mkdtemp */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"

static char dir[64];

/* A fresh directory per test, without JOBMATCH_ADMIN_KEY in the
 * environment unless a test sets it; log lines are kept out of the output. */
static void
setup(void)
{
    cr_redirect_stderr();
    cr_assert_geq(sodium_init(), 0);
    unsetenv("JOBMATCH_ADMIN_KEY");
    snprintf(dir, sizeof dir, "/tmp/jobmatch-auth-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/admin.key", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/other.key", dir);
    unlink(path);
    rmdir(dir);
}

TestSuite(auth, .init = setup, .fini = teardown);

static const en_key_t *
find(const en_keyring_t *kr, const char *secret)
{
    return en_keyring_find(kr, secret, strlen(secret));
}

/* Reads the whole file at path into buf (NUL-terminated); returns its size. */
static size_t
slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

Test(auth, role_names)
{
    static const struct {
        unsigned role;
        const char *name;
    } roles[] = {{EN_ROLE_KIOSK, "kiosk"}, {EN_ROLE_COUNSELOR, "counselor"},
                 {EN_ROLE_NODE, "node"}, {EN_ROLE_ADMIN, "admin"}};
    unsigned all = 0;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(en_role_name(roles[i].role), roles[i].name);
        cr_assert_eq(en_role_parse(roles[i].name), roles[i].role);
        cr_assert_eq(all & roles[i].role, 0, "role bits overlap");
        all |= roles[i].role;
    }
    cr_assert_eq(all, EN_ROLES_ALL);
    cr_assert_eq(en_role_parse("Admin"), 0);
    cr_assert_eq(en_role_parse(""), 0);
    cr_assert_eq(en_role_parse("admin "), 0);
    cr_assert_str_eq(en_role_name(0), "none");
    cr_assert_str_eq(en_role_name(EN_ROLE_KIOSK | EN_ROLE_ADMIN), "none");
}

Test(auth, keyring_add_and_find)
{
    en_keyring_t kr = {0};
    cr_assert_eq(en_keyring_add(&kr, "desk", EN_ROLE_COUNSELOR, "s3cret", 6), 0);
    cr_assert_eq(en_keyring_add(&kr, "peer", EN_ROLE_NODE, "peer-key", 8), 0);
    /* A secret with a NUL inside: the length, not strlen, is the key. */
    cr_assert_eq(en_keyring_add(&kr, "bin", EN_ROLE_ADMIN, "ab\0cd", 5), 0);
    cr_assert_eq(kr.n, 3);

    const en_key_t *k = find(&kr, "s3cret");
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "desk");
    cr_assert_eq(k->role, EN_ROLE_COUNSELOR);
    k = find(&kr, "peer-key");
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "peer");
    cr_assert_eq(k->role, EN_ROLE_NODE);
    k = en_keyring_find(&kr, "ab\0cd", 5);
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "bin");

    /* Wrong keys: near misses, prefixes, extensions, case, empty. */
    const char *wrong[] = {"s3cre", "s3cret!", "S3CRET", "", "desk", "peer-key ",
                           "ab"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        cr_assert_null(find(&kr, wrong[i]), "'%s' was accepted", wrong[i]);
    cr_assert_null(en_keyring_find(&kr, "ab\0cx", 5));

    /* Only hashes are kept: the secret's bytes are not in the entry. */
    for (size_t i = 0; i < kr.n; i++)
        cr_assert_null(memmem(&kr.keys[i], sizeof kr.keys[i], "s3cret", 6));
    en_keyring_free(&kr);
    cr_assert_eq(kr.n, 0);
    cr_assert_null(kr.keys);
    cr_assert_null(find(&kr, "s3cret"));
}

Test(auth, keyring_grows_and_limits_names)
{
    en_keyring_t kr = {0};
    char name[EN_KEY_NAME_MAX + 8], secret[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "k%d", i);
        snprintf(secret, sizeof secret, "secret-%d", i);
        cr_assert_eq(en_keyring_add(&kr, name, EN_ROLE_COUNSELOR, secret, strlen(secret)), 0);
    }
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "k%d", i);
        snprintf(secret, sizeof secret, "secret-%d", i);
        const en_key_t *k = find(&kr, secret);
        cr_assert_not_null(k, "%s not found", secret);
        cr_assert_str_eq(k->name, name);
    }
    memset(name, 'n', EN_KEY_NAME_MAX - 1);
    name[EN_KEY_NAME_MAX - 1] = '\0';
    cr_assert_eq(en_keyring_add(&kr, name, EN_ROLE_NODE, "x", 1), 0);
    name[EN_KEY_NAME_MAX - 1] = 'n';
    name[EN_KEY_NAME_MAX] = '\0';
    cr_assert_eq(en_keyring_add(&kr, name, EN_ROLE_NODE, "y", 1), -1);
    cr_assert_null(find(&kr, "y"));
    cr_assert_eq(kr.n, 101);
    en_keyring_free(&kr);
}

Test(auth, admin_key_file_is_generated_private_and_reused)
{
    char path[128];
    snprintf(path, sizeof path, "%s/admin.key", dir);
    en_keyring_t kr = {0};
    cr_assert_eq(en_keyring_load_admin(&kr, path), 0);

    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "no key file created");
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600, "key file mode %o", st.st_mode & 0777);

    /* The file holds the key alone, on one line. */
    char text[512];
    size_t n = slurp(path, text, sizeof text);
    cr_assert_gt(n, 1);
    cr_assert_eq(text[n - 1], '\n');
    text[n - 1] = '\0';
    cr_assert_null(strchr(text, '\n'), "more than one line");
    cr_assert_geq(strlen(text), 32, "key too short to be secure: %zu", strlen(text));
    for (char *p = text; *p; p++)
        cr_assert(isgraph((unsigned char)*p), "key holds a blank or control byte");

    const en_key_t *k = find(&kr, text);
    cr_assert_not_null(k, "the key in the file is not the one loaded");
    cr_assert_str_eq(k->name, "admin");
    cr_assert_eq(k->role, EN_ROLE_ADMIN);
    en_keyring_free(&kr);

    /* Loading again reads the same key; the file is left as it was. */
    cr_assert_eq(en_keyring_load_admin(&kr, path), 0);
    cr_assert_not_null(find(&kr, text));
    char again[512];
    slurp(path, again, sizeof again);
    again[strcspn(again, "\n")] = '\0';
    cr_assert_str_eq(again, text);
    en_keyring_free(&kr);

    /* Another file gets another key. */
    char other[128];
    snprintf(other, sizeof other, "%s/other.key", dir);
    cr_assert_eq(en_keyring_load_admin(&kr, other), 0);
    cr_assert_null(find(&kr, text), "two generated keys are equal");
    en_keyring_free(&kr);
}

Test(auth, admin_key_file_written_by_hand_is_read)
{
    char path[128];
    snprintf(path, sizeof path, "%s/admin.key", dir);
    FILE *f = fopen(path, "w");
    fputs("hand-written-key\r\nsecond line is ignored\n", f);
    fclose(f);
    en_keyring_t kr = {0};
    cr_assert_eq(en_keyring_load_admin(&kr, path), 0);
    cr_assert_not_null(find(&kr, "hand-written-key"));
    cr_assert_null(find(&kr, "hand-written-key\r"));
    cr_assert_null(find(&kr, "second line is ignored"));
    en_keyring_free(&kr);
}

Test(auth, environment_key_wins)
{
    char path[128];
    snprintf(path, sizeof path, "%s/admin.key", dir);

    /* No file is created when the environment supplies the key. */
    setenv("JOBMATCH_ADMIN_KEY", "env-admin-key", 1);
    en_keyring_t kr = {0};
    cr_assert_eq(en_keyring_load_admin(&kr, path), 0);
    cr_assert_eq(access(path, F_OK), -1, "a key file was created anyway");
    const en_key_t *k = find(&kr, "env-admin-key");
    cr_assert_not_null(k);
    cr_assert_eq(k->role, EN_ROLE_ADMIN);
    en_keyring_free(&kr);

    /* With a file present, the environment still wins and the file's key
     * is not accepted. */
    FILE *f = fopen(path, "w");
    fputs("file-admin-key\n", f);
    fclose(f);
    cr_assert_eq(en_keyring_load_admin(&kr, path), 0);
    cr_assert_not_null(find(&kr, "env-admin-key"));
    cr_assert_null(find(&kr, "file-admin-key"));
    cr_assert_eq(kr.n, 1);
    en_keyring_free(&kr);

    /* An empty variable counts as unset. */
    setenv("JOBMATCH_ADMIN_KEY", "", 1);
    cr_assert_eq(en_keyring_load_admin(&kr, path), 0);
    cr_assert_not_null(find(&kr, "file-admin-key"));
    cr_assert_null(find(&kr, ""));
    en_keyring_free(&kr);
}

Test(auth, unusable_key_sources_fail)
{
    en_keyring_t kr = {0};
    char path[128];

    /* Empty file. */
    snprintf(path, sizeof path, "%s/admin.key", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    cr_assert_eq(en_keyring_load_admin(&kr, path), -1);
    /* First line empty. */
    f = fopen(path, "w");
    fputs("\nkey-on-line-two\n", f);
    fclose(f);
    cr_assert_eq(en_keyring_load_admin(&kr, path), -1);
    cr_assert_eq(kr.n, 0);

    /* A directory that does not exist: the key cannot be generated. */
    snprintf(path, sizeof path, "%s/missing/admin.key", dir);
    cr_assert_eq(en_keyring_load_admin(&kr, path), -1);
    cr_assert_eq(kr.n, 0);

    /* An environment key too long for the loader. */
    char big[300];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    setenv("JOBMATCH_ADMIN_KEY", big, 1);
    snprintf(path, sizeof path, "%s/admin.key", dir);
    cr_assert_eq(en_keyring_load_admin(&kr, path), -1);
    cr_assert_eq(kr.n, 0);
    en_keyring_free(&kr);
}

/* ---- the key file ------------------------------------------------------ */

static const char *
key_file(const char *text, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/other.key", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
    return path;
}

Test(auth, key_file_lines_hold_the_hash_and_load_back)
{
    char desk[256], peer[256];
    cr_assert_eq(en_key_file_line("desk", "counselor", "desk-secret-0123456789", 22,
                                  desk, sizeof desk), 0, "%s", desk);
    cr_assert_eq(en_key_file_line("peer@city", "node", "peer-secret-0123456789", 22,
                                  peer, sizeof peer), 0, "%s", peer);
    cr_assert_null(strstr(desk, "desk-secret"));
    char text[700];
    snprintf(text, sizeof text, "# keys\n\n  %s\t%s", desk, peer);
    en_keyring_t kr = {0};
    char why[256] = "";
    cr_assert_eq(en_keyring_load_file(&kr, key_file(text, 0600), why, sizeof why), 0, "%s", why);
    cr_assert_eq(kr.n, 2);
    const en_key_t *k = find(&kr, "desk-secret-0123456789");
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "desk");
    cr_assert_eq(k->role, EN_ROLE_COUNSELOR);
    k = find(&kr, "peer-secret-0123456789");
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "peer@city");
    cr_assert_eq(k->role, EN_ROLE_NODE);
    cr_assert_null(find(&kr, "desk-secret-012345678"));
    en_keyring_free(&kr);
}

Test(auth, key_file_line_refuses_weak_input)
{
    char out[256];
    cr_assert_eq(en_key_file_line("desk", "counselor", "short", 5, out, sizeof out), -1);
    cr_assert(strstr(out, "secret:"), "%s", out);
    cr_assert_eq(en_key_file_line("", "kiosk", "0123456789abcdef", 16, out, sizeof out), -1);
    cr_assert(strstr(out, "name:"), "%s", out);
    cr_assert_eq(en_key_file_line("a b", "kiosk", "0123456789abcdef", 16, out, sizeof out), -1);
    cr_assert_eq(en_key_file_line("desk", "root", "0123456789abcdef", 16, out, sizeof out), -1);
    cr_assert(strstr(out, "role:"), "%s", out);
}

Test(auth, key_file_refused_when_group_or_others_have_access)
{
    char line[256], why[256];
    cr_assert_eq(en_key_file_line("desk", "admin", "desk-secret-0123456789", 22, line,
                                  sizeof line), 0);
    static const mode_t modes[] = {0640, 0604, 0620, 0602, 0610, 0601};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        en_keyring_t kr = {0};
        cr_assert_eq(en_keyring_load_file(&kr, key_file(line, modes[i]), why, sizeof why), -1,
                     "mode %04o accepted", (unsigned)modes[i]);
        cr_assert(strstr(why, "group or others"), "%s", why);
        cr_assert_eq(kr.n, 0);
        en_keyring_free(&kr);
    }
    en_keyring_t kr = {0};
    cr_assert_eq(en_keyring_load_file(&kr, key_file(line, 0400), why, sizeof why), 0, "%s", why);
    cr_assert_eq(kr.n, 1);
    en_keyring_free(&kr);
}
