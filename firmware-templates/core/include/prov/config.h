/*
 * Build-time limits of the device core. Every value can be overridden with
 * -D on the compiler command line (or a port's own config header included
 * first); the defaults are what protocol v1 (docs/protocol.md) allows.
 */
#ifndef PROV_CONFIG_H
#define PROV_CONFIG_H

/* Largest frame body this device accepts and announces in HELLO (>= 256, <= 2048). */
#ifndef PROV_DEVICE_MAX_FRAME
#define PROV_DEVICE_MAX_FRAME 2048u
#endif

/* Largest reassembled request payload (protocol ceiling PAYLOAD_MAX = 8192). */
#ifndef PROV_DEVICE_PAYLOAD_MAX
#define PROV_DEVICE_PAYLOAD_MAX 8192u
#endif

/* After SET_BAUD the device reverts unless a valid frame arrives within this time. */
#ifndef PROV_BAUD_CONFIRM_MS
#define PROV_BAUD_CONFIRM_MS 1500u
#endif

/* A FACTORY_RESET token is valid once, for this long. */
#ifndef PROV_RESET_TOKEN_VALID_MS
#define PROV_RESET_TOKEN_VALID_MS 30000u
#endif

/* RESTART without a delay field. */
#ifndef PROV_RESTART_DELAY_MS_DEFAULT
#define PROV_RESTART_DELAY_MS_DEFAULT 100u
#endif

/* SubjectPublicKeyInfo DER of the largest key (RSA-3072 is 422 bytes). */
#ifndef PROV_PUBKEY_DER_MAX
#define PROV_PUBKEY_DER_MAX 600u
#endif

/* Largest signature a key store returns (RSA-3072: 384; ECDSA P-384 DER: 104). */
#ifndef PROV_SIGNATURE_MAX
#define PROV_SIGNATURE_MAX 512u
#endif

/* Largest CSR DER (RSA-3072 with six 128-byte subject fields stays below this). */
#ifndef PROV_CSR_DER_MAX
#define PROV_CSR_DER_MAX 1900u
#endif

/* Largest subject field value in bytes (X.520 allows 64 characters; UTF-8 needs up to 4 bytes each). */
#ifndef PROV_SUBJECT_FIELD_MAX
#define PROV_SUBJECT_FIELD_MAX 256u
#endif

/* Cached fields of the committed set shown in STATUS (longer values are ERR_TOO_LARGE at WRITE). */
#ifndef PROV_THING_NAME_MAX
#define PROV_THING_NAME_MAX 128u
#endif
#ifndef PROV_ENDPOINT_MAX
#define PROV_ENDPOINT_MAX 253u
#endif
#ifndef PROV_TOPIC_MAX
#define PROV_TOPIC_MAX 256u
#endif


#endif /* PROV_CONFIG_H */
