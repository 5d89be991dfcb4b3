#include "lazy_library.h"

#include <dlfcn.h>

int lazy_library_load(const char *soname, const struct lazy_symbol *symbols, size_t count)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return 0;
	for (size_t i = 0; i < count; i++)
		if (!(*symbols[i].slot = dlsym(lib, symbols[i].name)))
			return 0;
	return 1;
}
