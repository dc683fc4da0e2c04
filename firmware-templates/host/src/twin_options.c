/*
 * The twin's command line and state dir (see twin_options.h). The state dir
 * is the twin's flash: locking it keeps two twins from being one device with
 * two ports, and the device id saved in it keeps a twin the same device
 * across power cuts.
 */
#define _DEFAULT_SOURCE
#include "twin_options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "prov/crypto.h"

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
static int lock_state_dir(const twin_options_t *opt)
{
    char path[PATH_MAX + 16];
    char pid[32] = "";
    snprintf(path, sizeof(path), "%s/twin.pid", opt->state_dir);
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
                    opt->state_dir, pid[0] != '\0' ? pid : "?");
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
static int resolve_device_id(twin_options_t *opt, const char *given)
{
    char saved[32] = {0};
    ssize_t n = twin_read_file(opt->state_dir, "device-id", saved, sizeof(saved) - 1u);
    if (given != NULL) {
        snprintf(opt->device_id, sizeof(opt->device_id), "%s", given);
    } else if (n >= 12 && (saved[12] = '\0', valid_device_id(saved))) {
        snprintf(opt->device_id, sizeof(opt->device_id), "%s", saved);
    } else {
        uint8_t digest[32];
        (void)prov_crypto_sha256((const uint8_t *)opt->state_dir, strlen(opt->state_dir), digest);
        /* 0x02 in the first octet: a locally administered MAC, cannot clash with a real chip's */
        digest[0] = (uint8_t)((digest[0] & 0xFCu) | 0x02u);
        for (int i = 0; i < 6; i++) {
            snprintf(opt->device_id + 2 * i, 3, "%02x", digest[i]);
        }
    }
    if (n < 12 || strncmp(saved, opt->device_id, 12) != 0) {
        char line[14];
        snprintf(line, sizeof(line), "%s\n", opt->device_id);
        if (twin_atomic_write(opt->state_dir, "device-id", line, 13u, 0644) != 0) {
            return -1;
        }
    }
    return 0;
}

int twin_options_setup(int argc, char **argv, twin_options_t *opt)
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
    char real[PATH_MAX];
    int c = 0;

    snprintf(opt->board_id, sizeof(opt->board_id), "twin");
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': state_dir = optarg; break;
        case 'd': device_id = optarg; break;
        case 'b': snprintf(opt->board_id, sizeof(opt->board_id), "%s", optarg); break;
        case 'r':
            if (parse_u32(optarg, &opt->line_rate) != 0) {
                fprintf(stderr, "provision-twin: --line-rate wants a baud rate (0 = unpaced), got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'B': opt->boot_banner = 1; break;
        case 'k':
            if (parse_u32(optarg, &opt->keygen_delay_ms) != 0) {
                fprintf(stderr, "provision-twin: --keygen-delay-ms wants milliseconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'L': opt->log_stderr = 1; break;
        case 'P': opt->exit_with_parent = 1; break;
        case 'D':
            if (parse_u32(optarg, &opt->drop_ppm) != 0 || opt->drop_ppm > 1000000u) {
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
    snprintf(opt->state_dir, sizeof(opt->state_dir), "%s", real);
    if (lock_state_dir(opt) != 0) {
        return 1;
    }
    if (resolve_device_id(opt, device_id) != 0) {
        fprintf(stderr, "provision-twin: cannot write %s/device-id: %s\n", opt->state_dir, strerror(errno));
        return 1;
    }
    return -1;
}
