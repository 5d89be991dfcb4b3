/*
 * The Lua modules compiled into a program (pulse-lua has all of lua/,
 * pulse-sandbox only its own), and how require finds them.
 */
#ifndef PULSE_MODULES_H
#define PULSE_MODULES_H

#include <stddef.h>

struct embedded_module {
	const char *name;      /* "pulse.url" */
	const char *chunkname; /* "@lua/pulse/url.lua", for tracebacks */
	const char *source;
	size_t len;
};

/* Generated from lua/ by tools/embed.lua; ends with a NULL name. */
extern const struct embedded_module embedded_modules[];

struct lua_State;

/*
 * Makes require find the embedded modules. They come before package.path,
 * unless LUA_PATH or LUA_PATH_5_4 is set: then a developer's own tree
 * wins, so it runs without a rebuild.
 */
void modules_install(struct lua_State *L);

/* source(chunkname) -> the embedded module's text, or nil: what help(f)
 * at the prompt reads a function's doc comment from. */
int modules_source(struct lua_State *L);

#endif
