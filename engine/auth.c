/* auth.c - roles, hashed keys, the key file and the admin key file. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

static const struct {
    unsigned role;
    const char *name;
} roles[] = {
    {EN_ROLE_KIOSK, "kiosk"},
    {EN_ROLE_COUNSELOR, "counselor"},
    {EN_ROLE_NODE, "node"},
    {EN_ROLE_ADMIN, "admin"},
};

const char *
en_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].role == role)
            return roles[i].name;
    return "none";
}

unsigned
en_role_parse(const char *name)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0)
            return roles[i].role;
    return 0;
}

static void
hash_secret(const char *secret, size_t len, uint8_t out[EN_KEY_HASH_LEN])
{
    crypto_generichash(out, EN_KEY_HASH_LEN, (const unsigned char *)secret,
                       len, NULL, 0);
}

int
en_keyring_add(en_keyring_t *kr, const char *name, unsigned role,
               const char *secret, size_t secret_len)
{
    uint8_t hash[EN_KEY_HASH_LEN];
    hash_secret(secret, secret_len, hash);
    int rc = en_keyring_add_hash(kr, name, role, hash);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int
en_keyring_add_hash(en_keyring_t *kr, const char *name, unsigned role,
                    const uint8_t hash[EN_KEY_HASH_LEN])
{
    if (strlen(name) >= EN_KEY_NAME_MAX)
        return -1;
    if (kr->n == kr->cap) {
        size_t cap = kr->cap ? kr->cap * 2 : 8;
        en_key_t *keys = realloc(kr->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        kr->keys = keys;
        kr->cap = cap;
    }
    en_key_t *k = &kr->keys[kr->n++];
    snprintf(k->name, sizeof k->name, "%s", name);
    k->role = role;
    memcpy(k->hash, hash, EN_KEY_HASH_LEN);
    return 0;
}

const en_key_t *
en_keyring_find(const en_keyring_t *kr, const char *secret, size_t secret_len)
{
    uint8_t h[EN_KEY_HASH_LEN];
    hash_secret(secret, secret_len, h);
    /* Compare with every entry and pick the first match without a branch,
     * so the time taken does not tell which entry matched. */
    size_t match = SIZE_MAX;
    for (size_t i = 0; i < kr->n; i++) {
        size_t eq = (size_t)(sodium_memcmp(h, kr->keys[i].hash, EN_KEY_HASH_LEN) == 0);
        size_t take = (size_t)0 - (eq & (size_t)(match == SIZE_MAX));
        match = (match & ~take) | (i & take);
    }
    sodium_memzero(h, sizeof h);
    return match == SIZE_MAX ? NULL : &kr->keys[match];
}

void
en_keyring_free(en_keyring_t *kr)
{
    if (kr->keys)
        sodium_memzero(kr->keys, kr->cap * sizeof *kr->keys);
    free(kr->keys);
    memset(kr, 0, sizeof *kr);
}

/* Reads the key file: the key is its first line. */
static int
read_key_file(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    /* Refusing would break set-ups that worked before the key file
     * existed, so only say so. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        en_warn("admin key file %s has mode %04o: group or others have access to it "
                "(chmod 600 it)", path, (unsigned)(st.st_mode & 07777));
    if (!fgets(buf, (int)cap, f)) {
        fclose(f);
        return -EINVAL;
    }
    fclose(f);
    size_t n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (n == 0)
        return -EINVAL;
    *len = n;
    return 0;
}

static int
create_key_file(const char *path, char *buf, size_t cap, size_t *len)
{
    unsigned char raw[24];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(buf, cap, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    *len = strlen(buf);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", buf);
    ssize_t w = write(fd, line, (size_t)n);
    int rc = (w == n && fsync(fd) == 0) ? 0 : -EIO;
    close(fd);
    sodium_memzero(line, sizeof line);
    return rc;
}

static int
load_admin(en_keyring_t *kr, const char *path, bool create)
{
    char key[256];
    size_t len = 0;
    const char *env = getenv("JOBMATCH_ADMIN_KEY");
    if (env && *env) {
        len = strlen(env);
        if (len >= sizeof key) {
            en_error("JOBMATCH_ADMIN_KEY is longer than %zu bytes", sizeof key - 1);
            return -1;
        }
        memcpy(key, env, len + 1);
    } else {
        int rc = read_key_file(path, key, sizeof key, &len);
        if (rc == -ENOENT && create) {
            rc = create_key_file(path, key, sizeof key, &len);
            if (rc == 0)
                en_info("generated a new admin key in %s", path);
        }
        if (rc != 0) {
            en_error("admin key file %s: %s", path,
                     rc == -EINVAL ? "empty or unreadable" : strerror(-rc));
            return -1;
        }
    }
    int rc = en_keyring_add(kr, "admin", EN_ROLE_ADMIN, key, len);
    sodium_memzero(key, sizeof key);
    return rc;
}

int
en_keyring_load_admin(en_keyring_t *kr, const char *path)
{
    return load_admin(kr, path, true);
}

int
en_keyring_reload_admin(en_keyring_t *kr, const char *path)
{
    return load_admin(kr, path, false);
}

/* ---- the key file ----------------------------------------------------- */

static bool
valid_key_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= EN_KEY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != ':' && ch != '@' && ch != '-')
            return false;
    }
    return true;
}

