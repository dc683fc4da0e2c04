/** A chip's boot, ROM to console, with margin for a loaded host. Boards and `--device-timeout BOOT=MS` raise it. */
export const BOOT_TIMEOUT_DEFAULT_MS = 10_000;
