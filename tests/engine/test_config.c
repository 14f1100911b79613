/* test_config.c - the daemon's settings: defaults, flags, the INI file,
 * precedence, rejected values and en_parse_size(). */
#define _GNU_SOURCE  /* mkdtemp, strdup */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"

/* Runs en_config_from_args on a copy of the NULL-terminated argument list
 * (getopt may permute argv, so it must be writable) after filling
 * defaults. Returns its result; *cfg holds the settings. */
static int
parse_args(en_config_t *cfg, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = strdup("jobmatchd");
    for (; args && args[argc - 1]; argc++) {
        cr_assert_lt(argc, 63);
        argv[argc] = strdup(args[argc - 1]);
    }
    argv[argc] = NULL;
    en_config_defaults(cfg);
    int rc = en_config_from_args(cfg, argc, argv);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

/* Writes text to a new file in a fresh temporary directory; returns its
 * path (static storage). */
static const char *
write_ini(const char *text)
{
    static char path[300];
    char dir[] = "/tmp/jobmatch-config-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/jobmatchd.ini", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Usage text and complaints about bad values go to stdout and stderr;
 * tests that provoke them keep them out of the test log. */
static void
quiet(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
}

static void
remove_ini(const char *path)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    unlink(path);
    rmdir(dir);
}

Test(config, defaults)
{
    en_config_t cfg;
    en_config_defaults(&cfg);
    cr_assert_eq(cfg.n_listen, 1);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:7411");
    cr_assert_str_eq(cfg.unix_path, "");
    cr_assert_str_eq(cfg.data_dir, "./var");
    cr_assert_str_eq(cfg.node, "local");
    cr_assert_str_eq(cfg.admin_key_file, "");
    cr_assert_str_eq(cfg.ready_file, "");
    cr_assert_eq(cfg.threads, 2);
    cr_assert_eq(cfg.max_frame, 1u << 20);
    cr_assert_eq(cfg.max_clients, 10000);
    cr_assert_eq(cfg.idle_timeout, 300);
    cr_assert_eq(cfg.max_inflight, 64);
    cr_assert_eq(cfg.anonymous_role, EN_ROLE_KIOSK);
    cr_assert_eq(cfg.log_level, EN_LOG_INFO);
    cr_assert_eq(cfg.map_size, 16ull << 30);
    cr_assert_eq(cfg.map_max, 1ull << 40);
    cr_assert_str_eq(cfg.backup_dir, "");
    cr_assert_eq(cfg.sync, IX_SYNC_FULL);
    cr_assert(!cfg.huge_pages);
    cr_assert_eq(cfg.id_cache, 128ull << 20);
    cr_assert_eq(cfg.keys.n, 0);
    cr_assert_eq(cfg.federation_timeout_ms, 1000);
    en_config_free(&cfg);
}

Test(config, every_flag)
{
    const char *args[] = {
        "--listen", " 0.0.0.0:7000 , [::1]:7001 ", "-u", "/run/jm.sock",
        "-d", "/srv/jm", "--node", "city-110100", "-t", "4",
        "--map-size", "2G", "--sync", "nometa", "--max-frame", "64K",
        "--max-clients", "5", "--idle-timeout", "0", "--max-inflight", "3",
        "--anonymous-role", "node", "--admin-key-file", "/etc/jm/admin.key",
        "--ready-file", "/tmp/ready", "--log-level", "debug", "--map-max", "64G",
        "--backup-dir", "/srv/jm-backup", "--federation-timeout-ms", "250",
        "--huge-pages", "yes", "--id-cache", "0", NULL};
    en_config_t cfg;
    cr_assert_eq(parse_args(&cfg, args), 0);
    cr_assert_eq(cfg.federation_timeout_ms, 250);
    cr_assert_eq(cfg.n_listen, 2);
    cr_assert_str_eq(cfg.listen[0], "0.0.0.0:7000");
    cr_assert_str_eq(cfg.listen[1], "[::1]:7001");
    cr_assert_str_eq(cfg.unix_path, "/run/jm.sock");
    cr_assert_str_eq(cfg.data_dir, "/srv/jm");
    cr_assert_str_eq(cfg.node, "city-110100");
    cr_assert_eq(cfg.threads, 4);
    cr_assert_eq(cfg.map_size, 2ull << 30);
    cr_assert_eq(cfg.map_max, 64ull << 30);
    cr_assert_str_eq(cfg.backup_dir, "/srv/jm-backup");
    cr_assert_eq(cfg.sync, IX_SYNC_NOMETA);
    cr_assert(cfg.huge_pages);
    cr_assert_eq(cfg.id_cache, 0);
    cr_assert_eq(cfg.max_frame, 64u << 10);
    cr_assert_eq(cfg.max_clients, 5);
    cr_assert_eq(cfg.idle_timeout, 0);
    cr_assert_eq(cfg.max_inflight, 3);
    cr_assert_eq(cfg.anonymous_role, EN_ROLE_NODE);
    cr_assert_str_eq(cfg.admin_key_file, "/etc/jm/admin.key");
    cr_assert_str_eq(cfg.ready_file, "/tmp/ready");
    cr_assert_eq(cfg.log_level, EN_LOG_DEBUG);
    en_config_free(&cfg);

    const char *args2[] = {"--sync=none", "--threads=64", "--listen=127.0.0.1:0", NULL};
    cr_assert_eq(parse_args(&cfg, args2), 0);
    cr_assert_eq(cfg.sync, IX_SYNC_NONE);
    cr_assert_eq(cfg.threads, 64);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:0");
    en_config_free(&cfg);
}

Test(config, ini_file)
{
    const char *path = write_ini(
        "; a comment\n"
        "[server]\n"
        "listen = 127.0.0.1:7500, 127.0.0.2:7501\n"
        "data = /var/lib/jobmatch\n"
        "node = prov-11\n"
        "threads = 3\n"
        "max_frame = 2M\n"
        "max_clients = 100\n"
        "idle_timeout = 60\n"
        "anonymous_role = counselor\n"
        "log_level = error\n"
        "[storage]\n"
        "map_size = 1G\n"
        "map_max = 8G\n"
        "sync = none\n"
        "huge_pages = yes\n"
        "id_cache = 32M\n"
        "[keys]\n"
        "front-desk = counselor:desk-secret\n"
        "peer = node:peer:secret:with:colons\n");
    const char *args[] = {"-c", path, NULL};
    en_config_t cfg;
    cr_assert_eq(parse_args(&cfg, args), 0);
    cr_assert_eq(cfg.n_listen, 2);
    cr_assert_str_eq(cfg.listen[1], "127.0.0.2:7501");
    cr_assert_str_eq(cfg.data_dir, "/var/lib/jobmatch");
    cr_assert_str_eq(cfg.node, "prov-11");
    cr_assert_eq(cfg.threads, 3);
    cr_assert_eq(cfg.max_frame, 2u << 20);
    cr_assert_eq(cfg.max_clients, 100);
    cr_assert_eq(cfg.idle_timeout, 60);
    cr_assert_eq(cfg.anonymous_role, EN_ROLE_COUNSELOR);
    cr_assert_eq(cfg.log_level, EN_LOG_ERROR);
    cr_assert_eq(cfg.map_size, 1ull << 30);
    cr_assert_eq(cfg.map_max, 8ull << 30);
    cr_assert_eq(cfg.sync, IX_SYNC_NONE);
    cr_assert(cfg.huge_pages);
    cr_assert_eq(cfg.id_cache, 32ull << 20);

    cr_assert_eq(cfg.keys.n, 2);
    const en_key_t *k = en_keyring_find(&cfg.keys, "desk-secret", 11);
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "front-desk");
    cr_assert_eq(k->role, EN_ROLE_COUNSELOR);
    /* Only the first colon separates the role; the rest is the secret. */
    const char *peer = "peer:secret:with:colons";
    k = en_keyring_find(&cfg.keys, peer, strlen(peer));
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "peer");
    cr_assert_eq(k->role, EN_ROLE_NODE);
    cr_assert_null(en_keyring_find(&cfg.keys, "counselor:desk-secret", 21));
    en_config_free(&cfg);
    remove_ini(path);
}

