// A thin Lua binding of Debian's libsimdjson-dev, for bench/json.lua to
// set pulse.json beside: decode (simdjson cannot encode) with its DOM
// parser (one parser reused, the text copied to padding as it needs),
// then a walk of the document into Lua tables. null is a light userdata
// NULL, as lua-cjson's.
//   require("simdjson_bench").decode(text)

#include <simdjson.h>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

namespace
{

simdjson::dom::parser parser;

void push(lua_State *L, simdjson::dom::element e)
{
	luaL_checkstack(L, 3, "nesting");
	switch (e.type()) {
	case simdjson::dom::element_type::ARRAY: {
		simdjson::dom::array array = e.get_array().value_unsafe();
		lua_createtable(L, (int)array.size(), 0);
		lua_Integer i = 1;
		for (simdjson::dom::element item : array) {
			push(L, item);
			lua_rawseti(L, -2, i++);
		}
		break;
	}
	case simdjson::dom::element_type::OBJECT: {
		simdjson::dom::object object = e.get_object().value_unsafe();
		lua_createtable(L, 0, (int)object.size());
		for (simdjson::dom::key_value_pair field : object) {
			lua_pushlstring(L, field.key.data(), field.key.size());
			push(L, field.value);
			lua_rawset(L, -3);
		}
		break;
	}
	case simdjson::dom::element_type::INT64:
		lua_pushinteger(L, e.get_int64().value_unsafe());
		break;
	case simdjson::dom::element_type::UINT64:
		lua_pushnumber(L, (lua_Number)e.get_uint64().value_unsafe());
		break;
	case simdjson::dom::element_type::DOUBLE:
		lua_pushnumber(L, e.get_double().value_unsafe());
		break;
	case simdjson::dom::element_type::STRING: {
		std::string_view s = e.get_string().value_unsafe();
		lua_pushlstring(L, s.data(), s.size());
		break;
	}
	case simdjson::dom::element_type::BOOL:
		lua_pushboolean(L, e.get_bool().value_unsafe());
		break;
	default:
		lua_pushlightuserdata(L, nullptr);
	}
}

int decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	simdjson::dom::element doc;
	simdjson::error_code error = parser.parse(text, len, true).get(doc);
	if (error)
		return luaL_error(L, "simdjson: %s", simdjson::error_message(error));
	push(L, doc);
	return 1;
}

} // namespace

extern "C" int luaopen_simdjson_bench(lua_State *L)
{
	static const luaL_Reg functions[] = {{"decode", decode}, {nullptr, nullptr}};
	luaL_newlib(L, functions);
	return 1;
}
