/* seal.h - personal data sealed at rest: authenticated encryption
 * (XChaCha20-Poly1305-IETF, libsodium) under the daemon's secret key.
 *
 * A sealed value is
 *
 *   | key id (1) | nonce (24) | ciphertext (padded plaintext) | tag (16) |
 *
 * with a fresh random nonce per value. The caller's associated data (the
 * record's kind and id) is authenticated with it, so a sealed value copied
 * into another record does not open. The plaintext is padded to a multiple
 * of EN_SEAL_BLOCK bytes, so a value's size says little about its length.
 *
 * The secret key file holds one key per line as 64 hex digits (32 bytes);
 * blank lines and lines starting with '#' are ignored. The first key seals,
 * every key in the file opens what it sealed: to rotate, put a new key first
 * and keep the old ones below until nothing sealed under them is left. A
 * key's id is the first byte of its BLAKE2b hash; keys sharing an id are
 * refused. Keys live in guarded memory (sodium_malloc), read-only once
 * loaded, and are wiped when freed.
 *
 * A sealer is immutable after loading, so any thread may seal and open
 * with it at once.
 */
#ifndef JM_ENGINE_SEAL_H
#define JM_ENGINE_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EN_SEAL_KEY_LEN 32
#define EN_SEAL_NONCE_LEN 24
#define EN_SEAL_TAG_LEN 16
#define EN_SEAL_BLOCK 16
#define EN_SEAL_KEYS_MAX 8

typedef struct en_sealer en_sealer_t;

/* Writes a new random key to path (created, mode 0600; an existing file is
 * never overwritten). Returns 0 or -1 with the reason in why. */
int en_seal_key_create(const char *path, char *why, size_t why_len);

/* Loads the key file at path. Refuses (NULL, reason in why) a file that
 * en_check_key_file refuses (not a regular file of this user's, or open to
 * group or others; a systemd credential, under $CREDENTIALS_DIRECTORY, need
 * only be a regular file), that lies inside data_dir (which must exist), or
 * that holds no key, a malformed line or two keys with one id. */
en_sealer_t *en_sealer_load(const char *path, const char *data_dir,
                            char *why, size_t why_len);

/* The daemon's key: the file at path, or when path is "" the default
 * DATA.secret.key beside data_dir (never inside it), created with a new key
 * when absent (*created tells). The path used is copied to used. Returns
 * the sealer, or NULL with the reason in why. */
en_sealer_t *en_sealer_open(const char *path, const char *data_dir, char *used,
                            size_t used_len, bool *created, char *why,
                            size_t why_len);
void en_sealer_free(en_sealer_t *s);

/* The id of the key that seals. */
uint8_t en_sealer_key_id(const en_sealer_t *s);

/* Bytes en_seal writes for plain_len bytes of plaintext. */
size_t en_seal_size(size_t plain_len);

/* Seals plain under the first key into out, which holds
 * en_seal_size(plain_len) bytes (plain may not overlap out). Returns 0. */
int en_seal(const en_sealer_t *s, const void *ad, size_t ad_len,
            const void *plain, size_t plain_len, uint8_t *out);

/* Opens a sealed value into out (at least sealed_len bytes) and sets
 * *plain_len. Returns 0; -ENOKEY when s is NULL or holds no key with the
 * value's key id (*key_id tells which one it needs; key_id may be NULL);
 * -EBADMSG when the value does not authenticate (altered, truncated,
 * sealed for other associated data) or its padding is malformed. */
int en_unseal(const en_sealer_t *s, const void *ad, size_t ad_len,
              const uint8_t *sealed, size_t sealed_len, uint8_t *out,
              size_t *plain_len, uint8_t *key_id);

#endif