Test(config, flags_override_the_file_wherever_they_stand)
{
    const char *path = write_ini("[server]\nthreads = 3\nnode = from-file\n"
                                 "data = /file/data\n[storage]\nsync = none\n");
    char config_eq[320];
    snprintf(config_eq, sizeof config_eq, "--config=%s", path);
    const char *before[] = {"--threads", "5", "-c", path, "--node", "from-flag", NULL};
    const char *after[] = {config_eq, "--threads", "7", NULL};
    en_config_t cfg;
    cr_assert_eq(parse_args(&cfg, before), 0);
    cr_assert_eq(cfg.threads, 5);
    cr_assert_str_eq(cfg.node, "from-flag");
    cr_assert_str_eq(cfg.data_dir, "/file/data");  /* not overridden */
    cr_assert_eq(cfg.sync, IX_SYNC_NONE);
    en_config_free(&cfg);
    cr_assert_eq(parse_args(&cfg, after), 0);
    cr_assert_eq(cfg.threads, 7);
    cr_assert_str_eq(cfg.node, "from-file");
    en_config_free(&cfg);
    remove_ini(path);
}

Test(config, bad_flags_are_rejected, .init = quiet)
{
    static const char *const bad[][3] = {
        {"--threads", "0"},        {"--threads", "65"},
        {"--threads", "two"},      {"--threads", "-1"},
        {"--max-frame", "63"},     {"--max-frame", "257M"},
        {"--max-frame", "1Q"},     {"--map-size", "512K"},
        {"--map-max", "512K"},     {"--map-max", "lots"},
        {"--sync", "fast"},        {"--sync", ""},
        {"--huge-pages", "on"},    {"--huge-pages", ""},
        {"--id-cache", "4G"},      {"--id-cache", "-1"},
        {"--anonymous-role", "boss"}, {"--anonymous-role", "Kiosk"},
        {"--log-level", "loud"},   {"--max-clients", "0"},
        {"--max-inflight", "0"},   {"--idle-timeout", "1T"},
        {"--no-such-flag", "1"},   {"surplus-argument"},
        {"--listen", ""},          {"--listen", "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9"},
        {"--threads"},
        {"--federation-timeout-ms", "9"}, {"--federation-timeout-ms", "60001"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        en_config_t cfg;
        int rc = parse_args(&cfg, bad[i]);
        cr_assert_eq(rc, -1, "%s %s: rc %d, want -1", bad[i][0],
                     bad[i][1] ? bad[i][1] : "", rc);
        en_config_free(&cfg);
    }
    /* Too long for the field. */
    char longpath[1024];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    const char *args[] = {"--data", longpath, NULL};
    en_config_t cfg;
    cr_assert_eq(parse_args(&cfg, args), -1);
    en_config_free(&cfg);
}

Test(config, bad_files_are_rejected, .init = quiet)
{
    static const char *const bad[] = {
        "[server]\nthreads = 0\n",
        "[server]\nno_such_setting = 1\n",
        "[nowhere]\nthreads = 2\n",
        "[storage]\nsync = sometimes\n",
        "[keys]\nk = kiosk\n",              /* no colon */
        "[keys]\nk = wizard:secret\n",      /* unknown role */
        "[keys]\nk = admin:\n",             /* empty secret */
        "[server]\nthreads 2\n",            /* not name = value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = write_ini(bad[i]);
        const char *args[] = {"-c", path, NULL};
        en_config_t cfg;
        cr_assert_eq(parse_args(&cfg, args), -1, "accepted: %s", bad[i]);
        en_config_free(&cfg);
        remove_ini(path);
    }
    const char *args[] = {"-c", "/nonexistent/jobmatchd.ini", NULL};
    en_config_t cfg;
    cr_assert_eq(parse_args(&cfg, args), -1);
    en_config_free(&cfg);
}

Test(config, help_and_version_ask_to_exit_zero, .init = quiet)
{
    en_config_t cfg;
    const char *help[] = {"--help", NULL};
    const char *version[] = {"-V", NULL};
    cr_assert_eq(parse_args(&cfg, help), 1);
    en_config_free(&cfg);
    cr_assert_eq(parse_args(&cfg, version), 1);
    en_config_free(&cfg);
}

Test(config, unix_socket_alone_is_enough)
{
    en_config_t cfg;
    const char *args[] = {"--listen", "", "--unix", "/tmp/jm.sock", NULL};
    cr_assert_eq(parse_args(&cfg, args), 0);
    cr_assert_eq(cfg.n_listen, 0);
    cr_assert_str_eq(cfg.unix_path, "/tmp/jm.sock");
    en_config_free(&cfg);
}

Test(config, parse_size)
{
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"123", 123},
        {"64K", 64ull << 10},
        {"64k", 64ull << 10},
        {"16M", 16ull << 20},
        {"2G", 2ull << 30},
        {"2GB", 2ull << 30},
        {"1kb", 1024},
        {"3T", 3ull << 40},
        {"18446744073709551615", UINT64_MAX},
        {"16777215T", 16777215ull << 40},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 42;
        cr_assert_eq(en_parse_size(good[i].text, &v), 0, "%s refused", good[i].text);
        cr_assert_eq(v, good[i].want, "%s -> %llu", good[i].text, (unsigned long long)v);
    }
    static const char *const bad[] = {
        "", "K", "-1", "1X", "1KK", "1 K", "1.5G", "0x10", "12abc", "1Bb",
        "18446744073709551616", "16777216T", "99999999999999999999999",
        " -1", "\t-5K", "+5", " 5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 42;
        cr_assert_eq(en_parse_size(bad[i], &v), -1, "%s accepted", bad[i]);
        cr_assert_eq(v, 42, "%s changed the output on failure", bad[i]);
    }
}
