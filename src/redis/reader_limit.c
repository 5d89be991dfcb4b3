#include "reader_limit.h"

#include <pthread.h>
#include <stddef.h>

/* hiredis' own reply functions, with createArray bounded; made once (the
 * limiter's link may connect from another thread than the queue's). */
static redisReplyObjectFunctions limited;
static void *(*create_array)(const redisReadTask *, int);
static pthread_once_t made = PTHREAD_ONCE_INIT;

static void *bounded_array(const redisReadTask *task, int elements)
{
	if (elements < 0 || elements > REDIS_MAX_ELEMENTS)
		return NULL; /* the reader then fails, out of memory */
	return create_array(task, elements);
}

static void make_limited(void)
{
	redisReader *r = redisReaderCreate(); /* one with hiredis' own functions */
	if (!r || !r->fn)
		return;
	limited = *r->fn;
	create_array = limited.createArray;
	limited.createArray = bounded_array;
	redisReaderFree(r);
}

void redis_limit_reader(redisReader *reader)
{
	pthread_once(&made, make_limited);
	if (reader && create_array)
		reader->fn = &limited;
}
