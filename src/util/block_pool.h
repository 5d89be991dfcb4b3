/*
 * Small blocks for one Lua state, in place of malloc: blocks of up to
 * BLOCK_POOL_MAX bytes are cut from 64 KB slabs in size classes of 16
 * bytes, and a freed block goes on its class's free list for the next.
 * A decoded JSON body is a few dozen tables and strings of 24 to 400
 * bytes; glibc's malloc spent a tenth of a decoded GET on them.
 *
 * The caller always says a block's size (as Lua's allocator is told), so a
 * block has no header. Bigger blocks are malloc's. A pool serves one
 * thread. Its slabs go back to the system only with block_pool_free_all:
 * freed small blocks wait for the next small ones.
 */
#ifndef PULSE_BLOCK_POOL_H
#define PULSE_BLOCK_POOL_H

#include <stddef.h>

#define BLOCK_POOL_MAX 512
#define BLOCK_POOL_CLASSES (BLOCK_POOL_MAX / 16)

struct block_pool {
	void *free[BLOCK_POOL_CLASSES]; /* per class: the freed blocks, each holding the next */
	void *slabs;                    /* the newest slab; each starts with the one before */
	char *unused;                   /* the newest slab's part never handed out */
	size_t unused_len;
};

/*
 * realloc with sizes, as lua_Alloc: ptr is NULL or a block of osize bytes
 * from this pool; nsize 0 frees it and returns NULL. Returns NULL when
 * memory ran out, the block left as it was.
 */
void *block_pool_realloc(struct block_pool *pool, void *ptr, size_t osize, size_t nsize);

/* Gives every slab back: the blocks cut from them must all be unused. */
void block_pool_free_all(struct block_pool *pool);

#endif