static int
parse_hash(const char *text, uint8_t out[EN_KEY_HASH_LEN])
{
    size_t scheme = strlen(EN_KEY_HASH_SCHEME);
    if (strncmp(text, EN_KEY_HASH_SCHEME, scheme) != 0)
        return -1;
    const char *hex = text + scheme;
    size_t bin_len = 0;
    if (strlen(hex) != 2 * EN_KEY_HASH_LEN ||
        sodium_hex2bin(out, EN_KEY_HASH_LEN, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
        bin_len != EN_KEY_HASH_LEN)
        return -1;
    return 0;
}

/* A readable key file gives away which hashes to attack (or, for the
 * secret key, the key itself), a writable one lets its writer add a key. */
int
en_check_key_file(int fd, const char *path, char *why, size_t why_len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "key file %s is not a regular file", path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, why_len,
                 "key file %s is owned by uid %u, not by the daemon's user (uid %u)",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(why, why_len,
                 "key file %s has mode %04o: group or others have access to it "
                 "(chmod 600 it)", path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* Parses one line (already stripped of its newline) into kr; first is the
 * index of the file's first key in kr, for the duplicate check. */
static int
parse_key_line(en_keyring_t *kr, size_t first, char *line, char *why,
               size_t why_len)
{
    char *save = NULL;
    const char *name = strtok_r(line, " \t", &save);
    const char *role_name = strtok_r(NULL, " \t", &save);
    const char *hash_text = strtok_r(NULL, " \t", &save);
    const char *extra = strtok_r(NULL, " \t", &save);
    if (!name || !role_name || !hash_text || extra) {
        snprintf(why, why_len, "want three fields: name role hash");
        return -1;
    }
    if (!valid_key_name(name)) {
        snprintf(why, why_len, "name: must be 1..%d bytes of [A-Za-z0-9._:@-]",
                 EN_KEY_NAME_MAX - 1);
        return -1;
    }
    unsigned role = en_role_parse(role_name);
    if (!role) {
        snprintf(why, why_len, "role: must be kiosk, counselor, node or admin");
        return -1;
    }
    uint8_t hash[EN_KEY_HASH_LEN];
    if (parse_hash(hash_text, hash) != 0) {
        snprintf(why, why_len, "hash: must be %s followed by %d hex digits",
                 EN_KEY_HASH_SCHEME, 2 * EN_KEY_HASH_LEN);
        return -1;
    }
    for (size_t i = first; i < kr->n; i++) {
        if (strcmp(kr->keys[i].name, name) == 0) {
            snprintf(why, why_len, "name %s: given twice", name);
            return -1;
        }
    }
    if (en_keyring_add_hash(kr, name, role, hash) != 0) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    return 0;
}

int
en_keyring_load_file(en_keyring_t *kr, const char *path, char *why, size_t why_len)
{
    /* Non-blocking, so that a FIFO in its place cannot hang the daemon
     * before the regular-file check refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, why_len, "key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (en_check_key_file(fd, path, why, why_len) != 0) {
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        snprintf(why, why_len, "key file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    size_t first = kr->n;
    char line[512], line_why[160];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(line_why, sizeof line_why, "longer than %zu bytes", sizeof line - 2);
            rc = -1;
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        rc = parse_key_line(kr, first, line, line_why, sizeof line_why);
    }
    if (rc != 0)
        snprintf(why, why_len, "key file %s, line %u: %s", path, lineno, line_why);
    else if (ferror(f)) {
        snprintf(why, why_len, "key file %s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int
en_key_file_line(const char *name, const char *role, const char *secret,
                 size_t secret_len, char *out, size_t cap)
{
    if (!valid_key_name(name)) {
        snprintf(out, cap, "name: must be 1..%d bytes of [A-Za-z0-9._:@-]",
                 EN_KEY_NAME_MAX - 1);
        return -1;
    }
    if (!en_role_parse(role)) {
        snprintf(out, cap, "role: must be kiosk, counselor, node or admin");
        return -1;
    }
    if (secret_len < EN_KEY_SECRET_MIN || secret_len > EN_KEY_SECRET_MAX) {
        snprintf(out, cap, "secret: must be %d..%d bytes (use a long random one)",
                 EN_KEY_SECRET_MIN, EN_KEY_SECRET_MAX);
        return -1;
    }
    uint8_t hash[EN_KEY_HASH_LEN];
    char hex[2 * EN_KEY_HASH_LEN + 1];
    hash_secret(secret, secret_len, hash);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    int n = snprintf(out, cap, "%s %s %s%s\n", name, role, EN_KEY_HASH_SCHEME, hex);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}
