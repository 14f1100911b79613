/* seal.c - the secret key file and sealing personal data with it. */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"

#define HEADER_LEN (1 + EN_SEAL_NONCE_LEN)
#define KEY_HEX_LEN (2 * EN_SEAL_KEY_LEN)
/* A key file is a few lines; anything longer is not one. */
#define KEY_FILE_MAX 4096

struct en_sealer {
    unsigned n;
    uint8_t ids[EN_SEAL_KEYS_MAX];
    uint8_t keys[EN_SEAL_KEYS_MAX][EN_SEAL_KEY_LEN];
};

static int
fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

static uint8_t
key_id(const uint8_t key[EN_SEAL_KEY_LEN])
{
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, key, EN_SEAL_KEY_LEN, NULL, 0);
    return h[0];
}

int
en_seal_key_create(const char *path, char *why, size_t why_len)
{
    uint8_t key[EN_SEAL_KEY_LEN];
    char hex[KEY_HEX_LEN + 1];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    char text[256];
    int n = snprintf(text, sizeof text,
                     "# jobmatch secret key (id %02x): seals personal data at rest.\n"
                     "# Keep it outside the data directory, mode 0600, and back it up\n"
                     "# apart from the data: without it personal fields cannot be read.\n"
                     "%s\n",
                     key_id(key), hex);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    int rc = -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(why, why_len, "cannot create %s: %s", path, strerror(errno));
    } else {
        if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
            fail(why, why_len, "cannot write %s: %s", path, strerror(errno));
        else
            rc = 0;
        close(fd);
        if (rc != 0)
            unlink(path);
    }
    sodium_memzero(text, sizeof text);
    return rc;
}

/* True when path names something inside dir (both resolved). */
static bool
inside(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp) || !realpath(dir, rd))
        return false;
    size_t n = strlen(rd);
    if (n == 1)  /* the data directory is / */
        return true;
    return strncmp(rp, rd, n) == 0 && rp[n] == '/';
}

/* Reads the whole file behind fd into buf (NUL-terminated). */
static ssize_t
read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == cap - 1)
            return -1;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Parses the key lines of text into s. */
static int
parse_keys(en_sealer_t *s, char *text, const char *path, char *why,
           size_t why_len)
{
    unsigned line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        line[strcspn(line, "\r")] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        size_t len = strcspn(p, " \t");
        if (p[len + strspn(p + len, " \t")] != '\0')
            return fail(why, why_len, "%s line %u: more than one key on the line",
                        path, line_no);
        if (s->n == EN_SEAL_KEYS_MAX)
            return fail(why, why_len, "%s: more than %d keys", path, EN_SEAL_KEYS_MAX);
        size_t bin_len = 0;
        if (len != KEY_HEX_LEN ||
            sodium_hex2bin(s->keys[s->n], EN_SEAL_KEY_LEN, p, len, NULL, &bin_len,
                           NULL) != 0 ||
            bin_len != EN_SEAL_KEY_LEN)
            return fail(why, why_len,
                        "%s line %u: a key must be %d hex digits (make one with "
                        "jobmatchd --gen-secret-key FILE)",
                        path, line_no, KEY_HEX_LEN);
        s->ids[s->n] = key_id(s->keys[s->n]);
        for (unsigned i = 0; i < s->n; i++)
            if (s->ids[i] == s->ids[s->n])
                return fail(why, why_len,
                            "%s line %u: key id %02x is already taken by another key "
                            "in the file; generate another key",
                            path, line_no, s->ids[s->n]);
        s->n++;
    }
    if (s->n == 0)
        return fail(why, why_len, "%s holds no key", path);
    return 0;
}

