/* jmdisk - what the disk under a directory allows a durable LMDB commit.
 *
 * An LMDB commit writes its dirty pages with pwrite, makes them durable
 * with fdatasync, then writes and syncs its meta page. The pages of a
 * write-heavy store are scattered over the file (each commit reuses the
 * pages that earlier commits freed), so what bounds durable writes is how
 * fast the disk takes scattered 4 KiB writes, not how fast it streams.
 * This tool times, in a preallocated file in DIR:
 *
 *   sync        one 4 KiB write then fdatasync, repeated (a meta page);
 *   random      batches of B 4 KiB writes at random page offsets, each
 *               batch then fdatasync'd (a commit's dirty pages);
 *   sequential  the same batches at consecutive offsets.
 *
 * and prints the time per write of each. bench/disk runs it; bench/run
 * divides the disk's writes during its put scenario by the puts acked to
 * get the pages each put costs the disk.
 *
 *   jmdisk [-s FILE_MIB] [-b BATCH] [-n BATCHES] DIR
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PAGE = 4096 };

static double
now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* splitmix64: offsets that no read-ahead or write merging can guess. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int
write_page(int fd, const char *page, uint64_t pgno)
{
    ssize_t n = pwrite(fd, page, PAGE, (off_t)(pgno * PAGE));
    return n == PAGE ? 0 : -1;
}

/* Seconds per page of n_batches batches of batch pages, each batch
 * followed by fdatasync; -1 on a failed write. */
static double
time_batches(int fd, const char *page, uint64_t pages, unsigned batch,
             unsigned n_batches, bool sequential, uint64_t *rng)
{
    double t0 = now();
    for (unsigned b = 0; b < n_batches; b++) {
        uint64_t first = next_random(rng) % (pages - batch);
        for (unsigned i = 0; i < batch; i++) {
            uint64_t pgno = sequential ? first + i : next_random(rng) % pages;
            if (write_page(fd, page, pgno) != 0)
                return -1;
        }
        if (fdatasync(fd) != 0)
            return -1;
    }
    return (now() - t0) / ((double)batch * n_batches);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: jmdisk [-s FILE_MIB] [-b BATCH] [-n BATCHES] DIR\n"
               "  -s  size of the scratch file in MiB (default 1024)\n"
               "  -b  pages per synced batch (default 500)\n"
               "  -n  batches of each kind (default 20)\n");
}

int
main(int argc, char **argv)
{
    unsigned long file_mib = 1024, batch = 500, n_batches = 20;
    int opt;
    while ((opt = getopt(argc, argv, "s:b:n:h")) != -1) {
        char *end = NULL;
        unsigned long v = strtoul(optarg ? optarg : "", &end, 10);
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (!optarg || *end || v == 0) {
            usage(stderr);
            return 2;
        }
        if (opt == 's')
            file_mib = v;
        else if (opt == 'b')
            batch = v;
        else if (opt == 'n')
            n_batches = v;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    uint64_t pages = (uint64_t)file_mib * (1024 * 1024 / PAGE);
    if (batch >= pages) {
        fprintf(stderr, "jmdisk: a batch of %lu pages needs a larger file\n", batch);
        return 2;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/jmdisk.XXXXXX", argv[optind]);
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "jmdisk: %s: %s\n", path, strerror(errno));
        return 1;
    }
    unlink(path);

    static char page[PAGE];
    memset(page, 0x5a, sizeof page);
    /* Allocated and on disk before timing, as a store's pages are:
     * LMDB overwrites pages in place. */
    for (uint64_t p = 0; p < pages; p++)
        if (write_page(fd, page, p) != 0) {
            fprintf(stderr, "jmdisk: preallocating: %s\n", strerror(errno));
            return 1;
        }
    if (fsync(fd) != 0) {
        fprintf(stderr, "jmdisk: fsync: %s\n", strerror(errno));
        return 1;
    }

    uint64_t rng = 1;
    double sync_s = time_batches(fd, page, pages, 1, 200, false, &rng);
    double random_s = time_batches(fd, page, pages, (unsigned)batch, (unsigned)n_batches,
                                   false, &rng);
    double seq_s = time_batches(fd, page, pages, (unsigned)batch, (unsigned)n_batches,
                                true, &rng);
    close(fd);
    if (sync_s < 0 || random_s < 0 || seq_s < 0) {
        fprintf(stderr, "jmdisk: write failed: %s\n", strerror(errno));
        return 1;
    }
    printf("disk under %s, in a file of %lu MiB:\n", argv[optind], file_mib);
    printf("  synchronous 4 KiB write:                    %7.1f us\n", sync_s * 1e6);
    printf("  4 KiB page of %4lu a fdatasync, scattered:   %7.1f us (%.0f pages/s)\n",
           batch, random_s * 1e6, 1 / random_s);
    printf("  4 KiB page of %4lu a fdatasync, in order:    %7.1f us (%.0f pages/s)\n",
           batch, seq_s * 1e6, 1 / seq_s);
    return 0;
}
