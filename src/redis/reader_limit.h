/* A bound on what a Redis reply may make hiredis allocate. hiredis 0.14
 * allocates an array's element pointers as soon as it reads its header:
 * a peer (or garbage) on the port that sends "*1111111111" would have it
 * ask for 8.9 GB at once. */
#ifndef PULSE_REDIS_READER_LIMIT_H
#define PULSE_REDIS_READER_LIMIT_H

#include <hiredis.h>

/* Arrays of more elements than this are refused (the reader fails, out
 * of memory, and the connection with it). */
#define REDIS_MAX_ELEMENTS (1 << 20)

/* Makes reader refuse such arrays; its other replies are made as before. */
void redis_limit_reader(redisReader *reader);

#endif
