/* throttle.c - failed hellos per address, in a fixed hashed table. */
#include "throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024
#define PROBE 8
#define ADDR_MAX 64

typedef struct slot {
    char addr[ADDR_MAX];
    unsigned failures;
    int64_t last;
} slot_t;

struct en_throttle {
    pthread_mutex_t lock;
    slot_t slots[SLOTS];
};

en_throttle_t *
en_throttle_new(void)
{
    en_throttle_t *t = calloc(1, sizeof *t);
    if (t)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

void
en_throttle_free(en_throttle_t *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* The address without its port: "1.2.3.4:5678" -> "1.2.3.4",
 * "[::1]:5678" -> "[::1]"; anything without a port stays whole. */
static void
host_of(const char *addr, char out[ADDR_MAX])
{
    size_t len = strlen(addr);
    const char *colon = strrchr(addr, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
        (addr[0] != '[' || (colon > addr && colon[-1] == ']')))
        len = (size_t)(colon - addr);
    if (len >= ADDR_MAX)
        len = ADDR_MAX - 1;
    memcpy(out, addr, len);
    out[len] = '\0';
}

static uint32_t
hash_of(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

unsigned
en_throttle_fail(en_throttle_t *t, const char *addr, int64_t now)
{
    char host[ADDR_MAX];
    host_of(addr, host);
    uint32_t h = hash_of(host);
    pthread_mutex_lock(&t->lock);
    /* The address's slot among the probed ones, else the stalest of them
     * (an expired or the least recently failed). */
    slot_t *found = NULL, *stalest = NULL;
    int64_t stalest_when = INT64_MAX;
    for (unsigned i = 0; i < PROBE; i++) {
        slot_t *s = &t->slots[(h + i) % SLOTS];
        if (s->failures && strcmp(s->addr, host) == 0) {
            found = s;
            break;
        }
        int64_t when = s->failures ? s->last : INT64_MIN;
        if (when < stalest_when) {
            stalest = s;
            stalest_when = when;
        }
    }
    if (found && now - found->last > EN_THROTTLE_WINDOW)
        found->failures = 0;
    if (!found) {
        found = stalest;
        memcpy(found->addr, host, sizeof host);
        found->failures = 0;
    }
    if (found->failures < UINT32_MAX / 2)
        found->failures++;
    found->last = now;
    unsigned n = found->failures;
    pthread_mutex_unlock(&t->lock);
    return n;
}

unsigned
en_throttle_delay_ms(unsigned n)
{
    unsigned delay = EN_THROTTLE_DELAY_MS;
    for (unsigned i = 1; i < n && delay < EN_THROTTLE_DELAY_MAX_MS; i++)
        delay *= 2;
    return delay < EN_THROTTLE_DELAY_MAX_MS ? delay : EN_THROTTLE_DELAY_MAX_MS;
}
