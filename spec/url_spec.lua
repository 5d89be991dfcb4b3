local url = require("pulse.url")

describe("pulse.url", function()
	it("joins base and path with exactly one slash", function()
		assert.are.equal("http://h/v1/services", url.join("http://h/v1", "/services"))
		assert.are.equal("http://h/v1/services", url.join("http://h/v1/", "/services"))
		assert.are.equal("http://h/v1/services", url.join("http://h/v1//", "services"))
		assert.are.equal("http://h/services/12", url.join("http://h", "services/12"))
		assert.are.equal("http://h?x=1", url.join("http://h", "?x=1"))
	end)

	it("escapes what cannot stand in a URL and leaves the rest of the path alone", function()
		assert.are.equal("http://h/a%20b/%C3%A9/c%3Fd", url.join("http://h", "/a b/é/c%3Fd"))
	end)

	it("encodes queries: sorted keys, percent-escapes, arrays repeated, booleans as words", function()
		local q = assert(url.encode_query({
			z = "last",
			name = "Ada Lovelace & co/=?",
			ids = { 1, 2, 3 },
			active = true,
			off = false,
			page = 2,
			ratio = 0.5,
			whole = 3.0,
		}))
		assert.are.equal(
			"active=true&ids=1&ids=2&ids=3&name=Ada%20Lovelace%20%26%20co%2F%3D%3F&off=false&page=2&ratio=0.5&whole=3&z=last",
			q
		)
	end)

	it("escapes keys too, and unicode as UTF-8 bytes", function()
		assert.are.equal("a%20b=%C3%A9", url.encode_query({ ["a b"] = "é" }))
	end)

	it("refuses values it cannot encode, naming the key", function()
		assert.are.equal("x=1", url.encode_query({ when = {}, x = 1 }), "an empty array adds nothing")
		local q, err = url.encode_query({ f = print })
		assert.is_nil(q)
		assert.truthy(err:find("'f'"), err)
		q, err = url.encode_query({ t = { a = 1 } })
		assert.is_nil(q)
		assert.truthy(err:find("not an array"), err)
		q, err = url.encode_query({ n = 0 / 0 })
		assert.is_nil(q)
		assert.truthy(err:find("finite"), err)
		q, err = url.encode_query({ [1] = "x" })
		assert.is_nil(q)
		assert.truthy(err:find("keys must be strings"), err)
	end)

	it("takes the origin of http and https URLs only, without credentials", function()
		assert.are.equal("https://api.example.com:8443", url.origin("HTTPS://API.example.com:8443/v1"))
		assert.is_nil(url.origin("ftp://example.com"))
		assert.is_nil(url.origin("example.com"))
		assert.is_nil(url.origin("http://user:pw@example.com/"))
	end)
end)
