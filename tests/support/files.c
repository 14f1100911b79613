/* files.c - test helpers for files. */
#define _GNU_SOURCE  /* memmem */
#include "files.h"

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <criterion/criterion.h>

char *
jt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
    }
    cr_assert(!ferror(f), "cannot read %s", path);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void
jt_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    cr_assert_not_null(in, "%s: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    cr_assert_not_null(out, "%s: %s", to, strerror(errno));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

unsigned
jt_count_in_file(const char *path, const void *needle, size_t len)
{
    size_t size;
    char *buf = jt_read_file(path, &size);
    unsigned n = 0;
    for (const char *p = buf, *end = buf + size;
         (p = memmem(p, (size_t)(end - p), needle, len)) != NULL; p++)
        n++;
    free(buf);
    return n;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void
jt_remove_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
jt_map_has_flag(pid_t pid, const char *path, const char *flag)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
    char smaps_path[64];
    if (pid == 0)
        snprintf(smaps_path, sizeof smaps_path, "/proc/self/smaps");
    else
        snprintf(smaps_path, sizeof smaps_path, "/proc/%d/smaps", (int)pid);
    FILE *smaps = fopen(smaps_path, "r");
    cr_assert_not_null(smaps, "%s: %s", smaps_path, strerror(errno));
    char line[4352], want[8];
    snprintf(want, sizeof want, " %.2s", flag);
    int has = -1;
    bool in_file_map = false;
    while (fgets(line, sizeof line, smaps)) {
        unsigned long start, end, offset, inode;
        unsigned dev_major, dev_minor;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &offset, &dev_major,
                   &dev_minor, &inode) == 6)
            in_file_map = inode == st.st_ino && dev_major == major(st.st_dev) &&
                          dev_minor == minor(st.st_dev);
        else if (in_file_map && strncmp(line, "VmFlags:", 8) == 0)
            has = strstr(line, want) != NULL;
    }
    fclose(smaps);
    return has;
}
