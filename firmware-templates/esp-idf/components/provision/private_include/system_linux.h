/*
 * system_linux.h - what the linux target's system start (system_linux.c)
 * shares with its console transport (transport_pty.c).
 */
#ifndef PROV_SYSTEM_LINUX_H
#define PROV_SYSTEM_LINUX_H

#include <stdbool.h>

/* The pseudo-terminal master the host talks to (the device's "UART"), or -1 before prov_port_system_init(). */
int prov_linux_console_fd(void);

/* --log-stderr: also copy the console's log lines to stderr (diagnostics for the launcher). */
bool prov_linux_log_stderr(void);

#endif /* PROV_SYSTEM_LINUX_H */
