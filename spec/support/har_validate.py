"""Validates HAR files against spec/support/har-1.2.schema.json (Debian's
python3-jsonschema): prints 'valid' or the first error, exits 0 or 1."""
import json
import sys

import jsonschema

schema_path, *paths = sys.argv[1:]
with open(schema_path) as f:
    schema = json.load(f)
jsonschema.Draft7Validator.check_schema(schema)
for path in paths:
    with open(path) as f:
        doc = json.load(f)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        print("%s: %s at %s" % (path, e.message, "/".join(str(p) for p in e.path)))
        sys.exit(1)
print("valid")
