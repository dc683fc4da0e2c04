/*
 * provision-twin - the device core on Linux, attached to its own
 * pseudo-terminal: a stand-in for an ESP32 on a USB serial port.
 *
 *   provision-twin --state-dir DIR [--device-id HEX12] [--board-id ID]
 *                  [--line-rate BAUD] [--boot-banner] [--keygen-delay-ms MS]
 *                  [--log-stderr] [--exit-with-parent] [--drop-ppm N]
 *
 * stdout contract: exactly one line, printed once the pty is ready:
 *   {"port":"/dev/pts/N","deviceId":"a0b1c2d3e4f5","pid":1234,"stateDir":"/abs/dir"}
 * then nothing more on stdout. Diagnostics go to stderr. Exit status 0 on
 * SIGTERM/SIGINT, 2 on a usage error, 1 when the pty or state dir fails.
 *
 * The "flash" is the state dir: key-active.pem / key-pending.pem (0600,
 * never sent), credentials.bin (replaced atomically), locked, device-id,
 * app/ (certificate files for the TLS library), twin.pid (locked while the
 * twin runs: two twins on one dir would be one device with two ports).
 *
 * RESTART keeps the process and the pty (so the host's port path stays
 * valid): after the delay the core is rebuilt from the files, staging is
 * gone, the boot banner is printed again (with --boot-banner) and the app
 * starts if a set is committed. A SIGKILL is a power cut: start the twin
 * again on the same state dir (it gets a new pty path, printed as above).
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 600
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "file_credstore.h"
#include "file_keystore.h"
#include "fsutil.h"
#include "line_noise.h"
#include "mqtt_app.h"
#include "prov/crypto.h"
#include "prov/device.h"
#include "prov/state.h"
#include "twin_log.h"
#include "twin_options.h"

#include <mosquitto.h>

#define TWIN_FIRMWARE_VERSION "1.0.0+twin"
#define TWIN_BAUD_DEFAULT 115200u
#define TWIN_POLL_MS 20

static const uint32_t BAUDS[] = {115200u, 230400u, 460800u, 921600u, 1500000u, 2000000u};

static twin_options_t g_opt;
static int g_master = -1;
static int g_slave = -1;
static uint32_t g_baud = TWIN_BAUD_DEFAULT;
static struct timespec g_boot_time;
static volatile sig_atomic_t g_stop;
static int g_restart_pending;
static uint32_t g_restart_at_ms;
static int g_restart_count;

static twin_file_keystore_t g_keystore;
static twin_file_credstore_t g_credstore;
static twin_mqtt_app_t g_app;
static prov_device_t g_dev;

/* ------------------------------------------------------------ time */

static uint32_t millis_since_boot(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((now.tv_sec - g_boot_time.tv_sec) * 1000 + (now.tv_nsec - g_boot_time.tv_nsec) / 1000000);
}

static uint32_t pf_millis(void *ctx)
{
    (void)ctx;
    return millis_since_boot();
}

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------ transport */

