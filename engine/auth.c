/* auth.c - roles, hashed keys and the admin key file. */
#include "auth.h"

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
    hash_secret(secret, secret_len, k->hash);
    return 0;
}

const en_key_t *
en_keyring_find(const en_keyring_t *kr, const char *secret, size_t secret_len)
{
    uint8_t h[EN_KEY_HASH_LEN];
    hash_secret(secret, secret_len, h);
    const en_key_t *found = NULL;
    /* Compare with every entry, so the time taken does not tell which
     * entry matched. */
    for (size_t i = 0; i < kr->n; i++) {
        bool eq = sodium_memcmp(h, kr->keys[i].hash, EN_KEY_HASH_LEN) == 0;
        if (eq && !found)
            found = &kr->keys[i];
    }
    sodium_memzero(h, sizeof h);
    return found;
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

int
en_keyring_load_admin(en_keyring_t *kr, const char *path)
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
        if (rc == -ENOENT) {
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
