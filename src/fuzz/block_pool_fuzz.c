/*
 * libFuzzer target: the block pool (core/block_pool.c) that holds the
 * runner's Lua memory, driven as Lua drives it. Each 3 bytes of input are
 * one call on one of 64 slots: allocate, grow or shrink, or free, to a size
 * of 1 to 1024 bytes (both sides of BLOCK_POOL_MAX). Every live block is
 * filled with its own byte, and checked before each change and at the
 * end: two blocks that overlap, or a copy that lost bytes, abort.
 * AddressSanitizer sees every write outside a slab or a malloc block.
 */
#include "util/block_pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64

struct slot {
	unsigned char *block;
	size_t size;
	unsigned char fill;
};

static void check(const struct slot *s)
{
	for (size_t i = 0; i < s->size; i++)
		if (s->block[i] != s->fill)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct block_pool pool = {0};
	struct slot slots[SLOTS] = {{0}};
	for (size_t at = 0; at + 3 <= size; at += 3) {
		struct slot *s = &slots[data[at] % SLOTS];
		size_t nsize = ((size_t)(data[at + 1] & 3) << 8 | data[at + 2]) + 1; /* 1..1024 */
		int frees = (data[at] & 0xc0) == 0xc0; /* a quarter of the calls */
		if (s->block)
			check(s);
		if (frees) {
			/* Lua tells the kind of a new object in osize: any value. */
			if (block_pool_realloc(&pool, s->block, s->block ? s->size : data[at + 1], 0) != NULL)
				abort();
			s->block = NULL;
			s->size = 0;
			continue;
		}
		unsigned char *block =
		    block_pool_realloc(&pool, s->block, s->block ? s->size : data[at + 2], nsize);
		if (!block)
			abort(); /* the fuzzer's memory is ample */
		size_t kept = s->size < nsize ? s->size : nsize;
		for (size_t i = 0; i < kept; i++)
			if (block[i] != s->fill)
				abort();
		s->block = block;
		s->size = nsize;
		s->fill = (unsigned char)(at / 3 + 1);
		memset(block, s->fill, nsize);
	}
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].block) {
			check(&slots[i]);
			block_pool_realloc(&pool, slots[i].block, slots[i].size, 0);
		}
	}
	block_pool_free_all(&pool);
	return 0;
}
