/* config.c - defaults, the INI file and command-line flags. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "log.h"
#include "record.h"
#include "seal.h"

void
en_config_defaults(en_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen[0], EN_ADDR_MAX, "127.0.0.1:7411");
    cfg->n_listen = 1;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "./var");
    snprintf(cfg->node, sizeof cfg->node, "local");
    cfg->threads = 2;
    cfg->max_frame = 1u << 20;
    /* 0: max_frame, as the contract has it, until the operator sets a
     * smaller limit for connections that have presented no key. */
    cfg->anonymous_max_frame = 0;
    cfg->max_clients = 10000;
    cfg->idle_timeout = 300;
    cfg->max_inflight = 64;
    cfg->anonymous_role = EN_ROLE_KIOSK;
    cfg->log_level = EN_LOG_INFO;
    cfg->map_size = 16ull << 30;
    cfg->map_max = 1ull << 40;
    cfg->sync = IX_SYNC_FULL;
    cfg->id_cache = 128ull << 20;
    cfg->sync_interval = 200;
    cfg->federation_timeout_ms = 1000;
    /* The repository's reference data, where the build found it. */
    snprintf(cfg->occupations_file, sizeof cfg->occupations_file, "%s",
             JM_DATA_DIR "/cn_occupation_classification_2022.csv");
    snprintf(cfg->occupation_aliases_file, sizeof cfg->occupation_aliases_file, "%s",
             JM_DATA_DIR "/cn_occupation_jobtitle_aliases_2022.csv");
}

void
en_config_free(en_config_t *cfg)
{
    en_keyring_free(&cfg->keys);
}

uint64_t
en_config_map_ceiling(const en_config_t *cfg)
{
    return cfg->map_max > cfg->map_size ? cfg->map_max : cfg->map_size;
}

int
en_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || !isdigit((unsigned char)*s))  /* no sign or space */
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: return -1;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;
    if (en_parse_size(s, &v) != 0 || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int
set_listen(en_config_t *cfg, const char *value)
{
    char buf[EN_MAX_LISTEN * EN_ADDR_MAX];
    snprintf(buf, sizeof buf, "%s", value);
    cfg->n_listen = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (!*tok)
            continue;
        if (cfg->n_listen == EN_MAX_LISTEN || strlen(tok) >= EN_ADDR_MAX)
            return -1;
        snprintf(cfg->listen[cfg->n_listen++], EN_ADDR_MAX, "%s", tok);
    }
    return 0;
}

