#pragma once
void usb_serial_jtag_vfs_use_driver(void);
