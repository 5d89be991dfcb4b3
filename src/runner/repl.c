/*
 * pulse-lua's interactive mode, as lua.c has it: lines read (with
 * readline on a terminal, when built with it), "=expr" and bare
 * expressions shown, incomplete statements continued on the next line.
 * What a value looks like, what Tab completes and which lines the
 * history keeps are pulse.repl's choices (lua/pulse/repl.lua); this file
 * reads, runs and keeps the history file.
 */
#include "repl.h"
#include "calls.h"
#include "interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef PULSE_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT "> "
#define PROMPT_MORE ">> "
#define REPL_MAX_LINE 512
#define HISTORY_LINES 1000

/*
 * The prompt running: its state, pulse.repl (a registry reference) and
 * the history file. Readline's callbacks take no argument of ours, so
 * the one prompt of the process is reached through this.
 */
static struct prompt {
	lua_State *L;
	int module;      /* LUA_NOREF when pulse.repl could not be loaded */
	int line_editor; /* readline on a terminal */
	char *history;   /* the history file, or NULL */
	int matches;     /* the last completion's table, a registry reference */
} prompt = {NULL, LUA_NOREF, 0, NULL, LUA_NOREF};

/* Calls pulse.repl[name] with the nargs values on the stack, protected;
 * leaves nres results, or returns 0 with nothing left. */
static int call_module(lua_State *L, const char *name, int nargs, int nres)
{
	if (prompt.module == LUA_NOREF) {
		lua_pop(L, nargs);
		return 0;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, prompt.module);
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
	lua_insert(L, -(nargs + 1));
	if (lua_pcall(L, nargs, nres, 0) != LUA_OK) {
		l_message("pulse.repl", lua_tostring(L, -1));
		lua_pop(L, 1);
		return 0;
	}
	return 1;
}

#ifdef PULSE_USE_READLINE
static char *next_match(const char *text, int state)
{
	static lua_Integer index;
	(void)text;
	if (state == 0)
		index = 0;
	lua_State *L = prompt.L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, prompt.matches);
	lua_rawgeti(L, -1, ++index);
	const char *match = lua_tostring(L, -1);
	char *copy = match ? strdup(match) : NULL;
	lua_pop(L, 2);
	return copy;
}

/* Tab: pulse.repl.complete(the word before the cursor), never file
 * names. */
static char **complete(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;
	rl_completion_append_character = '\0'; /* readline resets it each time */
	lua_State *L = prompt.L;
	lua_pushstring(L, text);
	if (!call_module(L, "complete", 1, 1))
		return NULL;
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	luaL_unref(L, LUA_REGISTRYINDEX, prompt.matches);
	prompt.matches = luaL_ref(L, LUA_REGISTRYINDEX);
	return rl_completion_matches(text, next_match);
}

/* The history file, its directory made (mode 0700, the file 0600: the
 * lines are the user's), and read. */
static void history_open(const char *path)
{
	char *dir = strdup(path);
	if (dir == NULL)
		return;
	for (char *slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			break;
		*slash = '/';
	}
	free(dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	close(fd);
	prompt.history = strdup(path);
	stifle_history(HISTORY_LINES);
	read_history(path);
	history_truncate_file(path, HISTORY_LINES);
}
#endif

/* Readline on a terminal; plain lines otherwise, as they come. */
static int read_one_line(char *buffer, const char *prompt_text, char **line)
{
#ifdef PULSE_USE_READLINE
	if (prompt.line_editor) {
		*line = readline(prompt_text);
		return *line != NULL;
	}
#endif
	fputs(prompt_text, stdout);
	fflush(stdout);
	*line = fgets(buffer, REPL_MAX_LINE, stdin);
	return *line != NULL;
}

static void free_line(char *line, const char *buffer)
{
	if (line != buffer)
		free(line);
}

/* Adds line to the history (and its file), unless pulse.repl.keep says
 * it holds a key. */
static void save_line(lua_State *L, const char *line)
{
#ifdef PULSE_USE_READLINE
	if (!prompt.line_editor || line[0] == '\0')
		return;
	lua_pushstring(L, line);
	if (!call_module(L, "keep", 1, 1))
		return;
	int keep = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (!keep)
		return;
	add_history(line);
	if (prompt.history)
		append_history(1, prompt.history);
#else
	(void)L;
	(void)line;
#endif
}

static int pushline(lua_State *L, int firstline)
{
	char buffer[REPL_MAX_LINE];
	char *b;
	if (!read_one_line(buffer, firstline ? PROMPT : PROMPT_MORE, &b))
		return 0;
	size_t l = strlen(b);
	if (l > 0 && b[l - 1] == '\n')
		l--;
	if (firstline && b[0] == '=')
		lua_pushfstring(L, "return %s", b + 1);
	else
		lua_pushlstring(L, b, l);
	free_line(b, buffer);
	return 1;
}

static int addreturn(lua_State *L)
{
	const char *line = lua_tostring(L, -1);
	const char *retline = lua_pushfstring(L, "return %s;", line);
	int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
	if (status == LUA_OK) {
		lua_remove(L, -2);
		save_line(L, line);
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
			save_line(L, line);
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

/* The values a line returned, as pulse.repl.show has them; with print
 * when it cannot. */
static void l_print(lua_State *L)
{
	int n = lua_gettop(L);
	if (n == 0)
		return;
	luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
	if (call_module(L, "show", n, 1)) {
		puts(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
		fflush(stdout);
		lua_pop(L, 1);
		return;
	}
	n = lua_gettop(L);
	lua_getglobal(L, "print");
	lua_insert(L, 1);
	if (lua_pcall(L, n, 0, 0) != LUA_OK)
		l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
}

/* pulse.repl: the prompt's globals set (its line says which), the
 * history read, Tab bound. */
static void prompt_open(lua_State *L)
{
	prompt.L = L;
	prompt.line_editor = isatty(0);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "pulse.repl");
	if (docall(L, 1, 1) != LUA_OK) {
		report(L, LUA_ERRRUN);
		return;
	}
	prompt.module = luaL_ref(L, LUA_REGISTRYINDEX);
	if (call_module(L, "start", 0, 1)) {
		if (lua_isstring(L, -1))
			fprintf(stderr, "%s\n", lua_tostring(L, -1));
		lua_pop(L, 1);
	}
#ifdef PULSE_USE_READLINE
	if (!prompt.line_editor)
		return;
	rl_readline_name = "pulse-lua";
	rl_attempted_completion_function = complete;
	rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
	if (call_module(L, "history_path", 0, 1)) {
		if (lua_isstring(L, -1))
			history_open(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
#endif
}

static void prompt_close(lua_State *L)
{
	luaL_unref(L, LUA_REGISTRYINDEX, prompt.module);
	luaL_unref(L, LUA_REGISTRYINDEX, prompt.matches);
	prompt.module = prompt.matches = LUA_NOREF;
	free(prompt.history);
	prompt.history = NULL;
}

void doREPL(lua_State *L)
{
	int status;
	const char *oldprogname = progname;
	progname = NULL;
	prompt_open(L);
	while ((status = loadline(L)) != -1) {
		if (status == LUA_OK)
			status = docall(L, 0, LUA_MULTRET);
		if (status == LUA_OK)
			l_print(L);
		else
			report(L, status);
		interrupt_forget();
	}
	lua_settop(L, 0);
	prompt_close(L);
	fputs("\n", stdout);
	fflush(stdout);
	progname = oldprogname;
}
