/*
 * System start on ESP-IDF's linux target: the device's "chip" is this
 * process, its flash a file, its UART a pseudo-terminal. The contract is the
 * device twin's (firmware-templates/host/src/twin_main.c), so the host starts
 * and drives both the same way:
 *
 *   provision-idf-linux --state-dir DIR [--device-id HEX12] [--board-id ID]
 *                       [--exit-with-parent] [--log-stderr]
 *
 * prints exactly one line on stdout once the pty is ready,
 *   {"port":"/dev/pts/N","deviceId":"a0b1c2d3e4f5","pid":1234,"stateDir":"/abs/dir"}
 * and nothing more there (ESP-IDF's own stdout is sent to stderr).
 *
 * The state dir is the flash: flash.bin (the partition table and NVS, mapped
 * by esp_partition's linux port; made from this build's partition table on
 * first start), device-id, device.pid (locked while the device runs), and on
 * ESP-IDF v6 PSA's key files (PSA ITS on the linux target is file based and
 * relative to the working directory, which is the state dir).
 *
 * esp_restart() runs the shutdown handlers and exits on this target; ours
 * re-executes the program in place instead, handing over the pty and the
 * lock: the process restarts from scratch (FreeRTOS, NVS, Mbed TLS, the
 * core), the flash file keeps what was committed, and the host's port path
 * stays valid, as a chip's USB port does across a reset. SIGKILL is a power
 * cut: start the device again on the same state dir.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ptsname, pthread_sigmask */
#endif
#include "system_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

#include "esp_log.h"
#include "esp_private/partition_linux.h"
#include "esp_system.h"

#include "port.h"
#include "prov/crypto.h"

#define FLASH_FILE "flash.bin"
#define LOCK_FILE "device.pid"
#define DEVICE_ID_FILE "device-id"
#define PARTITION_TABLE_OFFSET CONFIG_PARTITION_TABLE_OFFSET
#define PARTITION_ENTRY_BYTES 32u
#define PARTITION_MAGIC 0x50AAu
#define FLASH_SECTOR_BYTES 4096u
#define MAX_ARGS 32

static const char *TAG = "prov_linux";

static char s_state_dir[PATH_MAX];
static char s_device_id[13];
static int s_pty_master = -1;
static int s_pty_slave = -1;
static int s_lock_fd = -1;
static bool s_log_stderr;
/* The stdout the launcher reads; fd 1 itself goes to stderr from the start (see redirect_stdout). */
static int s_report_fd = -1;
/* Our own command line, for the re-execution that stands in for a reset. */
static char *s_argv[MAX_ARGS + 1];
static char s_cmdline[8192];

int prov_linux_console_fd(void)
{
    return s_pty_master;
}

bool prov_linux_log_stderr(void)
{
    return s_log_stderr;
}

const char *prov_port_device_id(void)
{
    return s_device_id;
}

/*
 * Before main(): FreeRTOS's linux main() logs to stdout before app_main runs,
 * and the launcher takes the first stdout line as the port report. So stdout
 * goes to stderr from the very start, and the report is written to the
 * original stdout, kept aside.
 */
__attribute__((constructor)) static void redirect_stdout(void)
{
    s_report_fd = dup(STDOUT_FILENO);
    (void)dup2(STDERR_FILENO, STDOUT_FILENO);
}

static int read_cmdline(int *p_argc)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = (fd >= 0) ? read(fd, s_cmdline, sizeof(s_cmdline) - 1u) : -1;
    int argc = 0;

    if (fd >= 0) {
        close(fd);
    }
    if (n <= 0) {
        return -1;
    }
    s_cmdline[n] = '\0';
    for (ssize_t i = 0; i < n && argc < MAX_ARGS; i += (ssize_t)strlen(s_cmdline + i) + 1) {
        s_argv[argc++] = s_cmdline + i;
    }
    s_argv[argc] = NULL;
    *p_argc = argc;
    return 0;
}