en_sealer_t *
en_sealer_load(const char *path, const char *data_dir, char *why,
               size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    /* A systemd credential is owned and guarded by the service manager
     * (root's file with an ACL for the service's user, or the user's own):
     * its access is the manager's business, not the file mode's. */
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    bool credential = creds && *creds && inside(path, creds);
    struct stat st;
    if (credential ? fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
                   : en_check_key_file(fd, path, why, why_len) != 0) {
        if (credential)
            fail(why, why_len, "credential %s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (inside(path, data_dir)) {
        fail(why, why_len,
             "%s lies inside the data directory %s; keep the key apart from "
             "the data it protects",
             path, data_dir);
        close(fd);
        return NULL;
    }
    char *text = sodium_malloc(KEY_FILE_MAX);
    en_sealer_t *s = sodium_malloc(sizeof *s);
    if (!text || !s) {
        fail(why, why_len, "out of memory");
        close(fd);
        sodium_free(text);
        sodium_free(s);
        return NULL;
    }
    ssize_t len = read_all(fd, text, KEY_FILE_MAX);
    close(fd);
    memset(s, 0, sizeof *s);
    int rc = len < 0 ? fail(why, why_len, "cannot read %s (or larger than %d bytes)",
                            path, KEY_FILE_MAX - 1)
                     : parse_keys(s, text, path, why, why_len);
    sodium_free(text);
    if (rc != 0) {
        sodium_free(s);
        return NULL;
    }
    sodium_mprotect_readonly(s);
    return s;
}

en_sealer_t *
en_sealer_open(const char *path, const char *data_dir, char *used, size_t used_len,
               bool *created, char *why, size_t why_len)
{
    *created = false;
    if (path[0]) {
        snprintf(used, used_len, "%s", path);
        return en_sealer_load(path, data_dir, why, why_len);
    }
    /* DATA.secret.key: the data directory's name without trailing '/', so
     * the file lands beside it. */
    size_t n = strlen(data_dir);
    while (n > 1 && data_dir[n - 1] == '/')
        n--;
    if (n == 0 || (n == 1 && data_dir[0] == '/')) {
        fail(why, why_len, "no default key file beside the data directory %s; set secret_key_file",
             data_dir);
        return NULL;
    }
    if ((size_t)snprintf(used, used_len, "%.*s.secret.key", (int)n, data_dir) >= used_len) {
        fail(why, why_len, "the data directory's path is too long");
        return NULL;
    }
    if (access(used, F_OK) != 0 && errno == ENOENT) {
        if (en_seal_key_create(used, why, why_len) != 0)
            return NULL;
        *created = true;
    }
    return en_sealer_load(used, data_dir, why, why_len);
}

void
en_sealer_free(en_sealer_t *s)
{
    sodium_free(s);  /* wipes; NULL is fine */
}

uint8_t
en_sealer_key_id(const en_sealer_t *s)
{
    return s->ids[0];
}

size_t
en_seal_size(size_t plain_len)
{
    return HEADER_LEN + (plain_len / EN_SEAL_BLOCK + 1) * EN_SEAL_BLOCK +
           EN_SEAL_TAG_LEN;
}

int
en_seal(const en_sealer_t *s, const void *ad, size_t ad_len,
        const void *plain, size_t plain_len, uint8_t *out)
{
    uint8_t *nonce = out + 1, *body = out + HEADER_LEN;
    size_t padded_len = en_seal_size(plain_len) - HEADER_LEN - EN_SEAL_TAG_LEN;
    size_t padded;
    out[0] = s->ids[0];
    randombytes_buf(nonce, EN_SEAL_NONCE_LEN);
    memcpy(body, plain, plain_len);
    sodium_pad(&padded, body, plain_len, EN_SEAL_BLOCK, padded_len);
    unsigned long long sealed_len;
    /* In place: libsodium allows the message and ciphertext to coincide. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(body, &sealed_len, body, padded,
                                               ad, ad_len, NULL, nonce, s->keys[0]);
    return 0;
}

int
en_unseal(const en_sealer_t *s, const void *ad, size_t ad_len,
          const uint8_t *sealed, size_t sealed_len, uint8_t *out,
          size_t *plain_len, uint8_t *key_id_out)
{
    if (sealed_len < en_seal_size(0))
        return -EBADMSG;
    if (key_id_out)
        *key_id_out = sealed[0];
    const uint8_t *key = NULL;
    for (unsigned i = 0; s && i < s->n && !key; i++)
        if (s->ids[i] == sealed[0])
            key = s->keys[i];
    if (!key)
        return -ENOKEY;
    unsigned long long padded;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &padded, NULL, sealed + HEADER_LEN,
                                                   sealed_len - HEADER_LEN, ad, ad_len,
                                                   sealed + 1, key) != 0)
        return -EBADMSG;
    if (sodium_unpad(plain_len, out, (size_t)padded, EN_SEAL_BLOCK) != 0)
        return -EBADMSG;
    return 0;
}
