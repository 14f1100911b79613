/* main.c - jobmatchd: settings from the command line and config file,
 * then the server. */
#include <stdlib.h>

#include <sodium.h>

#include "config.h"
#include "log.h"
#include "server.h"

int
main(int argc, char **argv)
{
    en_config_t cfg;
    en_config_defaults(&cfg);
    int rc = en_config_from_args(&cfg, argc, argv);
    if (rc != 0) {
        en_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    if (sodium_init() < 0) {
        en_error("libsodium failed to initialise");
        return 1;
    }
    rc = en_server_run(&cfg);
    en_config_free(&cfg);
    return rc;
}
