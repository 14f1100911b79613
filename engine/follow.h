/* follow.h - followers of the upstream nodes in [peers]: one thread per
 * peer pulls its changelog (sync.pull) over a connection of its own,
 * applies the vacancies through the writer, and keeps the peer's cursor
 * in the same transaction, so a restart of either side resumes where the
 * last commit left off (docs/network.md). */
#ifndef JM_ENGINE_FOLLOW_H
#define JM_ENGINE_FOLLOW_H

#include <msgpack.h>

#include "server.h"

typedef struct en_followers en_followers_t;

/* Starts a follower per configured peer (none: returns an empty set).
 * NULL when out of memory or a thread cannot start. */
en_followers_t *en_followers_start(en_server_t *srv);

/* Stops every follower (waiting for a batch being applied) and frees the
 * set. Call before stopping the writer. NULL is a no-op. */
void en_followers_stop(en_followers_t *fs);

/* Packs an array with one map per peer: name, address, node, connected,
 * cursor, last, lag, last_pull, applied, skipped, error (admin.info). */
void en_followers_pack(en_followers_t *fs, msgpack_packer *pk);

#endif
