/*
 * The values of pulse-sandbox's options, read and checked: by the
 * pulse-sandbox program and by pulse-lua's --sandbox-* options, which are
 * spelled the same. Each returns 0, or -1 with why (static text) set.
 */
#ifndef PULSE_SANDBOX_OPTIONS_H
#define PULSE_SANDBOX_OPTIONS_H

struct sandbox_config;

/* LIMIT/WINDOW/BURST: LIMIT and BURST whole numbers from 1 to below 1e9,
 * WINDOW 1 s to a day: the bounds within which the client believes the
 * headers the sandbox sends. */
int sandbox_parse_rate_limit(const char *text, struct sandbox_config *c, const char **why);

/* 0..65535 */
int sandbox_parse_port(const char *text, int *port, const char **why);

/* A whole number (of either sign). */
int sandbox_parse_seed(const char *text, long *seed, const char **why);

/* Seconds, for the idle and request timeouts: 0.1 to a day. */
int sandbox_parse_seconds(const char *text, double *seconds, const char **why);

/* A positive whole number below 1e6, for --max-connections. */
int sandbox_parse_count(const char *text, int *count, const char **why);

/* MIN:MAX seconds, for --webhook-backoff: 0.01 to a day, MIN at most MAX. */
int sandbox_parse_backoff(const char *text, double *min, double *max, const char **why);

#endif
