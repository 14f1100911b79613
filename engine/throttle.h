/* throttle.h - slowing down key guessing: failed hellos counted per client
 * address, and the delay before each `unauthorized` reply.
 *
 * The count of a connection alone is not enough, since a guesser can open
 * a new connection for each try; so failures are also counted per address
 * (without the port) in a small fixed table shared by the worker threads.
 * An address's count is forgotten EN_THROTTLE_WINDOW seconds after its last
 * failure. Only failed hellos take the table's mutex.
 */
#ifndef JM_ENGINE_THROTTLE_H
#define JM_ENGINE_THROTTLE_H

#include <stdint.h>

/* The delay before the first unauthorized reply; it doubles with each
 * further failure, up to EN_THROTTLE_DELAY_MAX_MS. */
#define EN_THROTTLE_DELAY_MS 100
#define EN_THROTTLE_DELAY_MAX_MS 5000
#define EN_THROTTLE_WINDOW 300

typedef struct en_throttle en_throttle_t;

en_throttle_t *en_throttle_new(void);
void en_throttle_free(en_throttle_t *t);

/* Counts a failed hello from addr ("host:port", "[v6]:port" or "unix"; the
 * port is ignored) at time now. Returns that address's failures within the
 * window, this one included. */
unsigned en_throttle_fail(en_throttle_t *t, const char *addr, int64_t now);

/* The delay in milliseconds before answering the n-th failure (n >= 1). */
unsigned en_throttle_delay_ms(unsigned n);

#endif
