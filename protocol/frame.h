/* frame.h - the length-prefixed frame layer: 4-byte unsigned big-endian
 * length N, then N bytes of body (one msgpack map).
 *
 * Nothing here does I/O. The daemon peeks the prefix out of its socket
 * buffer with pr_frame_length(); clients and tests use the feed/next
 * reader, which reassembles frames from arbitrarily split or merged reads.
 */
#ifndef JM_PROTOCOL_FRAME_H
#define JM_PROTOCOL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PR_FRAME_HEADER 4u
#define PR_DEFAULT_MAX_FRAME (1u << 20)

/* Result codes of the frame layer. */
#define PR_FRAME_OK 0
#define PR_FRAME_AGAIN 1      /* more bytes are needed */
#define PR_FRAME_ERANGE (-1)  /* length prefix is 0 or above max_frame */

/* Reads the big-endian prefix in hdr. Returns PR_FRAME_OK and stores the
 * body length in *len when 1 <= length <= max_frame, else PR_FRAME_ERANGE
 * (and still stores the declared length, for error messages). */
int pr_frame_length(const uint8_t hdr[PR_FRAME_HEADER], uint32_t max_frame,
                    uint32_t *len);

/* Writes len as a big-endian prefix into hdr. */
void pr_frame_put_length(uint8_t hdr[PR_FRAME_HEADER], uint32_t len);

/* A reassembling reader. Its buffer never grows beyond
 * PR_FRAME_HEADER + max_frame bytes, whatever the input claims. */
typedef struct pr_reader {
    uint8_t *buf;
    size_t len;      /* bytes held */
    size_t cap;
    size_t consumed; /* bytes of buf already handed out by pr_reader_next */
    uint32_t max_frame;
    int failed;      /* set once a bad prefix was seen; the stream is dead */
} pr_reader_t;

void pr_reader_init(pr_reader_t *r, uint32_t max_frame);
void pr_reader_free(pr_reader_t *r);

/* Appends received bytes. Returns 0, or -1 when out of memory, when the
 * reader already failed, or when len exceeds pr_reader_room() (nothing is
 * taken then: drain whole frames with pr_reader_next() and feed again). */
int pr_reader_feed(pr_reader_t *r, const void *data, size_t len);

/* Added for callers that read from a socket: how many bytes the next
 * pr_reader_feed() accepts, given the PR_FRAME_HEADER + max_frame bound.
 * Once every whole frame has been taken with pr_reader_next() it is at
 * least 1, so reading at most this many bytes always makes progress.
 * Returns 0 after the reader failed. */
size_t pr_reader_room(const pr_reader_t *r);

/* Takes the next whole frame. On PR_FRAME_OK *body and *len point into the
 * reader's buffer and stay valid until the next feed or next call.
 * Returns PR_FRAME_AGAIN when no whole frame is buffered, PR_FRAME_ERANGE
 * (for good) when a prefix is out of range. */
int pr_reader_next(pr_reader_t *r, const uint8_t **body, uint32_t *len);

#endif
