#include "block_pool.h"

#include <stdlib.h>
#include <string.h>

#define SLAB_SIZE (64 * 1024)
#define SLAB_HEADER 16 /* the link to the slab before, rounded up to keep blocks 16-aligned */

/* The class of a block of size bytes (1..BLOCK_POOL_MAX), and its size. */
static size_t class_of(size_t size)
{
	return (size - 1) / 16;
}

static size_t class_size(size_t class)
{
	return (class + 1) * 16;
}

static int pooled(size_t size)
{
	return size > 0 && size <= BLOCK_POOL_MAX;
}

static void release(struct block_pool *pool, void *block, size_t size)
{
	if (!pooled(size)) {
		free(block);
		return;
	}
	size_t class = class_of(size);
	*(void **)block = pool->free[class];
	pool->free[class] = block;
}

/* Starts a slab. What the last one has left is a block of its own size. */
static int grow(struct block_pool *pool)
{
	char *slab = malloc(SLAB_SIZE);
	if (!slab)
		return -1;
	if (pool->unused_len > 0)
		release(pool, pool->unused, pool->unused_len);
	*(void **)slab = pool->slabs;
	pool->slabs = slab;
	pool->unused = slab + SLAB_HEADER;
	pool->unused_len = SLAB_SIZE - SLAB_HEADER;
	return 0;
}

static void *take(struct block_pool *pool, size_t size)
{
	if (!pooled(size))
		return malloc(size);
	size_t class = class_of(size);
	void *block = pool->free[class];
	if (block) {
		pool->free[class] = *(void **)block;
		return block;
	}
	size_t need = class_size(class);
	if (pool->unused_len < need && grow(pool) != 0)
		return NULL;
	block = pool->unused;
	pool->unused += need;
	pool->unused_len -= need;
	return block;
}

void *block_pool_realloc(struct block_pool *pool, void *ptr, size_t osize, size_t nsize)
{
	if (ptr == NULL)
		osize = 0; /* Lua passes the kind of object it makes there */
	if (nsize == 0) {
		if (ptr)
			release(pool, ptr, osize);
		return NULL;
	}
	if (ptr && pooled(osize) && pooled(nsize) && class_of(osize) == class_of(nsize))
		return ptr;
	if (ptr && !pooled(osize) && !pooled(nsize))
		return realloc(ptr, nsize);
	void *block = take(pool, nsize);
	if (block && ptr) {
		memcpy(block, ptr, osize < nsize ? osize : nsize);
		release(pool, ptr, osize);
	}
	return block;
}

void block_pool_free_all(struct block_pool *pool)
{
	while (pool->slabs) {
		void *before = *(void **)pool->slabs;
		free(pool->slabs);
		pool->slabs = before;
	}
	memset(pool, 0, sizeof *pool);
}
