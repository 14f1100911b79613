/* backup.h - admin.backup runs one hot backup at a time on a thread of its
 * own, so that neither the event loops nor the writer wait for it; the
 * request is answered when the copy is on disk.
 */
#ifndef JM_ENGINE_BACKUP_H
#define JM_ENGINE_BACKUP_H

#include <pthread.h>
#include <stdbool.h>

typedef struct en_backup_slot {
    pthread_mutex_t lock;
    bool busy;          /* a backup runs */
    bool joinable;      /* thread started and not yet joined */
    pthread_t thread;
} en_backup_slot_t;

void en_backup_init(en_backup_slot_t *s);
/* Shutdown: waits for a backup under way to end (the store must stay open
 * until it has; the drain cancels it with ix_backup_cancel first), then
 * frees the slot. */
void en_backup_finish(en_backup_slot_t *s);

#endif
