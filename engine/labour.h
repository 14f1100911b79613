/* labour.h - the figures of stats.supply_demand and stats.reemployment
 * (ops_labour.c), for their handlers and for the network roll-ups
 * (federate.h). */
#ifndef JM_ENGINE_LABOUR_H
#define JM_ENGINE_LABOUR_H

#include <stdbool.h>

#include <msgpack.h>

#include "error.h"
#include "index.h"

/* Packs stats.supply_demand's result for args (docs/protocol.md 5.23):
 * with own, of this node's own vacancies only (copies of other nodes'
 * left out) and its workers. 0, or -1 with err set (nothing packed). */
int en_supply_demand(ix_env_t *ix, const msgpack_object *args, bool own, msgpack_packer *pk,
                     pr_error_t *err);

/* Packs stats.reemployment's result for args (docs/protocol.md 5.25):
 * the workers and hires of this node, which are always its own. 0, or -1
 * with err set (nothing packed). */
int en_reemployment(ix_env_t *ix, const msgpack_object *args, msgpack_packer *pk,
                    pr_error_t *err);

#endif
