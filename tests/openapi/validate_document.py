"""Loads the served OpenAPI document with openapi-spec-validator (OpenAPI 3.1
rules, every $ref resolved) and checks that operation ids are unique.

Usage: python validate_document.py http://HOST:PORT/openapi.json
"""

import json
import sys
import urllib.request
from collections import Counter

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

url = sys.argv[1]
with urllib.request.urlopen(url) as response:
    document = json.load(response)
validate(document, cls=OpenAPIV31SpecValidator)
ids = Counter(
    operation["operationId"]
    for item in document["paths"].values()
    for operation in item.values()
    if isinstance(operation, dict) and "operationId" in operation
)
duplicated = [name for name, count in ids.items() if count > 1]
if duplicated:
    sys.exit(f"duplicated operation ids: {duplicated}")
print(f"OpenAPI {document['openapi']} document is valid: {sum(ids.values())} operations, unique ids")