static bool valid_device_id(const char *p)
{
    if (strlen(p) != 12u) {
        return false;
    }
    for (size_t i = 0; i < 12u; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* write(2) all of it, then fsync: the state dir is the device's flash. */
static int write_file_atomic(const char *p_name, const void *p_data, size_t len)
{
    char tmp[PATH_MAX];
    int fd;
    ssize_t w;

    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", p_name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    w = write(fd, p_data, len);
    if (w != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return rename(tmp, p_name);
}

/* --device-id, else the id saved in the state dir, else one derived from the dir's path (then saved). */
static int resolve_device_id(const char *p_given)
{
    char saved[16] = {0};
    int fd = open(DEVICE_ID_FILE, O_RDONLY | O_CLOEXEC);
    ssize_t n = (fd >= 0) ? read(fd, saved, 12) : -1;
    char line[14];

    if (fd >= 0) {
        close(fd);
    }
    saved[(n > 0) ? (size_t)n : 0u] = '\0';
    if (p_given != NULL) {
        memcpy(s_device_id, p_given, 12u); /* valid_device_id() checked: 12 hex digits */
    } else if (valid_device_id(saved)) {
        memcpy(s_device_id, saved, 12u);
    } else {
        uint8_t digest[32];
        if (prov_crypto_sha256((const uint8_t *)s_state_dir, strlen(s_state_dir), digest) != 0) {
            return -1;
        }
        /* 0x02 in the first octet: a locally administered MAC, cannot clash with a real chip's */
        digest[0] = (uint8_t)((digest[0] & 0xFCu) | 0x02u);
        for (int i = 0; i < 6; i++) {
            (void)snprintf(s_device_id + 2 * i, 3, "%02x", digest[i]);
        }
    }
    if (strcmp(saved, s_device_id) == 0) {
        return 0;
    }
    (void)snprintf(line, sizeof(line), "%s\n", s_device_id);
    return write_file_atomic(DEVICE_ID_FILE, line, 13u);
}

/* One device per state dir: two processes on one flash file would be one chip with two ports. */
static int lock_state_dir(int inherited)
{
    char pid[32];
    int len;

    if (inherited >= 0) {
        s_lock_fd = inherited; /* a restart keeps the lock it held */
        return 0;
    }
    s_lock_fd = open(LOCK_FILE, O_RDWR | O_CREAT, 0600);
    if (s_lock_fd < 0) {
        fprintf(stderr, "provision-idf-linux: cannot open %s/%s: %s\n", s_state_dir, LOCK_FILE, strerror(errno));
        return -1;
    }
    if (flock(s_lock_fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = read(s_lock_fd, pid, sizeof(pid) - 1u);
        pid[(n > 0) ? (size_t)n : 0u] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr,
                "provision-idf-linux: state dir %s is in use by another device (pid %s): give each device its own "
                "--state-dir\n",
                s_state_dir, (pid[0] != '\0') ? pid : "?");
        return -1;
    }
    len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(s_lock_fd, 0) != 0 || write(s_lock_fd, pid, (size_t)len) != (ssize_t)len) {
        return -1;
    }
    return 0;
}

/* Size a flash image must have for every partition in the table (esp_partition maps exactly the file). */
static size_t flash_size_for(const uint8_t *p_table, size_t len)
{
    size_t end = PARTITION_TABLE_OFFSET + FLASH_SECTOR_BYTES;

    for (size_t i = 0; i + PARTITION_ENTRY_BYTES <= len; i += PARTITION_ENTRY_BYTES) {
        const uint8_t *p = p_table + i;
        uint32_t offset = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) | ((uint32_t)p[7] << 24);
        uint32_t size = (uint32_t)p[8] | ((uint32_t)p[9] << 8) | ((uint32_t)p[10] << 16) | ((uint32_t)p[11] << 24);
        if (((uint32_t)p[0] | ((uint32_t)p[1] << 8)) != PARTITION_MAGIC) {
            break; /* the MD5 entry or erased flash ends the table */
        }
        if ((size_t)offset + size > end) {
            end = (size_t)offset + size;
        }
    }
    return (end + FLASH_SECTOR_BYTES - 1u) / FLASH_SECTOR_BYTES * FLASH_SECTOR_BYTES;
}

/* A new device's flash: erased (0xFF) with this build's partition table at its offset. */
static int make_flash_file(void)
{
    static uint8_t table[0xC00];
    FILE *p_f = fopen(PROV_PARTITION_TABLE_BIN, "rb");
    size_t table_len = (p_f != NULL) ? fread(table, 1, sizeof(table), p_f) : 0u;
    size_t size;
    uint8_t *p_flash;
    int rc;

    if (p_f != NULL) {
        fclose(p_f);
    }
    if (table_len < PARTITION_ENTRY_BYTES) {
        fprintf(stderr, "provision-idf-linux: cannot read the partition table %s (was the build moved?)\n",
                PROV_PARTITION_TABLE_BIN);
        return -1;
    }
    size = flash_size_for(table, table_len);
    p_flash = malloc(size);
    if (p_flash == NULL) {
        return -1;
    }
    memset(p_flash, 0xFF, size);
    memcpy(p_flash + PARTITION_TABLE_OFFSET, table, table_len);
    rc = write_file_atomic(FLASH_FILE, p_flash, size);
    free(p_flash);
    return rc;
}

static int map_flash(void)
{
    esp_partition_file_mmap_ctrl_t *p_ctrl = esp_partition_get_file_mmap_ctrl_input();
    struct stat st;

    if (stat(FLASH_FILE, &st) != 0 && make_flash_file() != 0) {
        fprintf(stderr, "provision-idf-linux: cannot create %s/%s: %s\n", s_state_dir, FLASH_FILE, strerror(errno));
        return -1;
    }
    /* esp_partition maps this file (MAP_SHARED) on first use and keeps it: a write is in the file when it returns. */
    if (strlen(s_state_dir) + sizeof("/" FLASH_FILE) > sizeof(p_ctrl->flash_file_name)) {
        fprintf(stderr, "provision-idf-linux: state dir path too long: %s\n", s_state_dir);
        return -1;
    }
    strcpy(p_ctrl->flash_file_name, s_state_dir);
    strcat(p_ctrl->flash_file_name, "/" FLASH_FILE);
    p_ctrl->flash_file_size = 0;
    p_ctrl->partition_file_name[0] = '\0';
    p_ctrl->remove_dump = false;
    return 0;
}

static int open_pty(void)
{
    struct termios t;

    s_pty_master = posix_openpt(O_RDWR | O_NOCTTY);
    if (s_pty_master < 0 || grantpt(s_pty_master) != 0 || unlockpt(s_pty_master) != 0 ||
        ptsname(s_pty_master) == NULL) {
        return -1;
    }
    /* Hold the slave open ourselves: the host may close and reopen the port without a hangup. */
    s_pty_slave = open(ptsname(s_pty_master), O_RDWR | O_NOCTTY);
    if (s_pty_slave < 0 || tcgetattr(s_pty_slave, &t) != 0) {
        return -1;
    }
    cfmakeraw(&t); /* no echo, no CR/LF translation: bytes as a UART moves them */
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    return tcsetattr(s_pty_slave, TCSANOW, &t);
}

static void report_port(void)
{
    char line[PATH_MAX + 256];
    size_t pos = 0;
    int n = snprintf(line, sizeof(line), "{\"port\":\"%s\",\"deviceId\":\"%s\",\"pid\":%ld,\"stateDir\":\"",
                     ptsname(s_pty_master), s_device_id, (long)getpid());

    pos = (n > 0) ? (size_t)n : 0u;
    for (const char *p = s_state_dir; *p != '\0' && pos + 4u < sizeof(line); p++) {
        if (*p == '"' || *p == '\\') {
            line[pos++] = '\\';
        }
        line[pos++] = *p;
    }
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"}\n");
    if (s_report_fd >= 0) {
        (void)write(s_report_fd, line, pos);
        close(s_report_fd);
        s_report_fd = -1;
    }
}

