/* What the examples share: a status check, and a record file that frames
 * each record as [length][CRC-32C][record] (little-endian), the framing a
 * host owes its records (docs/raft.md, "Guarantees and their assumptions").
 * Header-only; include it once, from the example's own .c file. */
#ifndef CONSENSIO_EXAMPLE_HOST_H
#define CONSENSIO_EXAMPLE_HOST_H

#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensio.h"

/* Exits with the library's message when a call fails. */
#define TRY(call)                                                          \
    do {                                                                   \
        enum consensio_status s_ = (call);                                 \
        if (s_ != CONSENSIO_OK) {                                          \
            char why_[256];                                                \
            consensio_last_error(why_, sizeof why_);                       \
            fprintf(stderr, "%s failed (%d): %s\n", #call, (int)s_, why_); \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

static inline void die(const char *what) {
    perror(what);
    exit(1);
}

static inline uint32_t crc32c(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static inline void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* Appends one framed record (no fsync: the caller decides when). */
static inline void write_frame(int fd, const uint8_t *record, size_t len) {
    uint8_t head[8];
    if (len > UINT32_MAX) exit(1);
    put32(head, (uint32_t)len);
    put32(head + 4, crc32c(record, len));
    write_all(fd, head, sizeof head);
    write_all(fd, record, len);
}

static inline int open_log(const char *path) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) die(path);
    return fd;
}

/* Reads a record file back: every whole frame whose checksum holds. A torn
 * last frame was never durable (nothing was acted on after it): it is cut
 * off, and `*torn` says how many bytes went. A bad frame before the last is
 * corruption: exit. Returns the file's bytes (free it); `starts[i]`,
 * `lens[i]` point into it. */
static inline uint8_t *load_records(const char *path, const uint8_t **starts, size_t *lens, size_t max, size_t *count,
                             size_t *torn) {
    int fd = open(path, O_RDWR);
    if (fd < 0) die(path);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *bytes = malloc(size > 0 ? (size_t)size : 1);
    if (size < 0 || !bytes || pread(fd, bytes, (size_t)size, 0) != size) die("read");
    size_t at = 0;
    *count = 0;
    *torn = 0;
    while (at < (size_t)size) {
        size_t left = (size_t)size - at, len = left >= 8 ? get32(bytes + at) : 0;
        int whole = left >= 8 && len <= left - 8;
        if (!whole || crc32c(bytes + at + 8, len) != get32(bytes + at + 4)) {
            if (whole && at + 8 + len < (size_t)size) {
                fprintf(stderr, "%s: record %zu is corrupt\n", path, *count);
                exit(1);
            }
            *torn = left;
            if (ftruncate(fd, (off_t)at) != 0 || fsync(fd) != 0) die("ftruncate");
            break;
        }
        if (*count == max) exit(1);
        starts[*count] = bytes + at + 8;
        lens[(*count)++] = len;
        at += 8 + len;
    }
    close(fd);
    return bytes;
}

#endif