static int
set_copy(char *dst, size_t cap, const char *value)
{
    if (strlen(value) >= cap)
        return -1;
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* Sets one option by its name. The config file and the flags share these
 * names: `listen` in [server] is `--listen`. Returns 0 or -1. */
static int
set_option(en_config_t *cfg, const char *name, const char *value)
{
    uint64_t size;
    if (strcmp(name, "listen") == 0)
        return set_listen(cfg, value);
    if (strcmp(name, "unix") == 0)
        return set_copy(cfg->unix_path, sizeof cfg->unix_path, value);
    if (strcmp(name, "data") == 0)
        return set_copy(cfg->data_dir, sizeof cfg->data_dir, value);
    if (strcmp(name, "node") == 0) {
        /* It is stored in every vacancy as its origin: a record id's rules. */
        if (strlen(value) >= sizeof cfg->node || !pr_id_valid(value, strlen(value)))
            return -1;
        return set_copy(cfg->node, sizeof cfg->node, value);
    }
    if (strcmp(name, "sync_interval") == 0)
        return parse_uint(value, 10, 60000, &cfg->sync_interval);
    if (strcmp(name, "federation_timeout_ms") == 0)
        return parse_uint(value, 10, 60000, &cfg->federation_timeout_ms);
    if (strcmp(name, "admin_key_file") == 0)
        return set_copy(cfg->admin_key_file, sizeof cfg->admin_key_file, value);
    if (strcmp(name, "key_file") == 0)
        return set_copy(cfg->key_file, sizeof cfg->key_file, value);
    if (strcmp(name, "secret_key_file") == 0)
        return set_copy(cfg->secret_key_file, sizeof cfg->secret_key_file, value);
    if (strcmp(name, "occupations_file") == 0)
        return set_copy(cfg->occupations_file, sizeof cfg->occupations_file, value);
    if (strcmp(name, "occupation_aliases_file") == 0)
        return set_copy(cfg->occupation_aliases_file, sizeof cfg->occupation_aliases_file,
                        value);
    if (strcmp(name, "ready_file") == 0)
        return set_copy(cfg->ready_file, sizeof cfg->ready_file, value);
    if (strcmp(name, "backup_dir") == 0)
        return set_copy(cfg->backup_dir, sizeof cfg->backup_dir, value);
    if (strcmp(name, "metrics_listen") == 0)
        return set_copy(cfg->metrics_listen, sizeof cfg->metrics_listen, value);
    if (strcmp(name, "threads") == 0)
        return parse_uint(value, 1, 64, &cfg->threads);
    if (strcmp(name, "max_frame") == 0) {
        if (en_parse_size(value, &size) != 0 || size < 64 || size > (256u << 20))
            return -1;
        cfg->max_frame = (uint32_t)size;
        return 0;
    }
    if (strcmp(name, "anonymous_max_frame") == 0) {
        if (en_parse_size(value, &size) != 0 || size < 64 || size > (256u << 20))
            return -1;
        cfg->anonymous_max_frame = (uint32_t)size;
        return 0;
    }
    if (strcmp(name, "max_clients") == 0)
        return parse_uint(value, 1, 1000000, &cfg->max_clients);
    if (strcmp(name, "idle_timeout") == 0)
        return parse_uint(value, 0, 86400 * 365, &cfg->idle_timeout);
    if (strcmp(name, "audit_queue_max") == 0)
        return parse_uint(value, 1, 1000000, &cfg->audit_queue_max);
    if (strcmp(name, "audit_retention_days") == 0)
        return parse_uint(value, 0, 36500, &cfg->audit_retention_days);
    if (strcmp(name, "test_commit_delay_ms") == 0)
        return parse_uint(value, 0, 10000, &cfg->commit_delay_ms);
    if (strcmp(name, "max_inflight") == 0)
        return parse_uint(value, 1, 100000, &cfg->max_inflight);
    if (strcmp(name, "anonymous_role") == 0) {
        cfg->anonymous_role = en_role_parse(value);
        return cfg->anonymous_role ? 0 : -1;
    }
    if (strcmp(name, "log_level") == 0) {
        cfg->log_level = en_log_level_parse(value);
        return cfg->log_level >= 0 ? 0 : -1;
    }
    if (strcmp(name, "map_size") == 0) {
        if (en_parse_size(value, &size) != 0 || size < (1u << 20))
            return -1;
        cfg->map_size = size;
        return 0;
    }
    if (strcmp(name, "map_max") == 0) {
        if (en_parse_size(value, &size) != 0 || size < (1u << 20))
            return -1;
        cfg->map_max = size;
        return 0;
    }
    if (strcmp(name, "id_cache") == 0) {
        if (en_parse_size(value, &size) != 0 || size > (4ull << 30) - 2)
            return -1;
        cfg->id_cache = size;
        return 0;
    }
    if (strcmp(name, "huge_pages") == 0) {
        if (strcmp(value, "yes") == 0)
            cfg->huge_pages = true;
        else if (strcmp(value, "no") == 0)
            cfg->huge_pages = false;
        else
            return -1;
        return 0;
    }
    if (strcmp(name, "sync") == 0) {
        if (strcmp(value, "full") == 0)
            cfg->sync = IX_SYNC_FULL;
        else if (strcmp(value, "nometa") == 0)
            cfg->sync = IX_SYNC_NOMETA;
        else if (strcmp(value, "none") == 0)
            cfg->sync = IX_SYNC_NONE;
        else
            return -1;
        return 0;
    }
    return -2;
}

/* [keys] entries are `name = role:secret`. */
static int
add_key(en_keyring_t *kr, const char *name, const char *value)
{
    const char *colon = strchr(value, ':');
    if (!colon || colon[1] == '\0')
        return -1;
    char role[32];
    size_t rl = (size_t)(colon - value);
    if (rl >= sizeof role)
        return -1;
    memcpy(role, value, rl);
    role[rl] = '\0';
    unsigned r = en_role_parse(role);
    if (!r)
        return -1;
    return en_keyring_add(kr, name, r, colon + 1, strlen(colon + 1));
}

typedef struct keys_reader {
    en_keyring_t *kr;
    char *why;
    size_t why_len;
} keys_reader_t;

static int
keys_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    keys_reader_t *rd = user;
    if (strcmp(section, "keys") != 0)
        return 1;
    if (add_key(rd->kr, name, value) == 0)
        return 1;
    snprintf(rd->why, rd->why_len, "bad value for [keys] %s", name);
    return 0;
}