/* Write to the pty master; with --line-rate, take as long as a UART would (10 bits per byte). */
static int pty_write_raw(void *ctx, const uint8_t *data, size_t len)
{
    size_t done = 0;
    (void)ctx;
    while (done < len) {
        size_t n = len - done;
        ssize_t w = 0;
        if (g_opt.line_rate > 0u) {
            /* At most 50 ms of line per write: a UART's bytes arrive one after another, and a
             * line written at once and then paid for in silence looks finished (a session's
             * timer then sees a device saying nothing while it is still sending). */
            size_t piece = (size_t)(g_baud / 10u / 20u);
            if (piece < 1u) {
                piece = 1u;
            }
            if (piece > 64u) {
                piece = 64u;
            }
            if (n > piece) {
                n = piece;
            }
        }
        w = write(g_master, data + done, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            /* nobody is reading and the pty buffer is full: like a UART with no listener, wait a bit then drop */
            struct pollfd p = {g_master, POLLOUT, 0};
            if (poll(&p, 1, 50) <= 0) {
                return -1;
            }
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        if (g_opt.line_rate > 0u) {
            /* a UART moves 10 bits per byte (start, 8 data, stop) */
            sleep_ns((long)((uint64_t)w * 10u * 1000000000ull / g_baud));
        }
        done += (size_t)w;
    }
    return 0;
}

/* With --drop-ppm the line loses bytes on the way out too. */
static int pty_write(void *ctx, const uint8_t *data, size_t len)
{
    uint8_t chunk[256];
    int st = 0;

    if (!twin_noise_active()) {
        return pty_write_raw(ctx, data, len);
    }
    for (size_t done = 0; st == 0 && done < len; done += sizeof(chunk)) {
        size_t n = (len - done < sizeof(chunk)) ? len - done : sizeof(chunk);
        memcpy(chunk, data + done, n);
        st = pty_write_raw(ctx, chunk, twin_noise_filter(chunk, n));
    }
    return st;
}

static int pty_drain(void *ctx)
{
    (void)ctx;
    return 0; /* pty_write returns only when the bytes are "on the wire" */
}

static int pty_set_baud(void *ctx, uint32_t baud)
{
    (void)ctx;
    g_baud = baud; /* a pty has no real rate; the pacing follows it */
    twin_log('I', "twin", "baud now %lu", (unsigned long)baud);
    return 0;
}

/* ------------------------------------------------------------ platform */

static void pf_restart(void *ctx, uint32_t delay_ms)
{
    (void)ctx;
    g_restart_pending = 1;
    g_restart_at_ms = millis_since_boot() + delay_ms;
}

static uint32_t log_millis(void *ctx)
{
    (void)ctx;
    return millis_since_boot();
}

/* ------------------------------------------------------------ boot */

static void print_banner(int software_reset)
{
    char line[256];
    twin_log_raw("ets Jul 29 2019 12:21:46\n\n");
    twin_log_raw(software_reset ? "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
                                : "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n");
    twin_log_raw("configsip: 0, SPIWP:0xee\n"
                 "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\n"
                 "mode:DIO, clock div:2\n"
                 "load:0x3fff0030,len:7104\n"
                 "load:0x40078000,len:15576\n"
                 "entry 0x400805f0\n");
    twin_log('I', "boot", "ESP-IDF v5.1.2 2nd stage bootloader");
    twin_log('I', "boot", "chip revision: v3.0 (twin)");
    twin_log('I', "cpu_start", "Pro cpu start user code");
    (void)snprintf(line, sizeof(line), "Project name:     provision-twin");
    twin_log('I', "app_start", "%s", line);
    twin_log('I', "app_start", "App version:      %s", TWIN_FIRMWARE_VERSION);
}

static void boot(int software_reset)
{
    prov_device_config_t cfg;

    clock_gettime(CLOCK_MONOTONIC, &g_boot_time);
    /* --line-rate is the rate after reset; SET_BAUD changes the pace until the next one */
    g_baud = (g_opt.line_rate > 0u) ? g_opt.line_rate : TWIN_BAUD_DEFAULT;
    if (g_opt.boot_banner) {
        print_banner(software_reset);
    }
    twin_remove_temp_files(g_opt.state_dir);
    memset(&cfg, 0, sizeof(cfg));
    twin_file_keystore_free(&g_keystore);
    twin_file_keystore_init(&g_keystore, g_opt.state_dir, g_opt.keygen_delay_ms, &cfg.keystore);
    twin_file_credstore_init(&g_credstore, g_opt.state_dir, &cfg.credstore);
    twin_mqtt_app_init(&g_app, g_opt.state_dir, millis_since_boot, &cfg.app);
    g_app.p_dev = &g_dev;
    cfg.transport.ctx = NULL;
    cfg.transport.write = pty_write;
    cfg.transport.drain = pty_drain;
    cfg.transport.set_baud = pty_set_baud;
    cfg.platform.ctx = NULL;
    cfg.platform.millis = pf_millis;
    cfg.platform.random = prov_crypto_random;
    cfg.platform.restart = pf_restart;
    cfg.platform.device_id = g_opt.device_id;
    cfg.platform.firmware_version = TWIN_FIRMWARE_VERSION;
    cfg.platform.board_id = g_opt.board_id;
    cfg.platform.bauds = BAUDS;
    cfg.platform.n_bauds = sizeof(BAUDS) / sizeof(BAUDS[0]);
    cfg.baud_initial = g_baud;
    if (prov_device_init(&g_dev, &cfg) != PROV_OK) {
        fprintf(stderr, "provision-twin: device core refused its configuration (bug)\n");
        exit(1);
    }
    twin_log('I', "twin", "device %s board %s state dir %s", g_opt.device_id, g_opt.board_id, g_opt.state_dir);
    if (prov_device_boot(&g_dev) != PROV_OK) {
        twin_log('E', "twin", "state dir unreadable: check permissions of %s", g_opt.state_dir);
    }
    twin_log('I', "twin", "state %s, provisioning protocol v1 ready", prov_state_name((uint8_t)prov_device_state(&g_dev)));
}

/* ------------------------------------------------------------ setup */

static int open_pty(char *name, size_t name_size)
{
    struct termios t;
    g_master = posix_openpt(O_RDWR | O_NOCTTY);
    if (g_master < 0 || grantpt(g_master) != 0 || unlockpt(g_master) != 0 || ptsname(g_master) == NULL) {
        return -1;
    }
    snprintf(name, name_size, "%s", ptsname(g_master));
    /* Hold the slave open ourselves: the host may close and reopen the port
     * without the master seeing a hangup, and the path stays valid. */
    g_slave = open(name, O_RDWR | O_NOCTTY);
    if (g_slave < 0 || tcgetattr(g_slave, &t) != 0) {
        return -1;
    }
    cfmakeraw(&t); /* no echo, no CR/LF translation: bytes as a UART moves them */
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    if (tcsetattr(g_slave, TCSANOW, &t) != 0) {
        return -1;
    }
    return fcntl(g_master, F_SETFL, fcntl(g_master, F_GETFL) | O_NONBLOCK);
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    char pty_name[128];
    twin_log_sink_t sink;
    struct sigaction sa;

    if (prov_crypto_init() != 0) {
        fprintf(stderr, "provision-twin: random generator did not seed\n");
        return 1;
    }
    int status = twin_options_setup(argc, argv, &g_opt);
    if (status >= 0) {
        return status;
    }

    twin_noise_init(g_opt.drop_ppm, (uint32_t)strtoul(g_opt.device_id, NULL, 16));
    if (open_pty(pty_name, sizeof(pty_name)) != 0) {
        fprintf(stderr, "provision-twin: cannot create a pseudo-terminal: %s\n", strerror(errno));
        return 1;
    }
    if (g_opt.exit_with_parent) {
        /* a test runner that dies must not leave twins behind */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) {
            return 1;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();

    sink.write = pty_write;
    sink.ctx = NULL;
    sink.millis = log_millis;
    sink.mirror_stderr = g_opt.log_stderr;
    twin_log_set_sink(&sink);

    printf("{\"port\":\"%s\",\"deviceId\":\"%s\",\"pid\":%ld,\"stateDir\":\"", pty_name, g_opt.device_id,
           (long)getpid());
    for (const char *p = g_opt.state_dir; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            putchar('\\');
        }
        putchar(*p);
    }
    printf("\"}\n");
    fflush(stdout);

    boot(0);
    while (!g_stop) {
        struct pollfd fds[2];
        nfds_t nfds = 1;
        int mqtt_fd = twin_mqtt_app_poll(&g_app);
        uint8_t buf[4096];

        fds[0].fd = g_master;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        if (mqtt_fd >= 0) {
            fds[1].fd = mqtt_fd;
            fds[1].events = POLLIN;
            fds[1].revents = 0;
            nfds = 2;
        }
        if (poll(fds, nfds, TWIN_POLL_MS) < 0 && errno != EINTR) {
            break;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            ssize_t n = read(g_master, buf, sizeof(buf));
            if (n > 0) {
                prov_device_feed(&g_dev, buf, twin_noise_filter(buf, (size_t)n));
            }
        }
        prov_device_poll(&g_dev);
        if (g_restart_pending && (int32_t)(millis_since_boot() - g_restart_at_ms) >= 0) {
            g_restart_pending = 0;
            g_restart_count++;
            boot(1);
        }
    }
    g_dev.cfg.app.stop(g_dev.cfg.app.ctx); /* sends DISCONNECT if connected */
    mosquitto_lib_cleanup();
    fprintf(stderr, "provision-twin: stopped (%d restarts)\n", g_restart_count);
    return 0;
}
