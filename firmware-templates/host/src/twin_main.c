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
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

#include <mosquitto.h>

#define TWIN_FIRMWARE_VERSION "1.0.0+twin"
#define TWIN_BAUD_DEFAULT 115200u
#define TWIN_POLL_MS 20

static const uint32_t BAUDS[] = {115200u, 230400u, 460800u, 921600u, 1500000u, 2000000u};

typedef struct twin_options {
    char state_dir[PATH_MAX];
    char device_id[13];
    char board_id[64];
    uint32_t line_rate;
    int boot_banner;
    uint32_t keygen_delay_ms;
    int log_stderr;
    int exit_with_parent;
    uint32_t drop_ppm;
} twin_options_t;

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
        if (g_opt.line_rate > 0u && n > 64u) {
            n = 64u;
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: provision-twin --state-dir DIR [--device-id HEX12] [--board-id ID]\n"
            "                      [--line-rate BAUD] [--boot-banner] [--keygen-delay-ms MS] [--log-stderr]\n"
            "                      [--exit-with-parent] [--drop-ppm N]\n"
            "Runs the provisioning device core on a new pseudo-terminal. First stdout line:\n"
            "  {\"port\":\"/dev/pts/N\",\"deviceId\":\"...\",\"pid\":N,\"stateDir\":\"...\"}\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long v = 0;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > 0xFFFFFFFFul) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int valid_device_id(const char *s)
{
    if (strlen(s) != 12u) {
        return 0;
    }
    for (size_t i = 0; i < 12u; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/*
 * Held (never closed) for the life of the process; the kernel releases it
 * when the twin exits or is killed, so a power cut never leaves it stale.
 */
static int lock_state_dir(void)
{
    char path[PATH_MAX + 16];
    char pid[32] = "";
    snprintf(path, sizeof(path), "%s/twin.pid", g_opt.state_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "provision-twin: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ssize_t n = read(fd, pid, sizeof(pid) - 1u);
        pid[n > 0 ? (size_t)n : 0u] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (err == EWOULDBLOCK) {
            fprintf(stderr,
                    "provision-twin: state dir %s is in use by another twin (pid %s): give each twin its own "
                    "--state-dir\n",
                    g_opt.state_dir, pid[0] != '\0' ? pid : "?");
        } else {
            fprintf(stderr, "provision-twin: cannot lock %s: %s\n", path, strerror(err));
        }
        close(fd);
        return -1;
    }
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)len) != (ssize_t)len) {
        fprintf(stderr, "provision-twin: cannot write %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

/* --device-id, else the id saved in the state dir, else one derived from the dir's path (then saved). */
static int resolve_device_id(const char *given)
{
    char saved[32] = {0};
    ssize_t n = twin_read_file(g_opt.state_dir, "device-id", saved, sizeof(saved) - 1u);
    if (given != NULL) {
        snprintf(g_opt.device_id, sizeof(g_opt.device_id), "%s", given);
    } else if (n >= 12 && (saved[12] = '\0', valid_device_id(saved))) {
        snprintf(g_opt.device_id, sizeof(g_opt.device_id), "%s", saved);
    } else {
        uint8_t digest[32];
        (void)prov_crypto_sha256((const uint8_t *)g_opt.state_dir, strlen(g_opt.state_dir), digest);
        /* 0x02 in the first octet: a locally administered MAC, cannot clash with a real chip's */
        digest[0] = (uint8_t)((digest[0] & 0xFCu) | 0x02u);
        for (int i = 0; i < 6; i++) {
            snprintf(g_opt.device_id + 2 * i, 3, "%02x", digest[i]);
        }
    }
    if (n < 12 || strncmp(saved, g_opt.device_id, 12) != 0) {
        char line[14];
        snprintf(line, sizeof(line), "%s\n", g_opt.device_id);
        if (twin_atomic_write(g_opt.state_dir, "device-id", line, 13u, 0644) != 0) {
            return -1;
        }
    }
    return 0;
}

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
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 's'}, {"device-id", required_argument, NULL, 'd'},
        {"board-id", required_argument, NULL, 'b'},  {"line-rate", required_argument, NULL, 'r'},
        {"boot-banner", no_argument, NULL, 'B'},     {"keygen-delay-ms", required_argument, NULL, 'k'},
        {"log-stderr", no_argument, NULL, 'L'},      {"help", no_argument, NULL, 'h'},
        {"exit-with-parent", no_argument, NULL, 'P'}, {"drop-ppm", required_argument, NULL, 'D'},
        {NULL, 0, NULL, 0}};
    const char *state_dir = NULL;
    const char *device_id = NULL;
    char pty_name[128];
    char real[PATH_MAX];
    twin_log_sink_t sink;
    struct sigaction sa;
    int opt = 0;

    snprintf(g_opt.board_id, sizeof(g_opt.board_id), "twin");
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': state_dir = optarg; break;
        case 'd': device_id = optarg; break;
        case 'b': snprintf(g_opt.board_id, sizeof(g_opt.board_id), "%s", optarg); break;
        case 'r':
            if (parse_u32(optarg, &g_opt.line_rate) != 0) {
                fprintf(stderr, "provision-twin: --line-rate wants a baud rate (0 = unpaced), got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'B': g_opt.boot_banner = 1; break;
        case 'k':
            if (parse_u32(optarg, &g_opt.keygen_delay_ms) != 0) {
                fprintf(stderr, "provision-twin: --keygen-delay-ms wants milliseconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'L': g_opt.log_stderr = 1; break;
        case 'P': g_opt.exit_with_parent = 1; break;
        case 'D':
            if (parse_u32(optarg, &g_opt.drop_ppm) != 0 || g_opt.drop_ppm > 1000000u) {
                fprintf(stderr, "provision-twin: --drop-ppm wants 0-1000000 (bytes lost per million), got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (state_dir == NULL || optind != argc) {
        fprintf(stderr, "provision-twin: --state-dir DIR is required (the twin's flash)\n");
        usage(stderr);
        return 2;
    }
    if (device_id != NULL && !valid_device_id(device_id)) {
        fprintf(stderr, "provision-twin: --device-id must be 12 lowercase hex digits, got '%s'\n", device_id);
        return 2;
    }
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "provision-twin: cannot create state dir %s: %s\n", state_dir, strerror(errno));
        return 1;
    }
    if (realpath(state_dir, real) == NULL) {
        fprintf(stderr, "provision-twin: state dir %s: %s\n", state_dir, strerror(errno));
        return 1;
    }
    snprintf(g_opt.state_dir, sizeof(g_opt.state_dir), "%s", real);
    if (lock_state_dir() != 0) {
        return 1;
    }
    if (prov_crypto_init() != 0) {
        fprintf(stderr, "provision-twin: random generator did not seed\n");
        return 1;
    }
    if (resolve_device_id(device_id) != 0) {
        fprintf(stderr, "provision-twin: cannot write %s/device-id: %s\n", g_opt.state_dir, strerror(errno));
        return 1;
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
