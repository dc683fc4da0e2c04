#pragma once
#include "driver/uart.h"
void uart_vfs_dev_use_driver(uart_port_t n);
