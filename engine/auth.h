/* auth.h - roles and the keys that grant them.
 *
 * A key is a secret string; only its BLAKE2b hash is kept in memory, and a
 * presented key is hashed and compared with every entry in constant time,
 * so neither timing nor a memory dump gives a key away.
 */
#ifndef JM_ENGINE_AUTH_H
#define JM_ENGINE_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Roles are bits so that a command can name every role allowed to run it. */
enum en_role {
    EN_ROLE_KIOSK = 1u << 0,
    EN_ROLE_COUNSELOR = 1u << 1,
    EN_ROLE_NODE = 1u << 2,
    EN_ROLE_ADMIN = 1u << 3,
};
#define EN_ROLES_ALL (EN_ROLE_KIOSK | EN_ROLE_COUNSELOR | EN_ROLE_NODE | EN_ROLE_ADMIN)

const char *en_role_name(unsigned role);
/* Returns the role bit for "kiosk", "counselor", "node" or "admin", else 0. */
unsigned en_role_parse(const char *name);

#define EN_KEY_NAME_MAX 64
#define EN_KEY_HASH_LEN 32

typedef struct en_key {
    char name[EN_KEY_NAME_MAX];
    unsigned role;
    uint8_t hash[EN_KEY_HASH_LEN];
} en_key_t;

typedef struct en_keyring {
    en_key_t *keys;
    size_t n, cap;
} en_keyring_t;

/* Adds a key; returns 0, or -1 when out of memory or the name is too long. */
int en_keyring_add(en_keyring_t *kr, const char *name, unsigned role,
                   const char *secret, size_t secret_len);
/* Finds the key for a presented secret. Returns the entry or NULL. Takes
 * the same time whichever entry (if any) matches. */
const en_key_t *en_keyring_find(const en_keyring_t *kr, const char *secret,
                                size_t secret_len);
void en_keyring_free(en_keyring_t *kr);

/* Loads the admin key into kr under the name "admin": from the environment
 * variable JOBMATCH_ADMIN_KEY when set, else from path, which is created
 * with a new random key (mode 0600, the key alone on one line) when absent.
 * Returns 0 or -1 (reason logged). */
int en_keyring_load_admin(en_keyring_t *kr, const char *path);

#endif
