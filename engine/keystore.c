/* keystore.c - building the keyring from its sources, and swapping it. */
#define _GNU_SOURCE  /* pthread_rwlockattr_setkind_np */
#include "keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void
admin_key_path(const en_config_t *cfg, char *buf, size_t len)
{
    if (cfg->admin_key_file[0])
        snprintf(buf, len, "%s", cfg->admin_key_file);
    else
        snprintf(buf, len, "%s/admin.key", cfg->data_dir);
}

static int
copy_keys(en_keyring_t *dst, const en_keyring_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (en_keyring_add_hash(dst, src->keys[i].name, src->keys[i].role,
                                src->keys[i].hash) != 0)
            return -1;
    return 0;
}

/* Builds a keyring from the config's keys (config_keys, or the config file
 * read again when NULL), the key file and the admin key. */
static en_keyring_t *
build(const en_config_t *cfg, const en_keyring_t *config_keys, bool first)
{
    en_keyring_t *kr = calloc(1, sizeof *kr);
    char why[700], path[600];
    if (!kr) {
        en_error("keys: out of memory");
        return NULL;
    }
    int rc = 0;
    snprintf(why, sizeof why, "keys: out of memory");
    if (config_keys)
        rc = copy_keys(kr, config_keys);
    else if (cfg->config_path[0])
        rc = en_config_read_keys(cfg->config_path, kr, why, sizeof why);
    size_t from_config = kr->n;
    if (rc == 0 && cfg->key_file[0])
        rc = en_keyring_load_file(kr, cfg->key_file, why, sizeof why);
    if (rc != 0) {
        en_error("%s", why);
        goto fail;
    }
    size_t from_file = kr->n - from_config;
    admin_key_path(cfg, path, sizeof path);
    rc = first ? en_keyring_load_admin(kr, path) : en_keyring_reload_admin(kr, path);
    if (rc != 0)
        goto fail;
    en_info("keys: %zu from the config file, %zu from the key file, and the admin key",
            from_config, from_file);
    return kr;
fail:
    en_keyring_free(kr);
    free(kr);
    return NULL;
}

int
en_keystore_init(en_keystore_t *ks, const en_config_t *cfg)
{
    /* A reload must not wait behind an endless stream of hellos. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ks->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    ks->ring = build(cfg, &cfg->keys, true);
    return ks->ring ? 0 : -1;
}

int
en_keystore_reload(en_keystore_t *ks, const en_config_t *cfg)
{
    en_keyring_t *fresh = build(cfg, NULL, false);
    if (!fresh) {
        en_error("keys not reloaded; the keys in use stay");
        return -1;
    }
    pthread_rwlock_wrlock(&ks->lock);
    en_keyring_t *old = ks->ring;
    ks->ring = fresh;
    pthread_rwlock_unlock(&ks->lock);
    /* Past the write lock no reader holds old. */
    en_keyring_free(old);
    free(old);
    en_info("keys reloaded");
    return 0;
}

bool
en_keystore_find(en_keystore_t *ks, const char *secret, size_t secret_len,
                 char name[EN_KEY_NAME_MAX], unsigned *role)
{
    pthread_rwlock_rdlock(&ks->lock);
    const en_key_t *k = en_keyring_find(ks->ring, secret, secret_len);
    if (k) {
        snprintf(name, EN_KEY_NAME_MAX, "%s", k->name);
        *role = k->role;
    }
    pthread_rwlock_unlock(&ks->lock);
    return k != NULL;
}

void
en_keystore_free(en_keystore_t *ks)
{
    if (ks->ring) {
        en_keyring_free(ks->ring);
        free(ks->ring);
        ks->ring = NULL;
    }
    pthread_rwlock_destroy(&ks->lock);
}
