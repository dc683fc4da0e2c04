/*
 * test_twin_pty.c - the built provision-twin over a real pseudo-terminal:
 * stdout contract, HELLO, boot banner as log lines, RESTART keeps the pty
 * path and the key, SIGTERM exits cleanly.
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "prov/frame.h"
#include "prov/tlv.h"

#ifndef TWIN_BINARY
#define TWIN_BINARY "build/provision-twin"
#endif

static pid_t g_pid;
static int g_fd = -1;
static char g_dir[128];
static char g_port[128];
static char g_device_id[16];

typedef struct {
    int got;
    uint8_t type, flags;
    uint16_t seq;
    uint8_t payload[PROV_FRAME_BODY_MAX];
    size_t len;
    int logs;
    int saw_banner;
} host_rx_t;

static prov_rx_t g_rx;
static host_rx_t g_h;

static void on_event(void *ctx, const prov_rx_event_t *ev)
{
    (void)ctx;
    if (ev->kind == PROV_RX_EVENT_FRAME && (ev->frame.flags & PROV_FLAG_RESPONSE) != 0u) {
        g_h.got = 1;
        g_h.type = ev->frame.type;
        g_h.seq = ev->frame.seq;
        g_h.flags = ev->frame.flags;
        g_h.len = ev->frame.payload_len;
        memcpy(g_h.payload, ev->frame.p_payload, g_h.len);
    } else if (ev->kind == PROV_RX_EVENT_LOG) {
        g_h.logs++;
        if (ev->log_len >= 8 && memcmp(ev->p_log, "rst:0x", 6) == 0) {
            g_h.saw_banner++;
        }
    }
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Read from the pty until a response arrives or timeout. */
static int wait_response(int timeout_ms)
{
    long end = now_ms() + timeout_ms;
    g_h.got = 0;
    while (!g_h.got && now_ms() < end) {
        struct pollfd p = {g_fd, POLLIN, 0};
        uint8_t buf[1024];
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = read(g_fd, buf, sizeof(buf));
            if (n > 0) {
                prov_rx_push(&g_rx, buf, (size_t)n);
            }
        }
    }
    return g_h.got;
}

static int request(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    uint8_t line[PROV_FRAME_LINE_BYTES_MAX];
    size_t line_len = 0;
    prov_frame_t f = {PROV_PROTOCOL_VERSION, type, seq, 0, payload, len};
    assert_int_equal(prov_frame_encode(&f, line, sizeof(line), &line_len), PROV_OK);
    assert_int_equal(write(g_fd, line, line_len), (ssize_t)line_len);
    return wait_response(3000);
}

static void open_port(void)
{
    struct termios t;
    g_fd = open(g_port, O_RDWR | O_NOCTTY);
    assert_true(g_fd >= 0);
    assert_int_equal(tcgetattr(g_fd, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(g_fd, TCSANOW, &t), 0);
}

static int setup(void **state)
{
    int pipefd[2];
    char line[512] = {0};
    size_t n = 0;
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/twin-pty-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_int_equal(pipe(pipefd), 0);
    g_pid = fork();
    if (g_pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        execl(TWIN_BINARY, TWIN_BINARY, "--state-dir", g_dir, "--boot-banner", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    while (n < sizeof(line) - 1 && read(pipefd[0], line + n, 1) == 1 && line[n] != '\n') {
        n++;
    }
    close(pipefd[0]);
    /* {"port":"/dev/pts/N","deviceId":"...","pid":N,"stateDir":"..."} */
    assert_int_equal(sscanf(line, "{\"port\":\"%127[^\"]\",\"deviceId\":\"%15[^\"]\"", g_port, g_device_id), 2);
    assert_non_null(strstr(line, g_dir + 4)); /* stateDir is the absolute path of the dir */
    prov_rx_init(&g_rx, on_event, NULL);
    memset(&g_h, 0, sizeof(g_h));
    open_port();
    return 0;
}

static int teardown(void **state)
{
    int status = 0;
    char cmd[200];
    (void)state;
    close(g_fd);
    kill(g_pid, SIGTERM);
    waitpid(g_pid, &status, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    (void)system(cmd);
    return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

static void test_hello_over_pty(void **state)
{
    prov_tlv_field_t f;
    uint8_t hello[4] = {0x01, 0x00, 0x01, 0x01};
    (void)state;
    assert_true(request(PROV_MSG_HELLO, 1, hello, sizeof(hello)));
    assert_int_equal(g_h.payload[0], PROV_CODE_OK);
    assert_int_equal(prov_tlv_find(g_h.payload + 1, g_h.len - 1, 0x02, &f), PROV_OK);
    assert_int_equal(f.len, 12);
    assert_memory_equal(f.p_value, g_device_id, 12);
    assert_true(g_h.saw_banner >= 1); /* the ROM banner came through as log text before the frame */
}

static void test_restart_keeps_pty_and_key(void **state)
{
    uint8_t gen[8] = {0x01, 0x00, 0x01, PROV_KEY_EC_P256, 0x02, 0x00, 0x01, PROV_STORE_FILE};
    uint8_t key_a[PROV_FRAME_BODY_MAX];
    size_t key_a_len = 0;
    prov_tlv_field_t f;
    (void)state;
    assert_true(request(PROV_MSG_GENERATE_KEY, 1, gen, sizeof(gen)));
    assert_int_equal(g_h.payload[0], PROV_CODE_OK);
    assert_int_equal(prov_tlv_find(g_h.payload + 1, g_h.len - 1, 0x03, &f), PROV_OK);
    memcpy(key_a, f.p_value, f.len);
    key_a_len = f.len;

    assert_true(request(PROV_MSG_RESTART, 2, NULL, 0));
    assert_int_equal(g_h.payload[0], PROV_CODE_OK);
    g_h.saw_banner = 0;
    usleep(400 * 1000);
    /* same fd, same path: the twin came back with the same key */
    assert_true(request(PROV_MSG_GENERATE_KEY, 3, gen, sizeof(gen)));
    assert_int_equal(g_h.payload[0], PROV_CODE_OK);
    assert_int_equal(prov_tlv_find(g_h.payload + 1, g_h.len - 1, 0x04, &f), PROV_OK);
    assert_int_equal(f.p_value[0], 0); /* reported, not created */
    assert_int_equal(prov_tlv_find(g_h.payload + 1, g_h.len - 1, 0x03, &f), PROV_OK);
    assert_int_equal(f.len, key_a_len);
    assert_memory_equal(f.p_value, key_a, key_a_len);
    assert_int_equal(g_h.saw_banner, 1); /* software reset banner again */

    /* close and reopen the port: the twin still answers */
    close(g_fd);
    open_port();
    assert_true(request(PROV_MSG_PING, 4, NULL, 0));
    assert_int_equal(g_h.payload[0], PROV_CODE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_over_pty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_pty_and_key, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("twin over pty", tests, NULL, NULL);
}
