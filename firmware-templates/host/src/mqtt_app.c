/*
 * mqtt_app.c - libmosquitto in non-blocking mode, driven from the twin's
 * main loop. Credentials go to files in <state>/app/ because libmosquitto
 * (OpenSSL) takes paths; the key file is the key store's own file and is
 * read only by the TLS library inside this process.
 */
#define _POSIX_C_SOURCE 200809L
#include "mqtt_app.h"

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <mosquitto.h>

#include "file_keystore.h"
#include "fsutil.h"
#include "twin_log.h"

static const char *TAG = "mqtt";

enum { RESOLVE_IDLE = 0, RESOLVE_RUNNING, RESOLVE_OK, RESOLVE_FAILED };

/* The lookup's own copy of the host: the app may restart with another endpoint meanwhile. */
typedef struct {
    twin_mqtt_app_t *a;
    unsigned gen;
    char host[256];
} resolve_job_t;

static void *resolve_thread(void *arg)
{
    resolve_job_t *job = arg;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    int rc = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(job->host, NULL, &hints, &res);
    if (res != NULL) {
        freeaddrinfo(res);
    }
    /* A stale answer (the app stopped or restarted meanwhile) is dropped. */
    if (atomic_load(&job->a->resolve_gen) == job->gen) {
        int running = RESOLVE_RUNNING;
        atomic_store(&job->a->resolve_error, rc);
        (void)atomic_compare_exchange_strong(&job->a->resolve_state, &running, (rc == 0) ? RESOLVE_OK : RESOLVE_FAILED);
    }
    free(job);
    return NULL;
}

