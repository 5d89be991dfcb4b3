/*
 * pulse-lua's interactive mode, as lua.c has it: lines read (with
 * readline when built with it), "=expr" and bare expressions printed,
 * incomplete statements continued on the next line.
 */
#include "repl.h"
#include "calls.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PULSE_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT "> "
#define PROMPT_MORE ">> "
#define REPL_MAX_LINE 512

static int readline_line(char *buffer, const char *prompt, char **line)
{
#ifdef PULSE_USE_READLINE
	(void)buffer;
	*line = readline(prompt);
	return *line != NULL;
#else
	fputs(prompt, stdout);
	fflush(stdout);
	*line = fgets(buffer, REPL_MAX_LINE, stdin);
	return *line != NULL;
#endif
}

static void free_line(char *line)
{
#ifdef PULSE_USE_READLINE
	free(line);
#else
	(void)line;
#endif
}

static void save_line(const char *line)
{
#ifdef PULSE_USE_READLINE
	if (line[0] != '\0')
		add_history(line);
#else
	(void)line;
#endif
}

static int pushline(lua_State *L, int firstline)
{
	char buffer[REPL_MAX_LINE];
	char *b;
	if (!readline_line(buffer, firstline ? PROMPT : PROMPT_MORE, &b))
		return 0;
	size_t l = strlen(b);
	if (l > 0 && b[l - 1] == '\n')
		l--;
	if (firstline && b[0] == '=')
		lua_pushfstring(L, "return %s", b + 1);
	else
		lua_pushlstring(L, b, l);
	free_line(b);
	return 1;
}

static int addreturn(lua_State *L)
{
	const char *line = lua_tostring(L, -1);
	const char *retline = lua_pushfstring(L, "return %s;", line);
	int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
	if (status == LUA_OK) {
		lua_remove(L, -2);
		save_line(line);
	} else {
		lua_pop(L, 2);
	}
	return status;
}

static int incomplete(lua_State *L, int status)
{
	static const char eof[] = "<eof>";
	if (status == LUA_ERRSYNTAX) {
		size_t lmsg;
		const char *msg = lua_tolstring(L, -1, &lmsg);
		if (lmsg >= sizeof eof - 1 && strcmp(msg + lmsg - (sizeof eof - 1), eof) == 0) {
			lua_pop(L, 1);
			return 1;
		}
	}
	return 0;
}

static int multiline(lua_State *L)
{
	for (;;) {
		size_t len;
		const char *line = lua_tolstring(L, 1, &len);
		int status = luaL_loadbuffer(L, line, len, "=stdin");
		if (!incomplete(L, status) || !pushline(L, 0)) {
			save_line(line);
			return status;
		}
		lua_pushliteral(L, "\n");
		lua_insert(L, -2);
		lua_concat(L, 3);
	}
}

static int loadline(lua_State *L)
{
	lua_settop(L, 0);
	if (!pushline(L, 1))
		return -1;
	int status = addreturn(L);
	if (status != LUA_OK)
		status = multiline(L);
	lua_remove(L, 1);
	return status;
}

static void l_print(lua_State *L)
{
	int n = lua_gettop(L);
	if (n > 0) {
		luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
		lua_getglobal(L, "print");
		lua_insert(L, 1);
		if (lua_pcall(L, n, 0, 0) != LUA_OK)
			l_message(progname,
			          lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
	}
}

void doREPL(lua_State *L)
{
	int status;
	const char *oldprogname = progname;
	progname = NULL;
	while ((status = loadline(L)) != -1) {
		if (status == LUA_OK)
			status = docall(L, 0, LUA_MULTRET);
		if (status == LUA_OK)
			l_print(L);
		else
			report(L, status);
	}
	lua_settop(L, 0);
	fputs("\n", stdout);
	fflush(stdout);
	progname = oldprogname;
}
