/* files.h - test helpers for files: reading a whole file, copying one,
 * searching one for bytes, removing a directory tree, and how a process
 * maps one. Helpers that
 * cannot proceed fail the current Criterion test.
 */
#ifndef JM_TESTS_FILES_H
#define JM_TESTS_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* The whole file at path in a malloc'd, NUL-terminated buffer; its length
 * goes to *len unless len is NULL. Caller frees. */
char *jt_read_file(const char *path, size_t *len);

/* Copies the file from to the file to (created or truncated). */
void jt_copy_file(const char *from, const char *to);

/* How often needle (len bytes) occurs in the file at path. */
unsigned jt_count_in_file(const char *path, const void *needle, size_t len);

/* Removes dir and everything below it; a missing one or "" is fine. */
void jt_remove_tree(const char *dir);

/* Whether process pid (0: this one) maps the file at path with the flag
 * (two letters of VmFlags in /proc/PID/smaps, e.g. "hg": advised for huge
 * pages): 1 or 0 as the last such mapping says, -1 when it maps none. */
int jt_map_has_flag(pid_t pid, const char *path, const char *flag);

#endif
