/* main.c - jobmatchd: settings from the command line and config file,
 * then the server; or, with --hash-key, one line for the key file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "server.h"

/* `jobmatchd --hash-key NAME ROLE`: the secret is the first line of stdin
 * (so it shows in no process list); prints the key file line. */
static int
hash_key(const char *name, const char *role)
{
    char secret[EN_KEY_SECRET_MAX + 2];
    size_t len = fread(secret, 1, sizeof secret - 1, stdin);
    secret[len] = '\0';
    len = strcspn(secret, "\r\n");
    char line[256];
    int rc = en_key_file_line(name, role, secret, len, line, sizeof line);
    sodium_memzero(secret, sizeof secret);
    if (rc != 0) {
        fprintf(stderr, "jobmatchd: --hash-key: %s\n", line);
        return 2;
    }
    fputs(line, stdout);
    return 0;
}

int
main(int argc, char **argv)
{
    /* First: --hash-key, --gen-secret-key and the key ring all need it. */
    if (sodium_init() < 0) {
        en_error("libsodium failed to initialise");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "--hash-key") == 0) {
        if (argc != 4) {
            fprintf(stderr, "usage: jobmatchd --hash-key NAME ROLE < secret\n");
            return 2;
        }
        return hash_key(argv[2], argv[3]);
    }
    en_config_t cfg;
    en_config_defaults(&cfg);
    int rc = en_config_from_args(&cfg, argc, argv);
    if (rc != 0) {
        en_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    rc = en_server_run(&cfg);
    en_config_free(&cfg);
    return rc;
}