/* esp_restart(): instead of exiting, start again in this process with the same pty and lock. */
static void restart_in_place(void)
{
    char handover[64];
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    sigset_t none;

    for (int i = 0; s_argv[i] != NULL && argc < MAX_ARGS; i++) {
        if (strcmp(s_argv[i], "--handover") == 0 && s_argv[i + 1] != NULL) {
            i++; /* the previous boot's */
        } else {
            argv[argc++] = s_argv[i];
        }
    }
    (void)snprintf(handover, sizeof(handover), "%d,%d,%d", s_pty_master, s_pty_slave, s_lock_fd);
    argv[argc++] = "--handover";
    argv[argc++] = handover;
    argv[argc] = NULL;
    /*
     * FreeRTOS's POSIX port ticks with an ITIMER_REAL SIGALRM, and interval timers survive execve: disarm it
     * and ignore a tick already on its way, or the new image dies of SIGALRM before its port installs the
     * handler. Its threads also block signals; the new image must start with none blocked.
     */
    const struct itimerval off = {.it_interval = {0, 0}, .it_value = {0, 0}};
    (void)setitimer(ITIMER_REAL, &off, NULL);
    (void)signal(SIGALRM, SIG_IGN);
    sigemptyset(&none);
    (void)pthread_sigmask(SIG_SETMASK, &none, NULL);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "provision-idf-linux: restart failed: %s\n", strerror(errno));
    _exit(1);
}