static bool is_numeric_host(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* true when the host name is known to resolve now (numeric, or the lookup finished OK). */
static bool host_resolved(twin_mqtt_app_t *a)
{
    pthread_t tid;
    resolve_job_t *job = NULL;

    if (is_numeric_host(a->host) || a->resolve_state == RESOLVE_OK) {
        a->resolve_state = RESOLVE_IDLE;
        return true;
    }
    if (a->resolve_state == RESOLVE_IDLE) {
        job = malloc(sizeof(*job));
        if (job != NULL) {
            job->a = a;
            job->gen = atomic_load(&a->resolve_gen);
            (void)snprintf(job->host, sizeof(job->host), "%s", a->host);
            a->resolve_state = RESOLVE_RUNNING;
            if (pthread_create(&tid, NULL, resolve_thread, job) == 0) {
                (void)pthread_detach(tid);
            } else {
                free(job);
                a->resolve_state = RESOLVE_IDLE;
                return true; /* no thread: fall back to resolving inline */
            }
        }
    }
    return false;
}

static void requeue_unacknowledged(twin_mqtt_app_t *a);

static void event(twin_mqtt_app_t *a, uint8_t code, const char *text, bool has_value, uint32_t value)
{
    if (a->p_dev != NULL) {
        prov_device_event(a->p_dev, code, text, has_value, value);
    }
}

static void schedule_retry(twin_mqtt_app_t *a, const char *why)
{
    uint32_t now = a->millis();
    requeue_unacknowledged(a);
    a->connected = false;
    a->connecting = false;
    a->next_attempt_ms = now + a->backoff_ms;
    twin_log('W', TAG, "%s; retry in %lu ms", why, (unsigned long)a->backoff_ms);
    a->backoff_ms = (a->backoff_ms >= TWIN_MQTT_BACKOFF_MAX_MS / 2u) ? TWIN_MQTT_BACKOFF_MAX_MS : a->backoff_ms * 2u;
}

static void publish_counter(twin_mqtt_app_t *a, uint32_t n)
{
    char payload[48];
    int mid = 0;
    int len = snprintf(payload, sizeof(payload), "{\"counter\": %lu}", (unsigned long)n);
    int rc = mosquitto_publish(a->mosq, &mid, a->topic, len, payload, 1, false);

    if (rc == MOSQ_ERR_SUCCESS) {
        a->inflight[(unsigned)mid % TWIN_MQTT_QUEUE_MAX].mid = mid;
        a->inflight[(unsigned)mid % TWIN_MQTT_QUEUE_MAX].counter = n;
        twin_log('I', TAG, "publish %s to %s (mid %d)", payload, a->topic, mid);
    } else {
        twin_log('E', TAG, "publish of counter %lu failed: %s", (unsigned long)n, mosquitto_strerror(rc));
        event(a, PROV_EVENT_ERROR, "publish failed", true, (uint32_t)rc);
    }
}

static void enqueue(twin_mqtt_app_t *a, uint32_t n)
{
    if (a->queue_len == TWIN_MQTT_QUEUE_MAX) {
        /* keep the newest: drop the oldest waiting counter */
        memmove(a->queue, a->queue + 1, (TWIN_MQTT_QUEUE_MAX - 1u) * sizeof(a->queue[0]));
        a->queue_len--;
    }
    a->queue[a->queue_len++] = n;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    twin_mqtt_app_t *a = obj;
    (void)mosq;
    if (rc == 0) {
        a->connected = true;
        a->connecting = false;
        a->backoff_ms = TWIN_MQTT_BACKOFF_MIN_MS;
        twin_log('I', TAG, "connected to %s:%d as %s", a->host, a->port, a->thing);
        event(a, PROV_EVENT_MQTT_CONNECTED, a->thing, false, 0u);
        if (mosquitto_subscribe(a->mosq, NULL, a->topic, 1) == MOSQ_ERR_SUCCESS) {
            twin_log('I', TAG, "subscribed to %s", a->topic);
        }
        for (unsigned i = 0; i < a->queue_len; i++) {
            publish_counter(a, a->queue[i]);
        }
        a->queue_len = 0;
    } else {
        char why[400];
        (void)snprintf(why, sizeof(why), "connection refused: %s (CONNACK %d)", mosquitto_connack_string(rc), rc);
        event(a, PROV_EVENT_ERROR, why, true, (uint32_t)rc);
        twin_log('E', TAG, "%s", why);
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    twin_mqtt_app_t *a = obj;
    (void)mosq;
    if (a->connected) {
        event(a, PROV_EVENT_MQTT_DISCONNECTED, mosquitto_strerror(rc), true, (uint32_t)rc);
    }
    /* only once per failure: mosquitto_loop's error return is handled in poll() too */
    if (a->started && (a->connected || a->connecting)) {
        char why[400];
        (void)snprintf(why, sizeof(why), "disconnected (%s)", mosquitto_strerror(rc));
        schedule_retry(a, why);
    }
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    twin_mqtt_app_t *a = obj;
    unsigned slot = (unsigned)mid % TWIN_MQTT_QUEUE_MAX;
    (void)mosq;
    if (a->inflight[slot].mid == mid) {
        twin_log('I', TAG, "published counter %lu (mid %d acknowledged)", (unsigned long)a->inflight[slot].counter, mid);
        event(a, PROV_EVENT_PUBLISHED, NULL, true, a->inflight[slot].counter);
        a->inflight[slot].mid = 0;
    }
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    twin_mqtt_app_t *a = obj;
    (void)mosq;
    twin_log('I', TAG, "received on %s: %.*s", msg->topic, msg->payloadlen > 200 ? 200 : msg->payloadlen,
             (const char *)msg->payload);
    event(a, PROV_EVENT_MESSAGE_RECEIVED, msg->topic, false, 0u);
}

/*
 * A fresh libmosquitto client per connection attempt: its reconnect path
 * does not notice a refused non-blocking connect, a new client does.
 * Counters that were sent but not acknowledged go back to the queue.
 */
static int client_create(twin_mqtt_app_t *a)
{
    int rc = 0;

    if (a->mosq != NULL) {
        mosquitto_destroy(a->mosq);
        a->mosq = NULL;
    }
    a->mosq = mosquitto_new(a->thing, true, a);
    if (a->mosq == NULL) {
        twin_log('E', TAG, "mosquitto_new failed");
        return -1;
    }
    mosquitto_connect_callback_set(a->mosq, on_connect);
    mosquitto_disconnect_callback_set(a->mosq, on_disconnect);
    mosquitto_publish_callback_set(a->mosq, on_publish);
    mosquitto_message_callback_set(a->mosq, on_message);
    rc = mosquitto_tls_set(a->mosq, a->ca_path, NULL, a->cert_path, a->key_path, NULL);
    if (rc == MOSQ_ERR_SUCCESS) {
        /* verify the server like a device must: chain to the committed roots and host name */
        rc = mosquitto_tls_opts_set(a->mosq, 1, "tlsv1.2", NULL);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        twin_log('E', TAG, "TLS setup failed: %s", mosquitto_strerror(rc));
        mosquitto_destroy(a->mosq);
        a->mosq = NULL;
        return -1;
    }
    return 0;
}

static void requeue_unacknowledged(twin_mqtt_app_t *a)
{
    uint32_t lost[TWIN_MQTT_QUEUE_MAX];
    unsigned n = 0;

    for (unsigned i = 0; i < TWIN_MQTT_QUEUE_MAX; i++) {
        if (a->inflight[i].mid != 0) {
            lost[n++] = a->inflight[i].counter;
            a->inflight[i].mid = 0;
        }
    }
    /* oldest first, ahead of what queued meanwhile */
    for (unsigned i = 1; i < n; i++) {
        for (unsigned j = i; j > 0 && lost[j - 1] > lost[j]; j--) {
            uint32_t t = lost[j];
            lost[j] = lost[j - 1];
            lost[j - 1] = t;
        }
    }
    if (n > 0u) {
        unsigned keep = a->queue_len;
        if (keep + n > TWIN_MQTT_QUEUE_MAX) {
            keep = TWIN_MQTT_QUEUE_MAX - n;
        }
        memmove(a->queue + n, a->queue + (a->queue_len - keep), keep * sizeof(a->queue[0]));
        memcpy(a->queue, lost, n * sizeof(lost[0]));
        a->queue_len = keep + n;
    }
}

static int write_app_file(twin_mqtt_app_t *a, const char *name, const prov_strview_t *v)
{
    char dir[1100];
    (void)snprintf(dir, sizeof(dir), "%s/app", a->state_dir);
    (void)mkdir(dir, 0700);
    return twin_atomic_write(dir, name, v->ptr, v->len, 0600);
}

static void app_stop(void *ctx)
{
    twin_mqtt_app_t *a = ctx;
    if (!a->started) {
        return;
    }
    a->started = false;
    atomic_fetch_add(&a->resolve_gen, 1u); /* a lookup still running is dropped when it ends */
    a->resolve_state = RESOLVE_IDLE;
    if (a->mosq != NULL) {
        if (a->connected) {
            (void)mosquitto_disconnect(a->mosq);
            (void)mosquitto_loop(a->mosq, 0, 1); /* let the DISCONNECT leave */
        }
        mosquitto_destroy(a->mosq);
        a->mosq = NULL;
    }
    a->connected = a->connecting = false;
    twin_log('I', TAG, "stopped");
}

static void copy_view(char *out, size_t cap, const prov_strview_t *v)
{
    size_t n = v->len < cap - 1u ? v->len : cap - 1u;
    memcpy(out, v->ptr, n);
    out[n] = '\0';
}

static int app_start(void *ctx, const prov_credentials_t *c)
{
    twin_mqtt_app_t *a = ctx;
    app_stop(a);
    copy_view(a->host, sizeof(a->host), &c->endpoint);
    copy_view(a->thing, sizeof(a->thing), &c->thing_name);
    copy_view(a->topic, sizeof(a->topic), &c->topic);
    a->port = c->port;
    a->interval_ms = c->publish_interval_ms;
    if (write_app_file(a, "device-cert.pem", &c->cert_pem) != 0 || write_app_file(a, "root-ca.pem", &c->ca_pem) != 0) {
        twin_log('E', TAG, "cannot write certificate files: %s", strerror(errno));
        return -1;
    }
    (void)snprintf(a->cert_path, sizeof(a->cert_path), "%s/app/device-cert.pem", a->state_dir);
    (void)snprintf(a->ca_path, sizeof(a->ca_path), "%s/app/root-ca.pem", a->state_dir);

    if (client_create(a) != 0) {
        return -1;
    }
    a->started = true;
    a->connected = a->connecting = a->ever_tried = false;
    a->backoff_ms = TWIN_MQTT_BACKOFF_MIN_MS;
    a->counter = 0u;
    a->queue_len = 0u;
    memset(a->inflight, 0, sizeof(a->inflight));
    a->next_attempt_ms = a->millis();
    a->next_publish_ms = a->millis();
    twin_log('I', TAG, "app started: endpoint %s:%d client id %s topic %s every %lu ms", a->host, a->port, a->thing,
             a->topic, (unsigned long)a->interval_ms);
    event(a, PROV_EVENT_NETWORK_UP, "host network", false, 0u);
    return 0;
}

/*
 * libmosquitto does not notice a refused non-blocking connect (it reads and
 * clears SO_ERROR itself, then waits forever): a socket that is writable or
 * hung up but has no peer never connected.
 */
static bool connect_failed(int fd)
{
    struct pollfd p = {fd, POLLOUT, 0};
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);

    if (fd < 0 || poll(&p, 1, 0) <= 0) {
        return false;
    }
    if ((p.revents & (POLLERR | POLLHUP)) != 0) {
        return true;
    }
    return (p.revents & POLLOUT) != 0 && getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0 && errno == ENOTCONN;
}

int twin_mqtt_app_poll(twin_mqtt_app_t *a)
{
    uint32_t now = 0;
    int rc = 0;

    if (!a->started) {
        return -1;
    }
    now = a->millis();
    if (!a->connected && !a->connecting && (int32_t)(now - a->next_attempt_ms) >= 0 &&
        a->resolve_state == RESOLVE_FAILED) {
        char why[400];
        a->resolve_state = RESOLVE_IDLE;
        (void)snprintf(why, sizeof(why), "cannot resolve %s: %s", a->host, gai_strerror(atomic_load(&a->resolve_error)));
        event(a, PROV_EVENT_ERROR, why, false, 0u);
        schedule_retry(a, why);
    }
    if (!a->connected && !a->connecting && (int32_t)(now - a->next_attempt_ms) >= 0 && host_resolved(a)) {
        twin_log('I', TAG, "connecting to %s:%d (TLS, client id %s)", a->host, a->port, a->thing);
        rc = (a->ever_tried && client_create(a) != 0) ? MOSQ_ERR_NOMEM
                                                      : mosquitto_connect_async(a->mosq, a->host, a->port, 30);
        a->ever_tried = true;
        if (rc == MOSQ_ERR_SUCCESS) {
            a->connecting = true;
            a->attempt_started_ms = now;
        } else {
            char why[400];
            (void)snprintf(why, sizeof(why), "connect to %s:%d failed: %s", a->host, a->port,
                           rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            event(a, PROV_EVENT_ERROR, why, true, (uint32_t)rc);
            schedule_retry(a, why);
        }
    }
    if (a->connecting && a->mosq != NULL && connect_failed(mosquitto_socket(a->mosq))) {
        char why[400];
        (void)snprintf(why, sizeof(why), "connect to %s:%d failed: connection refused or reset", a->host, a->port);
        event(a, PROV_EVENT_ERROR, why, false, 0u);
        schedule_retry(a, why);
    }
    if (a->connecting && (uint32_t)(now - a->attempt_started_ms) > TWIN_MQTT_CONNECT_TIMEOUT_MS) {
        event(a, PROV_EVENT_ERROR, "connect timed out", false, 0u);
        schedule_retry(a, "connect timed out");
    }
    if ((a->connected || a->connecting) && a->mosq != NULL) {
        rc = mosquitto_loop(a->mosq, 0, 1);
        if (rc != MOSQ_ERR_SUCCESS && (a->connected || a->connecting)) {
            char why[400];
            (void)snprintf(why, sizeof(why), "connection lost: %s",
                           rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            if (a->connected) {
                event(a, PROV_EVENT_MQTT_DISCONNECTED, why, true, (uint32_t)rc);
            } else {
                event(a, PROV_EVENT_ERROR, why, true, (uint32_t)rc);
            }
            schedule_retry(a, why);
        }
    }
    if (a->started && (int32_t)(now - a->next_publish_ms) >= 0) {
        uint32_t n = a->counter++;
        a->next_publish_ms += a->interval_ms;
        if ((int32_t)(now - a->next_publish_ms) > 0) {
            a->next_publish_ms = now + a->interval_ms; /* we were away: do not burst */
        }
        if (a->connected) {
            publish_counter(a, n);
        } else {
            enqueue(a, n);
            twin_log('I', TAG, "offline: counter %lu queued (%u waiting)", (unsigned long)n, a->queue_len);
        }
    }
    return (a->mosq != NULL && (a->connected || a->connecting)) ? mosquitto_socket(a->mosq) : -1;
}

void twin_mqtt_app_init(twin_mqtt_app_t *p_app, const char *state_dir, uint32_t (*millis)(void), prov_app_t *p_iface)
{
    memset(p_app, 0, sizeof(*p_app));
    (void)snprintf(p_app->state_dir, sizeof(p_app->state_dir), "%s", state_dir);
    (void)snprintf(p_app->key_path, sizeof(p_app->key_path), "%s/%s", state_dir, TWIN_KEY_FILE_ACTIVE);
    p_app->millis = millis;
    p_iface->ctx = p_app;
    p_iface->start = app_start;
    p_iface->stop = app_stop;
}