int
en_config_read_keys(const char *path, en_keyring_t *kr, char *why, size_t why_len)
{
    keys_reader_t rd = {kr, why, why_len};
    why[0] = '\0';
    int rc = ini_parse(path, keys_ini_entry, &rd);
    if (rc < 0) {
        snprintf(why, why_len, "cannot read config file %s", path);
        return -1;
    }
    if (rc > 0) {
        char what[160];
        snprintf(what, sizeof what, "%s", why[0] ? why : "invalid line");
        snprintf(why, why_len, "config file %s:%d: %s", path, rc, what);
        return -1;
    }
    return 0;
}

/* [peers] entries are `name = host:port key`. */
static int
add_peer(en_config_t *cfg, const char *name, const char *value)
{
    if (cfg->n_peers == EN_MAX_PEERS || strlen(name) > EN_PEER_NAME_MAX ||
        !pr_id_valid(name, strlen(name)))
        return -1;
    for (unsigned i = 0; i < cfg->n_peers; i++)
        if (strcmp(cfg->peers[i].name, name) == 0)
            return -1;
    const char *space = strpbrk(value, " \t");
    if (!space)
        return -1;
    size_t addr_len = (size_t)(space - value);
    const char *key = space + strspn(space, " \t");
    if (addr_len == 0 || addr_len >= EN_ADDR_MAX || !strrchr(value, ':') ||
        strrchr(value, ':') > space || *key == '\0' || strlen(key) >= EN_PEER_KEY_MAX)
        return -1;
    en_peer_config_t *p = &cfg->peers[cfg->n_peers++];
    snprintf(p->name, sizeof p->name, "%s", name);
    memcpy(p->addr, value, addr_len);
    p->addr[addr_len] = '\0';
    snprintf(p->key, sizeof p->key, "%s", key);
    return 0;
}

static int
config_ini_entry(void *user, const char *section, const char *name,
            const char *value)
{
    en_config_t *cfg = user;
    int rc;
    if (strcmp(section, "keys") == 0)
        rc = add_key(&cfg->keys, name, value);
    else if (strcmp(section, "peers") == 0)
        rc = add_peer(cfg, name, value);
    else if (strcmp(section, "server") == 0 || strcmp(section, "storage") == 0)
        rc = set_option(cfg, name, value);
    else
        rc = -2;
    if (rc == -2)
        fprintf(stderr, "jobmatchd: config: unknown setting [%s] %s\n", section, name);
    else if (rc != 0)
        fprintf(stderr, "jobmatchd: config: bad value for [%s] %s\n", section, name);
    return rc == 0;  /* inih: non-zero means success */
}

