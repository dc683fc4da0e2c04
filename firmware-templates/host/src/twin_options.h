/*
 * The twin's command line and its state dir: parsed and claimed before the
 * device core exists, so twin_main.c only wires the core to the pty.
 */
#ifndef TWIN_OPTIONS_H
#define TWIN_OPTIONS_H

#include <limits.h>
#include <stdint.h>

typedef struct twin_options {
    char state_dir[PATH_MAX]; /* absolute (realpath) */
    char device_id[13];
    char board_id[64];
    uint32_t line_rate;
    int boot_banner;
    uint32_t keygen_delay_ms;
    int log_stderr;
    int exit_with_parent;
    uint32_t drop_ppm;
} twin_options_t;

/*
 * Parses argv into *opt, creates and locks the state dir and settles the
 * device id (given, else saved, else derived from the dir's path, then
 * saved). Returns -1 to go on, else the exit status (0 after --help, 2 for
 * a usage error, 1 when the state dir fails), the reason already on stderr.
 * Needs prov_crypto_init() to have run (the derived id is a SHA-256).
 */
int twin_options_setup(int argc, char **argv, twin_options_t *opt);

#endif
