/*
 * counter.h - the counter example's one entry point: the provision
 * component's event callback (app_main passes it to provision_agent_start).
 */
#ifndef COUNTER_H
#define COUNTER_H

#include <stdint.h>

#include "provision.h"

/* Starts publishing when credentials are ready or newly committed, stops on PROVISION_EVENT_STOP. */
void counter_on_provision_event(provision_event_t event, uint32_t generation, void *p_ctx);

#endif /* COUNTER_H */