static void
usage(FILE *out)
{
    fprintf(out,
"Usage: jobmatchd [OPTIONS]\n"
"The jobmatch daemon: holds vacancies and workers in LMDB and answers\n"
"length-prefixed msgpack requests over TCP (and a Unix socket).\n"
"\n"
"  -c, --config FILE        read settings from an INI file (flags win)\n"
"  -l, --listen ADDRS       TCP addresses, comma-separated (default 127.0.0.1:7411;\n"
"                           port 0 picks a free port; see --ready-file)\n"
"  -u, --unix PATH          also listen on a Unix socket\n"
"  -d, --data DIR           data directory (default ./var; created when absent)\n"
"      --node ID            this node's id, reported by hello and stored as the\n"
"                           origin of the vacancies written here (default local)\n"
"      --sync-interval MS   pause between pulls from a [peers] node once caught\n"
"                           up (10..60000, default 200; docs/network.md)\n"
"      --federation-timeout-ms MS\n"
"                           how long a network-wide match or roll-up waits for\n"
"                           the [peers] (10..60000, default 1000)\n"
"  -t, --threads N          event-loop threads (default 2)\n"
"      --map-size SIZE      LMDB map size at start, e.g. 16G (default 16G)\n"
"      --map-max SIZE       the map doubles when full, up to SIZE (default 1T;\n"
"                           a value below --map-size means no growth)\n"
"      --sync MODE          full (fsync each commit; default), nometa, none\n"
"      --huge-pages yes|no  back the store's map with 2 MiB pages: faster\n"
"                           matching, slower writes (default no)\n"
"      --id-cache SIZE      memory for a copy of every record's id, which\n"
"                           matching reads its results' ids from (0 = none;\n"
"                           default 128M)\n"
"      --max-frame SIZE     largest request frame (default 1M)\n"
"      --anonymous-max-frame SIZE  a smaller largest request frame before a\n"
"                           hello with a key, unless the anonymous role is\n"
"                           counselor or admin (default: --max-frame)\n"
"      --max-clients N      connections at once (default 10000)\n"
"      --idle-timeout SEC   close idle connections after SEC seconds (0 = never;\n"
"                           default 300)\n"
"      --max-inflight N     writes queued per connection (default 64)\n"
"      --anonymous-role R   role before hello: kiosk (default), counselor, node,\n"
"                           admin\n"
"      --admin-key-file F   admin key file (default DIR/admin.key; created with a\n"
"                           random key when absent). JOBMATCH_ADMIN_KEY overrides.\n"
"      --key-file F         key file: `name role hash` lines (see --hash-key);\n"
"                           mode 0600, owned by the daemon's user\n"
"      --secret-key-file F  the key that seals personal fields at rest, mode 0600,\n"
"                           outside the data directory (default DIR.secret.key\n"
"                           beside it, created with a new key when absent; none:\n"
"                           no key, workers with personal fields are refused)\n"
"      --gen-secret-key F   write a new random secret key to F and exit\n"
"      --occupations-file F the occupation classification (CSV level,code,name,\n"
"                           alias) that occupation.suggest searches (default\n"
"                           " JM_DATA_DIR "/\n"
"                           cn_occupation_classification_2022.csv; none: no\n"
"                           occupation.suggest). Missing or invalid: no start.\n"
"      --occupation-aliases-file F  more aliases for it (CSV code,alias; default\n"
"                           the job titles in cn_occupation_jobtitle_aliases_2022.csv\n"
"                           beside it; none: names and aliases only)\n"
"      --ready-file F       write the bound address(es) to F once listening\n"
"      --backup-dir DIR     admin.backup with a bare name writes DIR/NAME\n"
"      --log-level L        error, warn, info (default), debug\n"
"      --metrics-listen A   serve Prometheus metrics on http://A/metrics (a\n"
"                           loopback host:port; default off)\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"      --hash-key NAME ROLE read a secret from stdin and print its key file\n"
"                           line (must be the only option)\n"
"\n"
"Config file: [server] and [storage] take the long option names with '_'\n"
"for '-'; [keys] holds `name = role:secret` lines. SIGHUP reloads the keys\n"
"(key file, [keys], admin key). See docs/operations.md.\n");
}

