/* files.c - the page's files, by name, with their content types. */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".woff2", "font/woff2"},
};

static const char *
content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* A name is served when it is one path segment of [A-Za-z0-9._-], not
 * starting with a dot, with a known type: nothing outside the folder and
 * no hidden file can be named. */
static int
name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '.' || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
            !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' && *p != '-')
            return 0;
    return content_type(name) != NULL;
}

static void
not_found(struct evhttp_request *req)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evbuffer_add_printf(out, "not found\n");
    evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", NULL);
}

void
files_serve(struct evhttp_request *req, const char *www, const char *path)
{
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    if (path[0] != '/' || !name_ok(name)) {
        not_found(req);
        return;
    }
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", www, name);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        not_found(req);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", content_type(name));
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* The page may load only what the kiosk itself serves. */
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                      "frame-ancestors 'none'");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    /* evbuffer_add_file takes the descriptor and closes it. */
    if (evbuffer_add_file(evhttp_request_get_output_buffer(req), fd, 0, st.st_size) != 0) {
        evhttp_send_error(req, HTTP_INTERNAL, "cannot read file");
        return;
    }
    evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}