int prov_port_system_init(void)
{
    const char *p_state = NULL;
    const char *p_device_id = NULL;
    int handover[3] = {-1, -1, -1};
    bool exit_with_parent = false;
    int argc = 0;

    if (read_cmdline(&argc) != 0) {
        fprintf(stderr, "provision-idf-linux: cannot read /proc/self/cmdline\n");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *p_arg = s_argv[i];
        const char *p_value = (i + 1 < argc) ? s_argv[i + 1] : NULL;
        if (strcmp(p_arg, "--state-dir") == 0 && p_value != NULL) {
            p_state = p_value;
            i++;
        } else if (strcmp(p_arg, "--device-id") == 0 && p_value != NULL && valid_device_id(p_value)) {
            p_device_id = p_value;
            i++;
        } else if (strcmp(p_arg, "--handover") == 0 && p_value != NULL &&
                   sscanf(p_value, "%d,%d,%d", &handover[0], &handover[1], &handover[2]) == 3) {
            i++;
        } else if (strcmp(p_arg, "--board-id") == 0 && p_value != NULL) {
            i++; /* the board id is compiled in (PROV_BOARD_ID) */
        } else if (strcmp(p_arg, "--exit-with-parent") == 0) {
            exit_with_parent = true;
        } else if (strcmp(p_arg, "--log-stderr") == 0) {
            s_log_stderr = true;
        } else {
            fprintf(stderr,
                    "provision-idf-linux: unknown or incomplete option %s\n"
                    "usage: provision-idf-linux --state-dir DIR [--device-id HEX12] [--exit-with-parent] "
                    "[--log-stderr]\n",
                    p_arg);
            exit(2);
        }
    }
    if (p_state == NULL) {
        fprintf(stderr, "provision-idf-linux: --state-dir DIR is required (the device's flash)\n");
        exit(2);
    }
    if (exit_with_parent) {
        /* a test runner that dies must not leave devices behind */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) {
            exit(1);
        }
    }
    (void)umask(077); /* the state dir is the device's flash: its keys are the device's own */
    if ((mkdir(p_state, 0700) != 0 && errno != EEXIST) || realpath(p_state, s_state_dir) == NULL ||
        chdir(s_state_dir) != 0) {
        fprintf(stderr, "provision-idf-linux: state dir %s: %s\n", p_state, strerror(errno));
        return -1;
    }
    if (lock_state_dir(handover[2]) != 0 || resolve_device_id(p_device_id) != 0 || map_flash() != 0) {
        return -1;
    }
    if (handover[0] >= 0) {
        s_pty_master = handover[0];
        s_pty_slave = handover[1];
    } else if (open_pty() != 0) {
        fprintf(stderr, "provision-idf-linux: cannot create a pseudo-terminal: %s\n", strerror(errno));
        return -1;
    }
    (void)fcntl(s_pty_master, F_SETFL, fcntl(s_pty_master, F_GETFL) | O_NONBLOCK);
    if (esp_register_shutdown_handler(restart_in_place) != ESP_OK) {
        return -1;
    }
    if (handover[0] < 0) {
        report_port();
    } else if (s_report_fd >= 0) {
        close(s_report_fd); /* reported at the first start */
        s_report_fd = -1;
    }
    ESP_LOGI(TAG, "device %s, flash %s/%s%s", s_device_id, s_state_dir, FLASH_FILE,
             (handover[0] >= 0) ? " (restarted)" : "");
    return 0;
}
