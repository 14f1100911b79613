/* scratch.c - an index store in a temporary directory, for unit tests. */
#define _GNU_SOURCE  /* mkdtemp */
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "files.h"

ix_env_t *
jt_scratch_new(char dir[JT_SCRATCH_DIR_MAX], const char *prefix)
{
    snprintf(dir, JT_SCRATCH_DIR_MAX, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
    return jt_scratch_open(dir);
}

ix_env_t *
jt_scratch_open(const char *dir)
{
    ix_options_t o = {.map_size = 64 << 20, .sync = IX_SYNC_NONE};
    ix_env_t *env;
    cr_assert_eq(ix_open(dir, &o, &env), 0, "cannot open a store in %s", dir);
    return env;
}

void
jt_scratch_remove(ix_env_t *env, const char *dir)
{
    if (env)
        ix_close(env);
    jt_remove_tree(dir);
}
