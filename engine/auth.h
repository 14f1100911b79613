/* auth.h - roles and the keys that grant them.
 *
 * A key is a secret string; only its BLAKE2b hash is kept in memory, and a
 * presented key is hashed and compared with every entry in constant time,
 * so neither timing nor a memory dump gives a key away.
 *
 * The key file holds hashes only, one key per line:
 *
 *   # comment
 *   front-desk counselor blake2b:<64 hex digits>
 *
 * A plain (unsalted, fast) hash is enough because keys are long random
 * secrets, not passwords: en_key_file_line() refuses secrets shorter than
 * EN_KEY_SECRET_MIN bytes. A slow password hash would cost every hello
 * (once per connection) its time and memory for no gain.
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
#define EN_KEY_HASH_SCHEME "blake2b:"
/* The shortest secret en_key_file_line() hashes: 128 bits as 32 hex
 * digits, or as 16 random bytes in any encoding. */
#define EN_KEY_SECRET_MIN 16
#define EN_KEY_SECRET_MAX 1024

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
/* Adds a key by its hash; returns 0, or -1 as en_keyring_add. */
int en_keyring_add_hash(en_keyring_t *kr, const char *name, unsigned role,
                        const uint8_t hash[EN_KEY_HASH_LEN]);
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
/* The same, but a missing file is an error rather than created: for
 * reloading, when a vanished file is a mistake to report. */
int en_keyring_reload_admin(en_keyring_t *kr, const char *path);

/* Adds every key of the key file at path to kr. The file must be a
 * regular file owned by this process's user and neither readable nor
 * writable by group or others; each line is `name role hash` (see above),
 * names are 1..63 bytes of [A-Za-z0-9._:@-] and unique within the file.
 * Returns 0, or -1 with the reason (file, line) in why; kr may then hold
 * some of the keys and is for the caller to free. */
int en_keyring_load_file(en_keyring_t *kr, const char *path, char *why,
                         size_t why_len);

/* Refuses (-1, reason in why) a key file, open as fd, that is not a
 * regular file owned by this process's user with no access for group or
 * others. Returns 0 otherwise. */
int en_check_key_file(int fd, const char *path, char *why, size_t why_len);

/* Formats the key file line for a secret, newline included. Returns 0, or
 * -1 with the reason in out when the name, role or secret breaks a rule. */
int en_key_file_line(const char *name, const char *role, const char *secret,
                     size_t secret_len, char *out, size_t cap);

#endif
