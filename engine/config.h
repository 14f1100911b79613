/* config.h - the daemon's settings: defaults, the INI config file and
 * command-line flags (flags win over the file).
 *
 * Config file (INI, read with libinih):
 *
 *   [server]
 *   listen = 127.0.0.1:7411, [::1]:7411
 *   unix = /run/jobmatch/jobmatch.sock
 *   data = /var/lib/jobmatch
 *   node = city-110100
 *   threads = 2
 *   max_frame = 1M
 *   max_clients = 10000
 *   idle_timeout = 300
 *   anonymous_role = kiosk
 *   log_level = info
 *   admin_key_file = /etc/jobmatch/admin.key
 *   key_file = /etc/jobmatch/keys
 *   anonymous_max_frame = 8K        (default: max_frame)
 *   backup_dir = /var/lib/jobmatch-backup
 *   metrics_listen = 127.0.0.1:9411
 *   secret_key_file = /etc/jobmatch/secret.key
 *   occupations_file = /usr/share/jobmatch/cn_occupation_classification_2022.csv
 *   occupation_aliases_file = /usr/share/jobmatch/cn_occupation_jobtitle_aliases_2022.csv
 *   [storage]
 *   map_size = 16G
 *   map_max = 1T
 *   sync = full
 *   huge_pages = no
 *   id_cache = 128M
 *   sync_interval = 200
 *   federation_timeout_ms = 1000
 *   [keys]
 *   front-desk = counselor:SECRET
 *   [peers]
 *   city-a = 10.0.0.5:7411 NODE-KEY
 *
 * Each [peers] entry is an upstream node this one follows (sync.pull,
 * docs/network.md): its address and a key of role node there.
 */
#ifndef JM_ENGINE_CONFIG_H
#define JM_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "index.h"

#define EN_MAX_LISTEN 8
#define EN_ADDR_MAX 128
#define EN_MAX_PEERS 16
#define EN_PEER_NAME_MAX 24     /* its cursor lives in meta "peer." + name */
#define EN_PEER_KEY_MAX 256

typedef struct en_peer_config {
    char name[EN_PEER_NAME_MAX + 1];
    char addr[EN_ADDR_MAX];         /* host:port */
    char key[EN_PEER_KEY_MAX];      /* a key of role node at the peer */
} en_peer_config_t;

typedef struct en_config {
    char listen[EN_MAX_LISTEN][EN_ADDR_MAX];
    unsigned n_listen;
    char unix_path[256];            /* "" = no Unix socket */
    char data_dir[512];
    char node[64];
    char config_path[512];          /* "" = no config file */
    char admin_key_file[512];       /* "" = <data_dir>/admin.key */
    char key_file[512];             /* "" = none */
    char secret_key_file[512];      /* "" = <data_dir>.secret.key, created
                                       when absent; "none" = no key: personal
                                       fields refused */
    char occupations_file[512];     /* the classification occupation.suggest
                                       searches; "none" = no such operation */
    char occupation_aliases_file[512]; /* more aliases (code,alias); "none" */
    char ready_file[512];           /* "" = none; written once listening */
    char backup_dir[512];           /* "" = none; where relative admin.backup paths go */
    char metrics_listen[EN_ADDR_MAX]; /* "" = no metrics endpoint */
    unsigned threads;
    uint32_t max_frame;
    uint32_t anonymous_max_frame;   /* before a hello with a key; 0 = max_frame */
    unsigned max_clients;
    unsigned idle_timeout;          /* seconds; 0 = never */
    unsigned max_inflight;          /* queued writes per connection */
    unsigned anonymous_role;
    int log_level;
    uint64_t map_size;              /* the map's size at start */
    uint64_t map_max;               /* it grows up to this (at least map_size) */
    enum ix_sync sync;
    bool huge_pages;                /* MADV_HUGEPAGE on the map (ix_options_t) */
    uint64_t id_cache;              /* bytes of ids copied in memory; 0 = none */
    en_keyring_t keys;              /* keys from the config file */
    en_peer_config_t peers[EN_MAX_PEERS];   /* upstream nodes followed */
    unsigned n_peers;
    unsigned sync_interval;         /* ms between pulls once caught up */
    unsigned federation_timeout_ms; /* a network-wide request waits this long for peers */
    unsigned audit_queue_max;       /* audit entries of reads queued for the writer; 0 = EN_QUEUE_MAX_ENTRIES */
    unsigned audit_retention_days;  /* audit entries older than this are removed; 0 = kept */
    unsigned commit_delay_ms;       /* tests only: every commit waits this long */
} en_config_t;

/* Fills defaults. */
void en_config_defaults(en_config_t *cfg);

/* Applies argv (which may name a config file with -c/--config, read
 * first). Returns 0 to run, 1 when --help or --version was printed or
 * --gen-secret-key wrote its file (exit 0), -1 on error (message printed;
 * exit 2). */
int en_config_from_args(en_config_t *cfg, int argc, char **argv);

void en_config_free(en_config_t *cfg);

/* Reads the [keys] section of the config file at path into kr (for a
 * reload; other sections are skipped). Returns 0, or -1 with the reason
 * in why. */
int en_config_read_keys(const char *path, en_keyring_t *kr, char *why,
                        size_t why_len);

/* The size the map may grow to: map_max, but never below map_size. */
uint64_t en_config_map_ceiling(const en_config_t *cfg);

/* Parses "123", "64K", "16M", "2G" into bytes. -1 when malformed. */
int en_parse_size(const char *s, uint64_t *out);

#endif