static int
gen_secret_key(const char *path)
{
    char why[600];
    if (en_seal_key_create(path, why, sizeof why) != 0) {
        fprintf(stderr, "jobmatchd: %s\n", why);
        return -1;
    }
    printf("jobmatchd: wrote a new secret key to %s\n", path);
    return 1;
}

int
en_config_from_args(en_config_t *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"unix", required_argument, NULL, 'u'},
        {"data", required_argument, NULL, 'd'},
        {"node", required_argument, NULL, 1},
        {"sync-interval", required_argument, NULL, 1},
        {"federation-timeout-ms", required_argument, NULL, 1},
        {"threads", required_argument, NULL, 't'},
        {"map-size", required_argument, NULL, 1},
        {"map-max", required_argument, NULL, 1},
        {"sync", required_argument, NULL, 1},
        {"huge-pages", required_argument, NULL, 1},
        {"id-cache", required_argument, NULL, 1},
        {"max-frame", required_argument, NULL, 1},
        {"max-clients", required_argument, NULL, 1},
        {"idle-timeout", required_argument, NULL, 1},
        {"max-inflight", required_argument, NULL, 1},
        {"anonymous-role", required_argument, NULL, 1},
        {"admin-key-file", required_argument, NULL, 1},
        {"key-file", required_argument, NULL, 1},
        {"anonymous-max-frame", required_argument, NULL, 1},
        {"secret-key-file", required_argument, NULL, 1},
        {"gen-secret-key", required_argument, NULL, 2},
        {"ready-file", required_argument, NULL, 1},
        {"occupations-file", required_argument, NULL, 1},
        {"occupation-aliases-file", required_argument, NULL, 1},
        {"backup-dir", required_argument, NULL, 1},
        {"log-level", required_argument, NULL, 1},
        {"metrics-listen", required_argument, NULL, 1},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *shortopts = "c:l:u:d:t:hV";

    /* First pass: the config file, so that flags override it. */
    for (int i = 1; i < argc; i++) {
        const char *file = NULL;
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
        if (file) {
            if (set_copy(cfg->config_path, sizeof cfg->config_path, file) != 0) {
                fprintf(stderr, "jobmatchd: config file path too long\n");
                return -1;
            }
            int rc = ini_parse(file, config_ini_entry, cfg);
            if (rc < 0) {
                fprintf(stderr, "jobmatchd: cannot read config file %s\n", file);
                return -1;
            }
            if (rc > 0) {
                fprintf(stderr, "jobmatchd: %s:%d: invalid setting\n", file, rc);
                return -1;
            }
        }
    }

    optind = 1;
    int idx, c;
    while ((c = getopt_long(argc, argv, shortopts, opts, &idx)) != -1) {
        const char *name = NULL;
        switch (c) {
        case 'c': continue;
        case 'l': name = "listen"; break;
        case 'u': name = "unix"; break;
        case 'd': name = "data"; break;
        case 't': name = "threads"; break;
        case 'h': usage(stdout); return 1;
        case 'V': printf("jobmatchd %s\n", JM_VERSION); return 1;
        case 1: name = opts[idx].name; break;
        case 2: return gen_secret_key(optarg);
        default: usage(stderr); return -1;
        }
        char key[32];
        snprintf(key, sizeof key, "%s", name);
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        if (set_option(cfg, key, optarg) != 0) {
            fprintf(stderr, "jobmatchd: bad value for --%s: %s\n", name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jobmatchd: unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if (cfg->n_listen == 0 && !cfg->unix_path[0]) {
        fprintf(stderr, "jobmatchd: nothing to listen on\n");
        return -1;
    }
    return 0;
}
