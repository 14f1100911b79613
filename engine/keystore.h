/* keystore.h - the daemon's live keys: one keyring built from every source
 * (the config file's [keys], the key file, the admin key), replaced whole
 * when SIGHUP asks for a reload.
 *
 * Worker threads look keys up only in hello, once per connection; the
 * per-request role check reads the connection's own role and never comes
 * here. So a read-write lock is cheap: readers hold it for one hash and a
 * few comparisons, and the reloading thread holds it only to swap a
 * pointer; the old keyring is freed once no reader can see it.
 */
#ifndef JM_ENGINE_KEYSTORE_H
#define JM_ENGINE_KEYSTORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "config.h"

typedef struct en_keystore {
    pthread_rwlock_t lock;
    en_keyring_t *ring;
} en_keystore_t;

/* Loads every source for the start of the daemon (the admin key file is
 * created when absent). Returns 0, or -1 (reason logged). */
int en_keystore_init(en_keystore_t *ks, const en_config_t *cfg);

/* Reads every source again (the config file's [keys] from the file, not
 * from cfg) and replaces the keys. On any error the keys in use stay and
 * the reason is logged. Returns 0 or -1. */
int en_keystore_reload(en_keystore_t *ks, const en_config_t *cfg);

/* Finds the key for a presented secret, in constant time per entry. On a
 * match copies its name and role out and returns true. */
bool en_keystore_find(en_keystore_t *ks, const char *secret, size_t secret_len,
                      char name[EN_KEY_NAME_MAX], unsigned *role);

void en_keystore_free(en_keystore_t *ks);

#endif
