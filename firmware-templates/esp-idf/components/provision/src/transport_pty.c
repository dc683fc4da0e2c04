/*
 * Console transport on ESP-IDF's linux target: the pseudo-terminal that
 * system_linux.c opened stands in for the UART. Frames and ESP-IDF log lines
 * share it through the console lock, exactly as on a chip.
 *
 * A pty has no line rate: SET_BAUD is accepted and changes nothing, like
 * USB-Serial-JTAG, so the host's confirm-by-PING succeeds at once.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "console_lock.h"
#include "port.h"
#include "system_linux.h"

/* How long a write waits for a host that does not read, before the frame is dropped (a UART would lose it too). */
#define PTY_WRITE_WAIT_MS 50

static int pty_raw_write(const uint8_t *p_data, size_t len)
{
    const int fd = prov_linux_console_fd();
    size_t done = 0;

    while (done < len) {
        ssize_t w = write(fd, p_data + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, PTY_WRITE_WAIT_MS) <= 0) {
                return -1;
            }
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        done += (size_t)w;
    }
    if (prov_linux_log_stderr() && len > 0u && p_data[0] != 0x1Eu) {
        (void)write(STDERR_FILENO, p_data, len); /* log lines only: frames start with 0x1E */
    }
    return 0;
}

static int transport_drain(void *p_ctx)
{
    (void)p_ctx;
    return 0; /* a write returns once the bytes are in the pty */
}

static int transport_set_baud(void *p_ctx, uint32_t baud)
{
    (void)p_ctx;
    (void)baud;
    return 0;
}

int prov_port_transport_init(prov_transport_t *p_out)
{
    if (prov_linux_console_fd() < 0 || prov_console_init(pty_raw_write, p_out) != 0) {
        return -1;
    }
    p_out->drain = transport_drain;
    p_out->set_baud = transport_set_baud;
    return 0;
}

size_t prov_port_transport_read(uint8_t *p_buf, size_t cap, uint32_t timeout_ms)
{
    struct pollfd p = {.fd = prov_linux_console_fd(), .events = POLLIN};
    ssize_t n;

    if (cap == 0u) {
        return 0u;
    }
    /* FreeRTOS's POSIX port interrupts a blocked thread to switch tasks: EINTR just means "no bytes yet". */
    if (poll(&p, 1, (int)timeout_ms) <= 0 || (p.revents & POLLIN) == 0) {
        return 0u;
    }
    n = read(p.fd, p_buf, cap);
    return (n > 0) ? (size_t)n : 0u;
}
