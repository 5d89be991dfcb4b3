// A thin Lua binding of Debian's rapidjson-dev, for bench/json.lua to set
// pulse.json beside: decode straight into Lua tables from rapidjson's SAX
// reader (default flags, as a binding's user gets them), and encode a Lua
// value with its Writer (Grisu2 for doubles). null is a light userdata
// NULL, as lua-cjson's; a table with a [1] is an array.
//   require("rapidjson_bench").decode(text), .encode(value)

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <vector>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

namespace
{

// Builds the Lua value as the reader goes: each container's table is on
// the stack with, for an object, the key waiting under the value.
struct Builder : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
	lua_State *L;
	std::vector<lua_Integer> next; // per open container: the array's next index, or 0 for an object

	explicit Builder(lua_State *state) : L(state)
	{
	}

	bool add()
	{
		if (next.empty())
			return true; // the document's value: left on the stack
		if (next.back() > 0)
			lua_rawseti(L, -2, next.back()++);
		else
			lua_rawset(L, -3);
		return true;
	}
	bool Null()
	{
		lua_pushlightuserdata(L, nullptr);
		return add();
	}
	bool Bool(bool b)
	{
		lua_pushboolean(L, b);
		return add();
	}
	bool integer(lua_Integer i)
	{
		lua_pushinteger(L, i);
		return add();
	}
	bool number(lua_Number d)
	{
		lua_pushnumber(L, d);
		return add();
	}
	bool Int(int i)
	{
		return integer(i);
	}
	bool Uint(unsigned u)
	{
		return integer(u);
	}
	bool Int64(int64_t i)
	{
		return integer(i);
	}
	bool Uint64(uint64_t u)
	{
		return u > (uint64_t)LUA_MAXINTEGER ? number((lua_Number)u) : integer((lua_Integer)u);
	}
	bool Double(double d)
	{
		return number(d);
	}
	bool String(const char *s, rapidjson::SizeType len, bool)
	{
		lua_pushlstring(L, s, len);
		return add();
	}
	bool Key(const char *s, rapidjson::SizeType len, bool)
	{
		luaL_checkstack(L, 2, "nesting");
		lua_pushlstring(L, s, len);
		return true;
	}
	// A container opens: its table, and where its next item goes (an
	// array's index 1, or 0 for an object's key).
	bool open(lua_Integer first)
	{
		luaL_checkstack(L, 3, "nesting");
		lua_createtable(L, 0, 0);
		next.push_back(first);
		return true;
	}
	bool close()
	{
		next.pop_back();
		return add();
	}
	bool StartObject()
	{
		return open(0);
	}
	bool EndObject(rapidjson::SizeType)
	{
		return close();
	}
	bool StartArray()
	{
		return open(1);
	}
	bool EndArray(rapidjson::SizeType)
	{
		return close();
	}
};

int decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	Builder builder(L);
	rapidjson::Reader reader;
	rapidjson::MemoryStream stream(text, len);
	if (reader.Parse(stream, builder).IsError())
		return luaL_error(L, "rapidjson: cannot parse at offset %d", (int)reader.GetErrorOffset());
	return 1;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_value(lua_State *L, int index, Writer &w, int depth)
{
	if (depth > 100)
		luaL_error(L, "rapidjson: nested too deep");
	switch (lua_type(L, index)) {
	case LUA_TNIL:
	case LUA_TLIGHTUSERDATA:
		w.Null();
		break;
	case LUA_TBOOLEAN:
		w.Bool(lua_toboolean(L, index));
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, index))
			w.Int64(lua_tointeger(L, index));
		else
			w.Double(lua_tonumber(L, index));
		break;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, index, &len);
		w.String(s, (rapidjson::SizeType)len);
		break;
	}
	case LUA_TTABLE: {
		luaL_checkstack(L, 3, "nesting");
		lua_Integer n = (lua_Integer)lua_rawlen(L, index);
		if (n > 0) {
			w.StartArray();
			for (lua_Integer i = 1; i <= n; i++) {
				lua_rawgeti(L, index, i);
				write_value(L, lua_gettop(L), w, depth + 1);
				lua_pop(L, 1);
			}
			w.EndArray();
		} else {
			w.StartObject();
			lua_pushnil(L);
			while (lua_next(L, index)) {
				size_t len;
				lua_pushvalue(L, -2);
				const char *key = lua_tolstring(L, -1, &len);
				w.Key(key, (rapidjson::SizeType)len);
				lua_pop(L, 1);
				write_value(L, lua_gettop(L), w, depth + 1);
				lua_pop(L, 1);
			}
			w.EndObject();
		}
		break;
	}
	default:
		luaL_error(L, "rapidjson: cannot encode a %s", luaL_typename(L, index));
	}
}

int encode(lua_State *L)
{
	luaL_checkany(L, 1);
	rapidjson::StringBuffer buffer;
	Writer w(buffer);
	write_value(L, 1, w, 0);
	lua_pushlstring(L, buffer.GetString(), buffer.GetSize());
	return 1;
}

} // namespace

extern "C" int luaopen_rapidjson_bench(lua_State *L)
{
	static const luaL_Reg functions[] = {{"decode", decode}, {"encode", encode}, {nullptr, nullptr}};
	luaL_newlib(L, functions);
	return 1;
}
