/* files.h - test helpers for files: reading a whole file, copying one,
 * searching one for bytes, and removing a directory tree. Helpers that
 * cannot proceed fail the current Criterion test.
 */
#ifndef JM_TESTS_FILES_H
#define JM_TESTS_FILES_H

#include <stddef.h>

/* The whole file at path in a malloc'd, NUL-terminated buffer; its length
 * goes to *len unless len is NULL. Caller frees. */
char *jt_read_file(const char *path, size_t *len);

/* Copies the file from to the file to (created or truncated). */
void jt_copy_file(const char *from, const char *to);

/* How often needle (len bytes) occurs in the file at path. */
unsigned jt_count_in_file(const char *path, const void *needle, size_t len);

/* Removes dir and everything below it; a missing one or "" is fine. */
void jt_remove_tree(const char *dir);

#endif
